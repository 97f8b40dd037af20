// Anchor points of YOLOv8's anchor-free head (Ultralytics utils/tal.py make_anchors, dist2bbox): one point per cell
// of every feature level, at the cell centre (offset 0.5), in grid units, with that level's stride.
#pragma once
#include <array>
#include <utility>
#include <vector>

#include "common/torch_pch.h"

namespace vyolo::ops {

// (A, 2) points x, y and (A, 1) strides for levels of sizes (h, w), level after level, row-major within a level.
std::pair<torch::Tensor, torch::Tensor> make_anchors(const std::vector<std::array<int64_t, 2>>& level_hw,
                                                     const std::vector<double>& strides, double offset,
                                                     torch::TensorOptions opts);

// Distances (..., 4) left, top, right, bottom from anchor points (..., 2) -> boxes x1, y1, x2, y2. Both on one device;
// other shapes or devices are a c10::Error naming dist2bbox.
torch::Tensor dist2bbox(const torch::Tensor& distance, const torch::Tensor& anchor_points);

}  // namespace vyolo::ops
