#include "ops/anchors.h"

namespace vyolo::ops {

std::pair<torch::Tensor, torch::Tensor> make_anchors(const std::vector<std::array<int64_t, 2>>& level_hw,
                                                     const std::vector<double>& strides, double offset,
                                                     torch::TensorOptions opts) {
  TORCH_CHECK(level_hw.size() == strides.size(), "make_anchors: ", level_hw.size(), " feature levels but ",
              strides.size(), " strides");
  std::vector<torch::Tensor> points, stride_t;
  for (size_t i = 0; i < level_hw.size(); ++i) {
    const int64_t h = level_hw[i][0], w = level_hw[i][1];
    auto sx = torch::arange(w, opts) + offset;
    auto sy = torch::arange(h, opts) + offset;
    auto grid = torch::meshgrid({sy, sx}, "ij");
    points.push_back(torch::stack({grid[1], grid[0]}, -1).view({-1, 2}));
    stride_t.push_back(torch::full({h * w, 1}, strides[i], opts));
  }
  return {torch::cat(points), torch::cat(stride_t)};
}

torch::Tensor dist2bbox(const torch::Tensor& distance, const torch::Tensor& anchor_points) {
  TORCH_CHECK(distance.dim() >= 1 && distance.size(-1) == 4 && anchor_points.dim() >= 1 &&
                  anchor_points.size(-1) == 2,
              "dist2bbox: expected distance (..., 4) and anchor_points (..., 2), got ", distance.sizes(), " and ",
              anchor_points.sizes());
  TORCH_CHECK(distance.device() == anchor_points.device(), "dist2bbox: distance on ", distance.device(),
              " but anchor_points on ", anchor_points.device());
  auto lr = distance.chunk(2, -1);
  return torch::cat({anchor_points - lr[0], anchor_points + lr[1]}, -1);
}

}  // namespace vyolo::ops
