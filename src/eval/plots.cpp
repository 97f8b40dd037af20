#include "eval/plots.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>

#include "common/error.h"
#include "common/fs_util.h"

namespace vyolo::eval {

namespace {

const cv::Scalar kBlack(0, 0, 0), kGrey(150, 150, 150), kLight(225, 225, 225), kMean(180, 119, 31);

cv::Scalar class_colour(size_t i) {
  static const cv::Scalar palette[] = {{49, 55, 255},  {10, 249, 72},  {31, 178, 255}, {187, 137, 52},
                                       {211, 188, 0},  {157, 159, 255}, {29, 207, 207}, {255, 56, 0},
                                       {23, 204, 146}, {255, 194, 44}, {134, 219, 61}, {29, 112, 255}};
  return palette[i % (sizeof(palette) / sizeof(palette[0]))];
}

void save_png(const cv::Mat& img, const std::string& path) {
  std::vector<uchar> buf;
  if (!cv::imencode(".png", img, buf)) throw RuntimeError("cannot encode PNG for " + path);
  write_file_atomic(path, std::string(buf.begin(), buf.end()));
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof(b), f, v);
  return b;
}

struct Axes {
  cv::Rect area;
  cv::Point at(double x, double y) const {
    return {area.x + static_cast<int>(std::lround(std::clamp(x, 0.0, 1.0) * area.width)),
            area.y + area.height - static_cast<int>(std::lround(std::clamp(y, 0.0, 1.0) * area.height))};
  }
};

Axes draw_frame(cv::Mat& img, const std::string& title, const std::string& xlabel, const std::string& ylabel) {
  Axes ax{cv::Rect(80, 50, 560, 480)};
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  for (int k = 0; k <= 5; ++k) {
    const double v = k / 5.0;
    cv::line(img, ax.at(v, 0), ax.at(v, 1), kLight, 1);
    cv::line(img, ax.at(0, v), ax.at(1, v), kLight, 1);
    const std::string t = fmt("%.1f", v);
    cv::putText(img, t, ax.at(v, 0) + cv::Point(-12, 22), font, 0.45, kBlack, 1, cv::LINE_AA);
    cv::putText(img, t, ax.at(0, v) + cv::Point(-36, 5), font, 0.45, kBlack, 1, cv::LINE_AA);
  }
  cv::rectangle(img, ax.area, kBlack, 1);
  cv::putText(img, title, {ax.area.x + ax.area.width / 2 - 120, 32}, font, 0.65, kBlack, 1, cv::LINE_AA);
  cv::putText(img, xlabel, {ax.area.x + ax.area.width / 2 - 30, ax.area.br().y + 48}, font, 0.55, kBlack, 1,
              cv::LINE_AA);
  cv::Mat yl(30, 200, img.type(), cv::Scalar(255, 255, 255));
  cv::putText(yl, ylabel, {10, 20}, font, 0.55, kBlack, 1, cv::LINE_AA);
  cv::rotate(yl, yl, cv::ROTATE_90_COUNTERCLOCKWISE);
  yl.copyTo(img(cv::Rect(8, ax.area.y + ax.area.height / 2 - 100, yl.cols, yl.rows)));
  return ax;
}

void polyline(cv::Mat& img, const Axes& ax, const std::vector<double>& x, const std::vector<double>& y,
              const cv::Scalar& c, int thickness) {
  std::vector<cv::Point> pts;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) pts.push_back(ax.at(x[i], y[i]));
  if (pts.size() > 1) cv::polylines(img, pts, false, c, thickness, cv::LINE_AA);
}

