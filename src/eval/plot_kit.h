// The drawing kit behind every PNG chart (validation plots in eval/, clinical plots in findings/): OpenCV only, no
// plotting library. It holds what the charts share (mapping [0,1]^2 onto a plot area, Hershey text, rotated axis
// labels, curves, atomic PNG files); each chart keeps its own layout, colours and legend. It lives in src/eval
// because that is the lowest module that draws (findings depends on eval; common links no OpenCV).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace vyolo::plot {

inline const cv::Scalar kBlack(0, 0, 0), kWhite(255, 255, 255);

// A plot area on the canvas: x in [0,1] left to right, y in [0,1] bottom to top; outside values are clamped.
struct Axes {
  cv::Rect area;
  cv::Point at(double x, double y) const;
};

// Anti-aliased FONT_HERSHEY_SIMPLEX text with its baseline-left corner at `origin`.
void text(cv::Mat& img, const std::string& s, cv::Point origin, double scale = 0.45, int thickness = 1,
          const cv::Scalar& colour = kBlack);
// The same, centred on `centre`.
void centered_text(cv::Mat& img, const std::string& s, cv::Point centre, double scale = 0.45, int thickness = 1);

// `s` written at `origin` on a white strip of `strip` size (width x height, before turning), turned a quarter
// counter-clockwise so that it reads bottom to top: an axis label for a vertical axis.
cv::Mat vertical_text(const std::string& s, cv::Size strip, cv::Point origin, double scale, int type);
// Copies `patch` into `img` with its top-left corner at `at` when it fits entirely; returns whether it did.
bool paste(cv::Mat& img, const cv::Mat& patch, cv::Point at);

// How a curve joins its points. Pre rises before moving right (a PR curve: area = AP); Post moves right first (FROC).
enum class Step { None, Pre, Post };
// The canvas points of (x[i], y[i]), NaN points skipped, with the corners a step curve needs.
std::vector<cv::Point> curve_points(const Axes& ax, const std::vector<double>& x, const std::vector<double>& y,
                                    Step step = Step::None);
// An anti-aliased open polyline through `pts` (nothing for fewer than two).
void draw_curve(cv::Mat& img, const std::vector<cv::Point>& pts, const cv::Scalar& colour, int thickness);

// `v` with `decimals` digits after the point; "n/a" for NaN.
std::string fixed(double v, int decimals);

// Encodes as PNG and writes atomically (parent folders created). Throws RuntimeError naming the path for an empty or
// unencodable image.
void write_png(const std::filesystem::path& path, const cv::Mat& image);

}  // namespace vyolo::plot
