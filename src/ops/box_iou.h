// Intersection over union of two axis-aligned xyxy boxes, as Ultralytics' box_iou (utils/metrics.py):
// inter / (area_a + area_b - inter + eps), in the caller's precision. The one IoU behind NMS, validation matching and
// the merging of slice boxes; the loss's CIoU (src/loss) is a different quantity.
#pragma once
#include <algorithm>

namespace vyolo::ops {

template <typename T>
inline T box_iou(T ax1, T ay1, T ax2, T ay2, T bx1, T by1, T bx2, T by2, T eps = T(0)) {
  const T iw = std::max(T(0), std::min(ax2, bx2) - std::max(ax1, bx1));
  const T ih = std::max(T(0), std::min(ay2, by2) - std::max(ay1, by1));
  const T inter = iw * ih;
  const T uni = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter + eps;
  return uni > T(0) ? inter / uni : T(0);
}

// Pointer form for packed x1, y1, x2, y2.
template <typename T>
inline T box_iou(const T* a, const T* b, T eps = T(0)) {
  return box_iou(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], eps);
}

}  // namespace vyolo::ops
