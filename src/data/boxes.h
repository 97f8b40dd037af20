// Fracture instance mask slice -> YOLO boxes with the upstream converter's rules (DESIGN.md §5).
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace vyolo {

struct BoxRules {
  int min_side = 10;         // sides below this are grown to it (centred, kept inside the image)
  double min_area = 36;      // boxes whose mask bounding box is smaller (px²) are dropped
  double max_aspect = 20;    // boxes whose mask bounding box is longer/shorter than this are dropped
};

struct BoxCounts {
  long kept = 0, grown = 0, dropped_area = 0, dropped_aspect = 0;
};

// Pixel box [x0, x1) x [y0, y1) of one instance.
struct InstanceBox {
  int instance = 0;
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  double w() const { return x1 - x0; }
  double h() const { return y1 - y0; }
};

// One box per instance value (> 0) present in `mask` (CV_8U, CV_16U or CV_32S), ordered by instance. The rules
// apply to the tight bounding box of the instance's pixels: area < min_area is dropped, then aspect > max_aspect is
// dropped, then sides < min_side are grown (dropping first keeps the area rule meaningful: a grown box is never
// below 100 px²). `counts` (optional) accumulates what happened.
std::vector<InstanceBox> mask_to_boxes(const cv::Mat& mask, const BoxRules& rules = {}, BoxCounts* counts = nullptr);

// "0 cx cy w h" normalised by the image size, 6 decimals.
std::string yolo_line(const InstanceBox& b, int width, int height, int cls = 0);

}  // namespace vyolo
