#include "eval/plot_kit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/fs_util.h"

namespace vyolo::plot {

cv::Point Axes::at(double x, double y) const {
  return {area.x + static_cast<int>(std::lround(std::clamp(x, 0.0, 1.0) * area.width)),
          area.y + area.height - static_cast<int>(std::lround(std::clamp(y, 0.0, 1.0) * area.height))};
}

void text(cv::Mat& img, const std::string& s, cv::Point origin, double scale, int thickness, const cv::Scalar& colour) {
  cv::putText(img, s, origin, cv::FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv::LINE_AA);
}

void centered_text(cv::Mat& img, const std::string& s, cv::Point centre, double scale, int thickness) {
  int base = 0;
  const cv::Size sz = cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, thickness, &base);
  text(img, s, {centre.x - sz.width / 2, centre.y + sz.height / 2}, scale, thickness);
}

cv::Mat vertical_text(const std::string& s, cv::Size strip, cv::Point origin, double scale, int type) {
  cv::Mat m(strip, type, kWhite);
  text(m, s, origin, scale);
  cv::rotate(m, m, cv::ROTATE_90_COUNTERCLOCKWISE);
  return m;
}

bool paste(cv::Mat& img, const cv::Mat& patch, cv::Point at) {
  if (at.x < 0 || at.y < 0 || at.x + patch.cols > img.cols || at.y + patch.rows > img.rows) return false;
  patch.copyTo(img(cv::Rect(at.x, at.y, patch.cols, patch.rows)));
  return true;
}

std::vector<cv::Point> curve_points(const Axes& ax, const std::vector<double>& x, const std::vector<double>& y,
                                    Step step) {
  std::vector<cv::Point> pts;
  double px = 0, py = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    if (std::isnan(x[i]) || std::isnan(y[i])) continue;
    if (!pts.empty() && step == Step::Pre) pts.push_back(ax.at(px, y[i]));
    if (!pts.empty() && step == Step::Post) pts.push_back(ax.at(x[i], py));
    pts.push_back(ax.at(x[i], y[i]));
    px = x[i], py = y[i];
  }
  return pts;
}

void draw_curve(cv::Mat& img, const std::vector<cv::Point>& pts, const cv::Scalar& colour, int thickness) {
  if (pts.size() > 1) cv::polylines(img, pts, false, colour, thickness, cv::LINE_AA);
}

std::string fixed(double v, int decimals) {
  if (std::isnan(v)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

void write_png(const std::filesystem::path& path, const cv::Mat& image) {
  std::vector<uchar> buf;
  if (image.empty() || !cv::imencode(".png", image, buf)) throw RuntimeError("cannot encode PNG " + path.string());
  write_file_atomic(path, std::string(buf.begin(), buf.end()));
}

}  // namespace vyolo::plot