void legend(cv::Mat& img, const std::vector<std::pair<std::string, cv::Scalar>>& rows) {
  int y = 60;
  for (const auto& [text, c] : rows) {
    cv::line(img, {660, y - 4}, {685, y - 4}, c, 3, cv::LINE_AA);
    cv::putText(img, text, {692, y}, cv::FONT_HERSHEY_SIMPLEX, 0.45, kBlack, 1, cv::LINE_AA);
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

}  // namespace

void plot_pr_curve(const DetectionMetrics& m, const std::vector<std::string>& names, const std::string& path) {
  cv::Mat img(600, 900, CV_8UC3, cv::Scalar(255, 255, 255));
  Axes ax = draw_frame(img, "Precision-Recall Curve", "Recall", "Precision");
  std::vector<std::pair<std::string, cv::Scalar>> rows;
  const bool per_class_legend = !m.per_class.empty() && m.per_class.size() < 21;
  for (size_t c = 0; c < m.pr_curve.size(); ++c) {
    const cv::Scalar col = per_class_legend ? class_colour(c) : kGrey;
    polyline(img, ax, m.x, m.pr_curve[c], col, 1);
    if (per_class_legend)
      rows.push_back({class_name(names, m.per_class[c].cls) + fmt(" %.3f", m.per_class[c].ap50()), col});
  }
  if (!m.pr_curve.empty()) polyline(img, ax, m.x, class_mean(m.pr_curve, m.x.size()), kMean, 3);
  rows.push_back({fmt("all classes %.3f mAP@0.5", m.map50), kMean});
  legend(img, rows);
  save_png(img, path);
}

void plot_f1_curve(const DetectionMetrics& m, const std::vector<std::string>& names, const std::string& path) {
  cv::Mat img(600, 900, CV_8UC3, cv::Scalar(255, 255, 255));
  Axes ax = draw_frame(img, "F1-Confidence Curve", "Confidence", "F1");
  std::vector<std::pair<std::string, cv::Scalar>> rows;
  const bool per_class_legend = !m.per_class.empty() && m.per_class.size() < 21;
  for (size_t c = 0; c < m.f1_curve.size(); ++c) {
    const cv::Scalar col = per_class_legend ? class_colour(c) : kGrey;
    polyline(img, ax, m.x, m.f1_curve[c], col, 1);
    if (per_class_legend) rows.push_back({class_name(names, m.per_class[c].cls), col});
  }
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
    polyline(img, ax, m.x, sm, kMean, 3);
    const int best = static_cast<int>(std::max_element(sm.begin(), sm.end()) - sm.begin());
    rows.push_back({fmt("all classes %.2f", sm[best]) + fmt(" at %.3f", m.x[best]), kMean});
  }
  legend(img, rows);
  save_png(img, path);
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
  cv::Mat img(top + n * cell + 150, left + n * cell + 40, CV_8UC3, cv::Scalar(255, 255, 255));
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
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
        const std::string txt = normalize ? fmt("%.2f", v) : fmt("%.0f", v);
        const double scale = std::min(0.5, cell / 90.0);
        int base = 0;
        const cv::Size ts = cv::getTextSize(txt, font, scale, 1, &base);
        cv::putText(img, txt, {box.x + (cell - ts.width) / 2, box.y + (cell + ts.height) / 2}, font, scale,
                    t > 0.5 ? cv::Scalar(255, 255, 255) : kBlack, 1, cv::LINE_AA);
      }
    }
  cv::rectangle(img, cv::Rect(left, top, n * cell, n * cell), kGrey, 1);
  if (n < 31)
    for (int i = 0; i < n; ++i) {
      cv::putText(img, label(i), {8, top + i * cell + cell / 2 + 5}, font, 0.45, kBlack, 1, cv::LINE_AA);
      cv::Mat xl(24, 140, img.type(), cv::Scalar(255, 255, 255));
      cv::putText(xl, label(i), {4, 17}, font, 0.45, kBlack, 1, cv::LINE_AA);
      cv::rotate(xl, xl, cv::ROTATE_90_COUNTERCLOCKWISE);
      const int x0 = left + i * cell + cell / 2 - 12;
      if (x0 >= 0 && x0 + xl.cols <= img.cols && top + n * cell + 4 + xl.rows <= img.rows)
        xl.copyTo(img(cv::Rect(x0, top + n * cell + 4, xl.cols, xl.rows)));
    }
  const std::string title = normalize ? "Confusion Matrix Normalized" : "Confusion Matrix";
  cv::putText(img, title, {left, 30}, font, 0.65, kBlack, 1, cv::LINE_AA);
  cv::putText(img, "True (columns) / Predicted (rows)", {left, 55}, font, 0.45, kGrey, 1, cv::LINE_AA);
  save_png(img, path);
}

}  // namespace vyolo::eval
