#include "data/hu_window.h"

#include <algorithm>
#include <array>
#include <string>

#include "common/error.h"

namespace vyolo {

namespace {

void check(const cv::Mat& hu16, const HuWindows& w) {
  if (hu16.type() != CV_16UC1)
    throw RuntimeError("window_hu: expected a CV_16UC1 slice (HU + 32768), got type " + std::to_string(hu16.type()));
  for (const HuWindow* x : {&w.bone, &w.soft_tissue, &w.wide})
    if (!(x->max > x->min))
      throw RuntimeError("window_hu: window max (" + std::to_string(x->max) + ") must exceed min (" +
                         std::to_string(x->min) + ")");
}

// A 65536-entry table per window is cheaper than the formula per pixel once slices exceed ~64k pixels and is exact.
template <typename T, typename F>
void apply(const cv::Mat& hu16, cv::Mat& out, const std::array<const HuWindow*, 3>& ws, F f) {
  const int rows = hu16.rows, cols = hu16.cols;
  const bool use_lut = static_cast<long>(rows) * cols >= 65536;
  std::vector<T> lut;
  if (use_lut) {
    lut.resize(3 * 65536);
    for (int c = 0; c < 3; ++c)
      for (int v = 0; v < 65536; ++v) lut[c * 65536 + v] = f(v - kHuOffset, *ws[c]);
  }
  for (int y = 0; y < rows; ++y) {
    const uint16_t* src = hu16.ptr<uint16_t>(y);
    T* dst = out.ptr<T>(y);
    for (int x = 0; x < cols; ++x) {
      const int v = src[x];
      for (int c = 0; c < 3; ++c) dst[3 * x + c] = use_lut ? lut[c * 65536 + v] : f(v - kHuOffset, *ws[c]);
    }
  }
}

inline double unit(int hu, const HuWindow& w) {
  const double h = std::clamp(static_cast<double>(hu), w.min, w.max);
  return (h - w.min) / (w.max - w.min);
}

inline uint8_t to_u8(int hu, const HuWindow& w) {
  // numpy's astype(uint8) truncates toward zero; the value is already in [0, 255].
  return static_cast<uint8_t>(unit(hu, w) * 255.0);
}

}  // namespace

cv::Mat window_hu(const cv::Mat& hu16, const HuWindows& w) {
  check(hu16, w);
  cv::Mat out(hu16.rows, hu16.cols, CV_8UC3);
  apply<uint8_t>(hu16, out, {&w.bone, &w.soft_tissue, &w.wide}, to_u8);
  return out;
}

cv::Mat window_hu_float(const cv::Mat& hu16, const HuWindows& w) {
  check(hu16, w);
  cv::Mat out(hu16.rows, hu16.cols, CV_32FC3);
  apply<float>(hu16, out, {&w.bone, &w.soft_tissue, &w.wide},
               [](int hu, const HuWindow& x) { return static_cast<float>(unit(hu, x)); });
  return out;
}

cv::Mat window_hu_channel(const cv::Mat& hu16, const HuWindow& w) {
  HuWindows ws{w, w, w};
  check(hu16, ws);
  cv::Mat out(hu16.rows, hu16.cols, CV_8UC1);
  for (int y = 0; y < hu16.rows; ++y) {
    const uint16_t* src = hu16.ptr<uint16_t>(y);
    uint8_t* dst = out.ptr<uint8_t>(y);
    for (int x = 0; x < hu16.cols; ++x) dst[x] = to_u8(src[x] - kHuOffset, w);
  }
  return out;
}

}  // namespace vyolo
