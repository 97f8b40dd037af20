#include "findings/plots.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "common/error.h"

namespace vyolo::findings {

namespace {

using plot::centered_text;
using plot::fixed;
using plot::kBlack;
using plot::kWhite;
using plot::text;

const int W = 640, H = 540, L = 80, R = 30, T = 50, B = 70;  // canvas and plot-area margins
const plot::Axes kAxes{cv::Rect(L, T, W - L - R, H - T - B)};
const cv::Scalar kGrey(200, 200, 200);
const cv::Scalar kColors[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44}, {40, 39, 214}, {189, 103, 148}};

}  // namespace

cv::Mat line_plot(const std::string& title, const std::string& x_label, const std::string& y_label,
                  const std::vector<Series>& series, bool diagonal,
                  const std::vector<std::pair<double, std::string>>& x_ticks) {
  cv::Mat img(H, W, CV_8UC3, kWhite);
  std::vector<std::pair<double, std::string>> xt = x_ticks;
  if (xt.empty())
    for (int i = 0; i <= 5; ++i) xt.push_back({i / 5.0, fixed(i / 5.0, 1)});
  for (const auto& [x, s] : xt) {
    cv::line(img, kAxes.at(x, 0), kAxes.at(x, 1), kGrey, 1);
    centered_text(img, s, kAxes.at(x, 0) + cv::Point(0, 16), 0.4);
  }
  for (int i = 0; i <= 5; ++i) {
    double y = i / 5.0;
    cv::line(img, kAxes.at(0, y), kAxes.at(1, y), kGrey, 1);
    text(img, fixed(y, 1), kAxes.at(0, y) + cv::Point(-34, 5), 0.4);
  }
  cv::rectangle(img, kAxes.at(0, 1), kAxes.at(1, 0), kBlack, 1);
  if (diagonal) cv::line(img, kAxes.at(0, 0), kAxes.at(1, 1), kGrey, 1, cv::LINE_AA);
  centered_text(img, title, {W / 2, T / 2}, 0.6, 1);
  centered_text(img, x_label, {L + (W - L - R) / 2, H - 25}, 0.5);
  {  // y label: a strip sized to the text, turned and centred on the axis
    int base = 0;
    const cv::Size sz = cv::getTextSize(y_label, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &base);
    const cv::Mat rot = plot::vertical_text(y_label, {sz.width + 6, sz.height + base + 6}, {3, sz.height + 2}, 0.5,
                                            CV_8UC3);
    plot::paste(img, rot, {8, std::max(0, T + (H - T - B) / 2 - rot.rows / 2)});
  }
  int legend_y = T + 18;
  for (size_t s = 0; s < series.size(); ++s) {
    const auto& sr = series[s];
    const cv::Scalar& c = kColors[s % 5];
    const std::vector<cv::Point> pts = plot::curve_points(kAxes, sr.x, sr.y, sr.step);
    plot::draw_curve(img, pts, c, 2);
    if (pts.size() == 1) cv::circle(img, pts[0], 3, c, cv::FILLED, cv::LINE_AA);
  }
  for (size_t s = 0; s < series.size(); ++s) {  // legends after all curves, so no curve crosses them
    const auto& sr = series[s];
    const cv::Scalar& c = kColors[s % 5];
    if (!sr.name.empty()) {  // legend at the top right, on white so curves do not hide it
      int base = 0;
      cv::Size sz = cv::getTextSize(sr.name, cv::FONT_HERSHEY_SIMPLEX, 0.42, 1, &base);
      int x0 = W - R - 10 - sz.width - 26;
      cv::rectangle(img, {x0 - 4, legend_y - sz.height - 5}, {W - R - 4, legend_y + 5}, kWhite, cv::FILLED);
      cv::line(img, {x0, legend_y - 4}, {x0 + 20, legend_y - 4}, c, 2);
      text(img, sr.name, {x0 + 26, legend_y}, 0.42);
      legend_y += 18;
    }
  }
  return img;
}

