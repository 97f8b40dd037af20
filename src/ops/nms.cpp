#include "ops/nms.h"

#include <numeric>
#include <stdexcept>

#include "ops/box_iou.h"

namespace vyolo::ops {

torch::Tensor nms_indices(const torch::Tensor& boxes_xyxy, const torch::Tensor& scores, double iou) {
  TORCH_CHECK(boxes_xyxy.dim() == 2 && boxes_xyxy.size(1) == 4, "nms_indices: boxes must be (n, 4), got ",
              boxes_xyxy.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes_xyxy.size(0), "nms_indices: scores must be (",
              boxes_xyxy.size(0), "), one per box, got ", scores.sizes());
  auto b = boxes_xyxy.to(torch::kCPU, torch::kFloat).contiguous();
  auto s = scores.to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t n = b.size(0);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const float* sp = s.data_ptr<float>();
  std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return sp[i] > sp[j]; });
  const float* bp = b.data_ptr<float>();
  const float thr = static_cast<float>(iou);
  std::vector<char> removed(n, 0);
  std::vector<int64_t> keep;
  for (int64_t oi = 0; oi < n; ++oi) {
    const int64_t i = order[oi];
    if (removed[i]) continue;
    keep.push_back(i);
    for (int64_t oj = oi + 1; oj < n; ++oj) {
      const int64_t j = order[oj];
      if (!removed[j] && box_iou(bp + 4 * i, bp + 4 * j) > thr) removed[j] = 1;
    }
  }
  return torch::tensor(keep, torch::kLong);
}

std::vector<torch::Tensor> non_max_suppression(const torch::Tensor& pred_in, const NmsOptions& opt) {
  using torch::indexing::Slice;
  TORCH_CHECK(pred_in.dim() == 3 && pred_in.size(1) > 4, "non_max_suppression: expected (B, 4 + nc, A), got ",
              pred_in.sizes());
  auto pred = pred_in.detach().to(torch::kCPU, torch::kFloat);
  const int64_t bs = pred.size(0), nc = pred.size(1) - 4;
  const bool multi_label = opt.multi_label && nc > 1;
  auto p = pred.transpose(1, 2);  // (B, A, 4 + nc)
  std::vector<torch::Tensor> out;
  for (int64_t bi = 0; bi < bs; ++bi) {
    auto x = p[bi];
    auto cls_scores = x.index({Slice(), Slice(4, 4 + nc)});
    x = x.index({std::get<0>(cls_scores.max(1)) > opt.conf});  // candidates
    if (x.size(0) == 0) {
      out.push_back(torch::zeros({0, 6}));
      continue;
    }
    auto xy = x.index({Slice(), Slice(0, 2)}), wh = x.index({Slice(), Slice(2, 4)});
    auto box = torch::cat({xy - wh / 2, xy + wh / 2}, 1);
    auto cls = x.index({Slice(), Slice(4, 4 + nc)});
    torch::Tensor d;
    if (multi_label) {
      auto ij = torch::nonzero(cls > opt.conf);  // row-major, as torch.where
      auto i = ij.index({Slice(), 0}), j = ij.index({Slice(), 1});
      d = torch::cat({box.index({i}), cls.index({i, j}).unsqueeze(1), j.unsqueeze(1).to(torch::kFloat)}, 1);
    } else {
      auto [conf, j] = cls.max(1, /*keepdim=*/true);
      d = torch::cat({box, conf, j.to(torch::kFloat)}, 1).index({conf.view(-1) > opt.conf});
    }
    if (d.size(0) == 0) {
      out.push_back(torch::zeros({0, 6}));
      continue;
    }
    if (d.size(0) > opt.max_nms) {
      auto order = std::get<1>(d.index({Slice(), 4}).sort(0, /*descending=*/true));
      d = d.index({order.index({Slice(0, opt.max_nms)})});
    }
    auto offset = d.index({Slice(), Slice(5, 6)}) * (opt.agnostic ? 0.0 : opt.max_wh);
    auto idx = nms_indices(d.index({Slice(), Slice(0, 4)}) + offset, d.index({Slice(), 4}), opt.iou);
    if (idx.size(0) > opt.max_det) idx = idx.index({Slice(0, opt.max_det)});
    out.push_back(d.index({idx}));
  }
  return out;
}

}  // namespace vyolo::ops
