// Ultralytics' non_max_suppression (utils/nms.py, 8.4.50) for decoded YOLOv8 output, and torchvision's greedy nms.
#pragma once
#include <vector>

#include "common/torch_pch.h"

namespace vyolo::ops {

struct NmsOptions {
  double conf = 0.25;
  double iou = 0.7;
  int max_det = 300;
  bool agnostic = false;
  bool multi_label = false;  // validation: one row per class above conf (only when nc > 1, as upstream)
  int max_nms = 30000;
  double max_wh = 7680;      // class offset for class-aware NMS
};

// Both functions check their tensor's shape on entry (c10::Error naming the function, expected vs. actual shape);
// any device and dtype is accepted, as they work on a float CPU copy.

// Greedy IoU suppression in descending score order (torchvision.ops.nms semantics): indices of kept boxes.
torch::Tensor nms_indices(const torch::Tensor& boxes_xyxy, const torch::Tensor& scores, double iou);

// On the decoded output (B, 4 + nc, A), boxes cx, cy, w, h: one (n, 6) float CPU tensor per image with rows
// x1, y1, x2, y2, conf, cls in descending confidence. Boxes are not clipped.
std::vector<torch::Tensor> non_max_suppression(const torch::Tensor& pred, const NmsOptions& opt);

}  // namespace vyolo::ops