cv::Mat roc_plot(const RocCurve& roc, double auc, const std::string& title) {
  Series s{"AUC = " + fixed(auc, 3), roc.fpr, roc.tpr, Step::None};
  return line_plot(title, "false positive rate (1 - specificity)", "true positive rate (sensitivity)", {s}, true);
}

cv::Mat pr_plot(const PrCurve& pr, double ap, const std::string& title) {
  Series s{"AP = " + fixed(ap, 3), {}, {}, Step::Pre};
  if (!pr.recall.empty()) {
    s.x.push_back(0);
    s.y.push_back(pr.precision.front());
  }
  s.x.insert(s.x.end(), pr.recall.begin(), pr.recall.end());
  s.y.insert(s.y.end(), pr.precision.begin(), pr.precision.end());
  return line_plot(title, "recall (sensitivity)", "precision", {s});
}

cv::Mat f1_threshold_plot(const std::vector<double>& scores, const std::vector<int>& labels,
                          const std::string& title) {
  Series f1{"F1", {}, {}, Step::None}, p{"precision", {}, {}, Step::None}, r{"recall", {}, {}, Step::None};
  for (int i = 0; i <= 100; ++i) {
    double t = i / 100.0;
    BinaryMetrics m = metrics_at(scores, labels, t);
    f1.x.push_back(t), f1.y.push_back(m.f1);
    p.x.push_back(t), p.y.push_back(m.precision);
    r.x.push_back(t), r.y.push_back(m.recall);
  }
  BinaryMetrics best = best_f1_point(scores, labels);
  f1.name = "F1 (best " + fixed(best.f1, 3) + " at " + fixed(best.threshold, 3) + ")";
  return line_plot(title, "confidence threshold", "value", {f1, p, r});
}

cv::Mat reliability_plot(const std::vector<ReliabilityBin>& bins, const std::string& title) {
  Series s{"observed (bins with cases)", {}, {}, Step::None};
  for (const auto& b : bins)
    if (b.n > 0) s.x.push_back(b.mean_probability), s.y.push_back(b.fraction_positive);
  return line_plot(title, "mean predicted probability", "fraction fractured", {s}, true);
}

cv::Mat confusion_plot(const Confusion& cm, double threshold, const std::string& title) {
  const int S = 420, M = 110;
  cv::Mat img(S + M + 40, S + M + 20, CV_8UC3, kWhite);
  const int64_t cells[2][2] = {{cm.tn, cm.fp}, {cm.fn, cm.tp}};  // rows: truth negative/positive
  const double row_sum[2] = {double(cm.tn + cm.fp), double(cm.fn + cm.tp)};
  const int cell = S / 2;
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 2; ++c) {
      double frac = row_sum[r] > 0 ? cells[r][c] / row_sum[r] : 0.0;
      int shade = int(255 - 200 * frac);
      cv::Rect rect(M + c * cell, 50 + r * cell, cell, cell);
      cv::rectangle(img, rect, cv::Scalar(255, shade, shade), cv::FILLED);
      cv::rectangle(img, rect, kBlack, 1);
      cv::Point ctr(rect.x + cell / 2, rect.y + cell / 2);
      centered_text(img, std::to_string(cells[r][c]), ctr - cv::Point(0, 12), 0.9, 2);
      centered_text(img, "(" + fixed(frac, 2) + " of row)", ctr + cv::Point(0, 22), 0.45);
    }
  centered_text(img, title + " @ " + fixed(threshold, 3), {img.cols / 2, 22}, 0.55);
  centered_text(img, "predicted negative", {M + cell / 2, 50 + S + 20}, 0.45);
  centered_text(img, "predicted positive", {M + cell + cell / 2, 50 + S + 20}, 0.45);
  text(img, "true neg.", {8, 50 + cell / 2 + 5}, 0.45);
  text(img, "true pos.", {8, 50 + cell + cell / 2 + 5}, 0.45);
  return img;
}

