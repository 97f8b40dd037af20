#include "data/slicing.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "data/hu_window.h"

namespace vyolo {

int view_axis(const std::string& view) {
  if (view == "axial") return 2;
  if (view == "coronal") return 1;
  if (view == "sagittal") return 0;
  throw UsageError("view must be axial, coronal or sagittal, got '" + view + "'");
}

SliceRegion SliceRegion::whole(const Volume& v) {
  SliceRegion r;
  for (int a = 0; a < 3; ++a) r.hi[a] = v.dims[a] - 1;
  return r;
}

cv::Mat extract_slice(const Volume& v, int axis, int s, const SliceRegion& r) {
  const auto& lo = r.lo;
  const auto& hi = r.hi;
  if (axis == 2) {
    const int rows = hi[1] - lo[1] + 1, cols = hi[0] - lo[0] + 1;
    cv::Mat m(rows, cols, CV_32FC1);
    for (int y = 0; y < rows; ++y) {
      const float* src = &v.voxels[v.index(lo[0], lo[1] + y, s)];
      std::copy(src, src + cols, m.ptr<float>(y));
    }
    return m;
  }
  const int rows = hi[2] - lo[2] + 1;
  if (axis == 1) {
    const int cols = hi[0] - lo[0] + 1;
    cv::Mat m(rows, cols, CV_32FC1);
    for (int y = 0; y < rows; ++y) {
      const float* src = &v.voxels[v.index(lo[0], s, hi[2] - y)];
      std::copy(src, src + cols, m.ptr<float>(y));
    }
    return m;
  }
  const int cols = hi[1] - lo[1] + 1;
  cv::Mat m(rows, cols, CV_32FC1);
  for (int y = 0; y < rows; ++y) {
    float* dst = m.ptr<float>(y);
    for (int x = 0; x < cols; ++x) dst[x] = v.at(s, lo[1] + x, hi[2] - y);
  }
  return m;
}

cv::Mat slab_mean(const Volume& v, int axis, int s, int n, const SliceRegion& r) {
  const int half = n / 2, last = v.dims[axis] - 1;
  cv::Mat acc;
  int count = 0;
  for (int t = std::max(0, s - half); t <= std::min(last, s + half); ++t) {
    cv::Mat m = extract_slice(v, axis, t, r);
    if (acc.empty()) acc = cv::Mat::zeros(m.size(), CV_64FC1);
    cv::add(acc, m, acc, cv::noArray(), CV_64F);
    ++count;
  }
  cv::Mat out;
  acc.convertTo(out, CV_32F, 1.0 / count);
  return out;
}

std::array<double, 2> slice_spacing(const Volume& v, int axis) {
  if (axis == 2) return {v.spacing[1], v.spacing[0]};
  if (axis == 1) return {v.spacing[2], v.spacing[0]};
  return {v.spacing[2], v.spacing[1]};
}

cv::Mat letterbox(const cv::Mat& m, int size, int interp, double pad, double sy, double sx, Letterbox* lb) {
  if (lb) *lb = Letterbox{};
  if (size <= 0) return m;
  const double s = static_cast<double>(size) / std::max(m.rows * sy, m.cols * sx);
  const int w = std::min(size, std::max(1, static_cast<int>(std::lround(m.cols * sx * s))));
  const int h = std::min(size, std::max(1, static_cast<int>(std::lround(m.rows * sy * s))));
  if (lb) {
    lb->scale_x = static_cast<double>(w) / m.cols;
    lb->scale_y = static_cast<double>(h) / m.rows;
    lb->pad_x = (size - w) / 2;
    lb->pad_y = (size - h) / 2;
  }
  cv::Mat r;
  if (w == m.cols && h == m.rows) r = m;
  else cv::resize(m, r, cv::Size(w, h), 0, 0, interp);
  if (w == size && h == size) return r;
  cv::Mat out(size, size, m.type(), cv::Scalar::all(pad));
  r.copyTo(out(cv::Rect((size - w) / 2, (size - h) / 2, w, h)));
  return out;
}

cv::Mat hu_to_u16(const cv::Mat& hu) {
  cv::Mat out;
  hu.convertTo(out, CV_16U, 1.0, kHuOffset);
  return out;
}

}  // namespace vyolo
