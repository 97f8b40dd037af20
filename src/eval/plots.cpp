#include "eval/plots.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "common/format.h"
#include "eval/plot_kit.h"

namespace vyolo::eval {

namespace {

using plot::kBlack;
const cv::Scalar kGrey(150, 150, 150), kLight(225, 225, 225), kMean(180, 119, 31);

cv::Scalar class_colour(size_t i) {
  static const cv::Scalar palette[] = {{49, 55, 255},  {10, 249, 72},  {31, 178, 255}, {187, 137, 52},
                                       {211, 188, 0},  {157, 159, 255}, {29, 207, 207}, {255, 56, 0},
                                       {23, 204, 146}, {255, 194, 44}, {134, 219, 61}, {29, 112, 255}};
  return palette[i % (sizeof(palette) / sizeof(palette[0]))];
}

using plot::text;

// A white 900 x 600 canvas with a 0..1 grid, tick labels, title and axis labels around a 560 x 480 plot area.
struct Chart {
  cv::Mat img;
  plot::Axes ax;
};

Chart new_chart(const std::string& title, const std::string& xlabel, const std::string& ylabel) {
  Chart ch{cv::Mat(600, 900, CV_8UC3, plot::kWhite), plot::Axes{cv::Rect(80, 50, 560, 480)}};
  cv::Mat& img = ch.img;
  const plot::Axes& ax = ch.ax;
  for (int k = 0; k <= 5; ++k) {
    const double v = k / 5.0;
    cv::line(img, ax.at(v, 0), ax.at(v, 1), kLight, 1);
    cv::line(img, ax.at(0, v), ax.at(1, v), kLight, 1);
    const std::string t = format_number("%.1f", v);
    text(img, t, ax.at(v, 0) + cv::Point(-12, 22));
    text(img, t, ax.at(0, v) + cv::Point(-36, 5));
  }
  cv::rectangle(img, ax.area, kBlack, 1);
  text(img, title, {ax.area.x + ax.area.width / 2 - 120, 32}, 0.65);
  text(img, xlabel, {ax.area.x + ax.area.width / 2 - 30, ax.area.br().y + 48}, 0.55);
  plot::paste(img, plot::vertical_text(ylabel, {200, 30}, {10, 20}, 0.55, img.type()),
              {8, ax.area.y + ax.area.height / 2 - 100});
  return ch;
}

void polyline(Chart& ch, const std::vector<double>& x, const std::vector<double>& y, const cv::Scalar& c,
              int thickness) {
  plot::draw_curve(ch.img, plot::curve_points(ch.ax, x, y), c, thickness);
}

using LegendRows = std::vector<std::pair<std::string, cv::Scalar>>;

void legend(cv::Mat& img, const LegendRows& rows) {
  int y = 60;
  for (const auto& [text, c] : rows) {
    cv::line(img, {660, y - 4}, {685, y - 4}, c, 3, cv::LINE_AA);
    plot::text(img, text, {692, y});
    y += 20;
  }
}

std::string class_name(const std::vector<std::string>& names, int cls) {
  return cls >= 0 && cls < static_cast<int>(names.size()) ? names[cls] : std::to_string(cls);
}

std::vector<double> class_mean(const std::vector<std::vector<double>>& rows, size_t n) {
  std::vector<double> m(n, 0.0);
  for (const auto& r : rows)
    for (size_t i = 0; i < n && i < r.size(); ++i) m[i] += r[i] / static_cast<double>(rows.size());
  return m;
}

// One thin line per class: coloured with a legend row each (name, plus AP50 when with_ap) when there are fewer than
// 21 classes, otherwise grey and unlabelled. Returns the legend rows.
LegendRows class_curves(Chart& ch, const DetectionMetrics& m, const std::vector<std::vector<double>>& curves,
                        const std::vector<std::string>& names, bool with_ap) {
  LegendRows rows;
  const bool per_class_legend = !m.per_class.empty() && m.per_class.size() < 21;
  for (size_t c = 0; c < curves.size(); ++c) {
    const cv::Scalar col = per_class_legend ? class_colour(c) : kGrey;
    polyline(ch, m.x, curves[c], col, 1);
    if (!per_class_legend) continue;
    const std::string ap = with_ap ? format_number(" %.3f", m.per_class[c].ap50()) : "";
    rows.push_back({class_name(names, m.per_class[c].cls) + ap, col});
  }
  return rows;
}

}  // namespace

void plot_pr_curve(const DetectionMetrics& m, const std::vector<std::string>& names, const std::string& path) {
  Chart ch = new_chart("Precision-Recall Curve", "Recall", "Precision");
  LegendRows rows = class_curves(ch, m, m.pr_curve, names, true);
  if (!m.pr_curve.empty()) polyline(ch, m.x, class_mean(m.pr_curve, m.x.size()), kMean, 3);
  rows.push_back({format_number("all classes %.3f mAP@0.5", m.map50), kMean});
  legend(ch.img, rows);
  plot::write_png(path, ch.img);
}

void plot_f1_curve(const DetectionMetrics& m, const std::vector<std::string>& names, const std::string& path) {
  Chart ch = new_chart("F1-Confidence Curve", "Confidence", "F1");
  LegendRows rows = class_curves(ch, m, m.f1_curve, names, false);
  std::vector<double> mean = class_mean(m.f1_curve, m.x.size());
  // The same 5% box filter Ultralytics draws (the best-F1 pick itself uses 10%).
  const int n = static_cast<int>(mean.size()), half = static_cast<int>(std::lround(n * 0.05 * 2)) / 2 / 2;
  std::vector<double> sm(n, 0.0);
  for (int i = 0; i < n; ++i) {
    double s = 0;
    for (int k = i - half; k <= i + half; ++k) s += mean[std::clamp(k, 0, n - 1)];
    sm[i] = s / (2 * half + 1);
  }
  if (n > 0) {
    polyline(ch, m.x, sm, kMean, 3);
    const int best = static_cast<int>(std::max_element(sm.begin(), sm.end()) - sm.begin());
    rows.push_back({format_number("all classes %.2f", sm[best]) + format_number(" at %.3f", m.x[best]), kMean});
  }
  legend(ch.img, rows);
  plot::write_png(path, ch.img);
}

void plot_confusion_matrix(const ConfusionMatrix& cm, const std::vector<std::string>& names, const std::string& path,
                           bool normalize) {
  const auto& mat = cm.matrix();
  const int n = cm.nc() + 1;
  std::vector<double> col_sum(n, 0.0);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) col_sum[c] += mat[r][c];
  double vmax = 0;
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) vmax = std::max(vmax, normalize ? mat[r][c] / (col_sum[c] + 1e-9) : mat[r][c]);

  const int cell = std::clamp(640 / n, 8, 90), left = 150, top = 70;
  cv::Mat img(top + n * cell + 150, left + n * cell + 40, CV_8UC3, plot::kWhite);
  const auto font = cv::FONT_HERSHEY_SIMPLEX;  // for getTextSize
  const bool labels = !names.empty() && static_cast<int>(names.size()) == cm.nc() && n < 100;
  auto label = [&](int i) { return i == cm.nc() ? std::string("background") : labels ? names[i] : std::to_string(i); };
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) {
      const double v = normalize ? mat[r][c] / (col_sum[c] + 1e-9) : mat[r][c];
      const double t = vmax > 0 ? v / vmax : 0;  // Blues: from (247,251,255) to (8,48,107), RGB
      const cv::Scalar colour(255 - t * (255 - 107), 251 - t * (251 - 48), 247 - t * (247 - 8));
      const cv::Rect box(left + c * cell, top + r * cell, cell, cell);
      cv::rectangle(img, box, colour, cv::FILLED);
      if (n < 31 && v >= 0.005) {
        const std::string txt = normalize ? format_number("%.2f", v) : format_number("%.0f", v);
        const double scale = std::min(0.5, cell / 90.0);
        int base = 0;
        const cv::Size ts = cv::getTextSize(txt, font, scale, 1, &base);
        text(img, txt, {box.x + (cell - ts.width) / 2, box.y + (cell + ts.height) / 2}, scale, 1,
             t > 0.5 ? plot::kWhite : kBlack);
      }
    }
  cv::rectangle(img, cv::Rect(left, top, n * cell, n * cell), kGrey, 1);
  if (n < 31)
    for (int i = 0; i < n; ++i) {
      text(img, label(i), {8, top + i * cell + cell / 2 + 5});
      plot::paste(img, plot::vertical_text(label(i), {140, 24}, {4, 17}, 0.45, img.type()),
                  {left + i * cell + cell / 2 - 12, top + n * cell + 4});
    }
  const std::string title = normalize ? "Confusion Matrix Normalized" : "Confusion Matrix";
  text(img, title, {left, 30}, 0.65);
  text(img, "True (columns) / Predicted (rows)", {left, 55}, 0.45, 1, kGrey);
  plot::write_png(path, img);
}

}  // namespace vyolo::eval