cv::Mat froc_plot(const FrocResult& froc, const std::string& title) {
  // x = log2(FP per volume) from 1/8 to 8 mapped onto [0, 1].
  auto xmap = [](double f) { return f <= 0 ? 0.0 : (std::log2(f) + 3.0) / 6.0; };
  Series curve{"FROC (mean sens. " + fixed(froc.mean_sensitivity, 3) + ")", {}, {}, Step::Post};
  for (size_t i = 0; i < froc.curve_fppv.size(); ++i) {
    curve.x.push_back(xmap(froc.curve_fppv[i]));
    curve.y.push_back(froc.curve_sens[i]);
  }
  std::vector<std::pair<double, std::string>> ticks;
  for (double r : {0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0})
    ticks.push_back({xmap(r), r < 1 ? "1/" + std::to_string(int(std::lround(1 / r))) : std::to_string(int(r))});
  cv::Mat img = line_plot(title, "false positives per volume", "sensitivity", {curve}, false, ticks);
  for (size_t i = 0; i < froc.fp_rates.size(); ++i)
    if (!std::isnan(froc.sensitivities[i]))
      cv::circle(img, kAxes.at(xmap(froc.fp_rates[i]), froc.sensitivities[i]), 4, kColors[3], cv::FILLED, cv::LINE_AA);
  return img;
}

cv::Mat overlay_montage(const std::vector<MontageTile>& tiles, int cols, int tile_size) {
  cols = std::max(1, std::min(cols, std::max(1, int(tiles.size()))));
  const int rows = std::max(1, (int(tiles.size()) + cols - 1) / cols);
  const int cap = 22;
  cv::Mat out(rows * (tile_size + cap), cols * tile_size, CV_8UC3, cv::Scalar(32, 32, 32));
  for (size_t t = 0; t < tiles.size(); ++t) {
    const auto& tile = tiles[t];
    if (tile.image.empty()) continue;
    cv::Mat bgr;
    if (tile.image.channels() == 1) {
      cv::Mat g8;
      if (tile.image.depth() != CV_8U) cv::normalize(tile.image, g8, 0, 255, cv::NORM_MINMAX, CV_8U);
      else g8 = tile.image;
      cv::cvtColor(g8, bgr, cv::COLOR_GRAY2BGR);
    } else if (tile.image.depth() == CV_8U) {
      bgr = tile.image;
    } else {
      throw UsageError("overlay_montage: tile images must be 8-bit (or single-channel)");
    }
    double s = double(tile_size) / std::max(bgr.cols, bgr.rows);
    cv::Mat scaled;
    cv::resize(bgr, scaled, cv::Size(std::max(1, int(bgr.cols * s)), std::max(1, int(bgr.rows * s))), 0, 0,
               cv::INTER_AREA);
    for (size_t b = 0; b < tile.boxes.size(); ++b) {
      const auto& bx = tile.boxes[b];
      cv::Point p1(int(std::lround(bx.x1 * s)), int(std::lround(bx.y1 * s)));
      cv::Point p2(int(std::lround(bx.x2 * s)), int(std::lround(bx.y2 * s)));
      cv::rectangle(scaled, p1, p2, cv::Scalar(0, 0, 255), 1, cv::LINE_AA);
      std::string lab = b < tile.box_labels.size() ? tile.box_labels[b] : fixed(bx.score, 2);
      text(scaled, lab, {p1.x, std::max(10, p1.y - 3)}, 0.35, 1, cv::Scalar(0, 0, 255));
    }
    int r = int(t) / cols, c = int(t) % cols;
    scaled.copyTo(out(cv::Rect(c * tile_size, r * (tile_size + cap), scaled.cols, scaled.rows)));
    text(out, tile.caption, {c * tile_size + 4, r * (tile_size + cap) + tile_size + 15}, 0.4, 1, kWhite);
  }
  return out;
}

std::vector<std::pair<int, int>> montage_slices(const std::vector<Candidate>& candidates, int max_tiles) {
  std::vector<std::pair<int, int>> out;
  for (size_t i = 0; i < candidates.size() && int(out.size()) < max_tiles; ++i) {
    const auto& m = candidates[i].members;
    if (m.empty()) continue;
    auto best = std::max_element(m.begin(), m.end(), [](const SliceDetection& a, const SliceDetection& b) {
      return a.box.score < b.box.score;
    });
    out.push_back({best->slice, int(i)});
  }
  return out;
}

}  // namespace vyolo::findings
