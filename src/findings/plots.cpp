#include "findings/plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/fs_util.h"

namespace vyolo::findings {

namespace {

const int W = 640, H = 540, L = 80, R = 30, T = 50, B = 70;  // canvas and plot-area margins
const cv::Scalar kBlack(0, 0, 0), kGrey(200, 200, 200), kWhite(255, 255, 255);
const cv::Scalar kColors[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44}, {40, 39, 214}, {189, 103, 148}};

cv::Point to_px(double x, double y) {
  x = std::clamp(x, 0.0, 1.0);
  y = std::clamp(y, 0.0, 1.0);
  return {L + int(std::lround(x * (W - L - R))), H - B - int(std::lround(y * (H - T - B)))};
}

void text(cv::Mat& img, const std::string& s, cv::Point p, double scale = 0.45, int thick = 1,
          const cv::Scalar& c = kBlack) {
  cv::putText(img, s, p, cv::FONT_HERSHEY_SIMPLEX, scale, c, thick, cv::LINE_AA);
}

void centered(cv::Mat& img, const std::string& s, cv::Point p, double scale = 0.45, int thick = 1) {
  int base = 0;
  cv::Size sz = cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, thick, &base);
  text(img, s, {p.x - sz.width / 2, p.y + sz.height / 2}, scale, thick);
}

std::string fmt(double v, int prec) {
  if (std::isnan(v)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

}  // namespace

cv::Mat line_plot(const std::string& title, const std::string& x_label, const std::string& y_label,
                  const std::vector<Series>& series, bool diagonal,
                  const std::vector<std::pair<double, std::string>>& x_ticks) {
  cv::Mat img(H, W, CV_8UC3, kWhite);
  std::vector<std::pair<double, std::string>> xt = x_ticks;
  if (xt.empty())
    for (int i = 0; i <= 5; ++i) xt.push_back({i / 5.0, fmt(i / 5.0, 1)});
  for (const auto& [x, s] : xt) {
    cv::line(img, to_px(x, 0), to_px(x, 1), kGrey, 1);
    centered(img, s, to_px(x, 0) + cv::Point(0, 16), 0.4);
  }
  for (int i = 0; i <= 5; ++i) {
    double y = i / 5.0;
    cv::line(img, to_px(0, y), to_px(1, y), kGrey, 1);
    text(img, fmt(y, 1), to_px(0, y) + cv::Point(-34, 5), 0.4);
  }
  cv::rectangle(img, to_px(0, 1), to_px(1, 0), kBlack, 1);
  if (diagonal) cv::line(img, to_px(0, 0), to_px(1, 1), kGrey, 1, cv::LINE_AA);
  centered(img, title, {W / 2, T / 2}, 0.6, 1);
  centered(img, x_label, {L + (W - L - R) / 2, H - 25}, 0.5);
  // Rotated y label: draw on a strip, rotate it.
  {
    int base = 0;
    cv::Size sz = cv::getTextSize(y_label, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &base);
    cv::Mat strip(sz.height + base + 6, sz.width + 6, CV_8UC3, kWhite);
    text(strip, y_label, {3, sz.height + 2}, 0.5);
    cv::Mat rot;
    cv::rotate(strip, rot, cv::ROTATE_90_COUNTERCLOCKWISE);
    int y0 = std::max(0, T + (H - T - B) / 2 - rot.rows / 2), x0 = 8;
    if (y0 + rot.rows <= H && x0 + rot.cols <= W) rot.copyTo(img(cv::Rect(x0, y0, rot.cols, rot.rows)));
  }
  int legend_y = T + 18;
  for (size_t s = 0; s < series.size(); ++s) {
    const auto& sr = series[s];
    const cv::Scalar& c = kColors[s % 5];
    std::vector<cv::Point> pts;
    double px = 0, py = 0;
    for (size_t i = 0; i < sr.x.size() && i < sr.y.size(); ++i) {
      if (std::isnan(sr.x[i]) || std::isnan(sr.y[i])) continue;
      if (!pts.empty() && sr.step == Step::Pre) pts.push_back(to_px(px, sr.y[i]));
      if (!pts.empty() && sr.step == Step::Post) pts.push_back(to_px(sr.x[i], py));
      pts.push_back(to_px(sr.x[i], sr.y[i]));
      px = sr.x[i], py = sr.y[i];
    }
    if (pts.size() >= 2) cv::polylines(img, pts, false, c, 2, cv::LINE_AA);
    else if (pts.size() == 1) cv::circle(img, pts[0], 3, c, cv::FILLED, cv::LINE_AA);
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
  Series s{"AUC = " + fmt(auc, 3), roc.fpr, roc.tpr, Step::None};
  return line_plot(title, "false positive rate (1 - specificity)", "true positive rate (sensitivity)", {s}, true);
}

cv::Mat pr_plot(const PrCurve& pr, double ap, const std::string& title) {
  Series s{"AP = " + fmt(ap, 3), {}, {}, Step::Pre};
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
  f1.name = "F1 (best " + fmt(best.f1, 3) + " at " + fmt(best.threshold, 3) + ")";
  return line_plot(title, "confidence threshold", "value", {f1, p, r});
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
      centered(img, std::to_string(cells[r][c]), ctr - cv::Point(0, 12), 0.9, 2);
      centered(img, "(" + fmt(frac, 2) + " of row)", ctr + cv::Point(0, 22), 0.45);
    }
  centered(img, title + " @ " + fmt(threshold, 3), {img.cols / 2, 22}, 0.55);
  centered(img, "predicted negative", {M + cell / 2, 50 + S + 20}, 0.45);
  centered(img, "predicted positive", {M + cell + cell / 2, 50 + S + 20}, 0.45);
  text(img, "true neg.", {8, 50 + cell / 2 + 5}, 0.45);
  text(img, "true pos.", {8, 50 + cell + cell / 2 + 5}, 0.45);
  return img;
}

cv::Mat froc_plot(const FrocResult& froc, const std::string& title) {
  // x = log2(FP per volume) from 1/8 to 8 mapped onto [0, 1].
  auto xmap = [](double f) { return f <= 0 ? 0.0 : (std::log2(f) + 3.0) / 6.0; };
  Series curve{"FROC (mean sens. " + fmt(froc.mean_sensitivity, 3) + ")", {}, {}, Step::Post};
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
      cv::circle(img, to_px(xmap(froc.fp_rates[i]), froc.sensitivities[i]), 4, kColors[3], cv::FILLED, cv::LINE_AA);
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
      std::string lab = b < tile.box_labels.size() ? tile.box_labels[b] : fmt(bx.score, 2);
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

void write_png(const std::filesystem::path& path, const cv::Mat& image) {
  std::vector<uchar> buf;
  if (image.empty() || !cv::imencode(".png", image, buf)) throw RuntimeError("cannot encode PNG " + path.string());
  write_file_atomic(path, std::string(buf.begin(), buf.end()));
}

}  // namespace vyolo::findings
