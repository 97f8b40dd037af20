#include "data/boxes.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/error.h"

namespace vyolo {

namespace {

struct Extent {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
};

template <typename T>
void scan(const cv::Mat& m, std::map<int, Extent>& ext) {
  for (int y = 0; y < m.rows; ++y) {
    const T* row = m.ptr<T>(y);
    for (int x = 0; x < m.cols; ++x) {
      const int v = static_cast<int>(row[x]);
      if (v <= 0) continue;
      Extent& e = ext[v];
      e.x0 = std::min(e.x0, x);
      e.x1 = std::max(e.x1, x);
      e.y0 = std::min(e.y0, y);
      e.y1 = std::max(e.y1, y);
    }
  }
}

// Grows [a0, a1) to `side` around its centre, shifted to stay inside [0, limit).
void grow(double& a0, double& a1, double side, double limit) {
  side = std::min(side, limit);
  const double c = (a0 + a1) / 2;
  a0 = c - side / 2;
  a1 = c + side / 2;
  if (a0 < 0) a1 -= a0, a0 = 0;
  if (a1 > limit) a0 -= a1 - limit, a1 = limit;
}

}  // namespace

std::vector<InstanceBox> mask_to_boxes(const cv::Mat& mask, const BoxRules& rules, BoxCounts* counts) {
  std::map<int, Extent> ext;
  switch (mask.type()) {
    case CV_8UC1: scan<uint8_t>(mask, ext); break;
    case CV_16UC1: scan<uint16_t>(mask, ext); break;
    case CV_32SC1: scan<int32_t>(mask, ext); break;
    default: throw RuntimeError("mask_to_boxes: mask must be CV_8UC1, CV_16UC1 or CV_32SC1");
  }
  BoxCounts local;
  BoxCounts& c = counts ? *counts : local;
  std::vector<InstanceBox> out;
  for (const auto& [inst, e] : ext) {
    InstanceBox b{inst, static_cast<double>(e.x0), static_cast<double>(e.y0), e.x1 + 1.0, e.y1 + 1.0};
    const double w = b.w(), h = b.h();
    if (w * h < rules.min_area) {
      ++c.dropped_area;
      continue;
    }
    if (std::max(w / h, h / w) > rules.max_aspect) {
      ++c.dropped_aspect;
      continue;
    }
    bool g = false;
    if (w < rules.min_side) grow(b.x0, b.x1, rules.min_side, mask.cols), g = true;
    if (h < rules.min_side) grow(b.y0, b.y1, rules.min_side, mask.rows), g = true;
    c.grown += g;
    ++c.kept;
    out.push_back(b);
  }
  return out;
}

std::string yolo_line(const InstanceBox& b, int width, int height, int cls) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%d %.6f %.6f %.6f %.6f", cls, (b.x0 + b.x1) / 2 / width, (b.y0 + b.y1) / 2 / height,
                b.w() / width, b.h() / height);
  return buf;
}

}  // namespace vyolo
