#include "loss/detection_loss.h"

#include <ATen/autocast_mode.h>

#include <cmath>
#include <string>

#include "common/error.h"
#include "ops/anchors.h"

namespace vyolo::loss {

using torch::Tensor;
namespace F = torch::nn::functional;

namespace {

// The loss is defined in float32: switch autocast off for its scope and restore it after.
class NoAutocast {
 public:
  NoAutocast() : gpu_(at::autocast::is_enabled()), cpu_(at::autocast::is_cpu_enabled()) {
    at::autocast::set_enabled(false);
    at::autocast::set_cpu_enabled(false);
  }
  ~NoAutocast() {
    at::autocast::set_enabled(gpu_);
    at::autocast::set_cpu_enabled(cpu_);
  }

 private:
  bool gpu_, cpu_;
};

Tensor xywh2xyxy(const Tensor& x) {
  Tensor xy = x.narrow(-1, 0, 2);
  Tensor wh = x.narrow(-1, 2, 2) / 2;
  return torch::cat({xy - wh, xy + wh}, -1);
}

Tensor xyxy2xywh(const Tensor& x) {
  auto c = x.unbind(-1);
  return torch::stack({(c[0] + c[2]) / 2, (c[1] + c[3]) / 2, c[2] - c[0], c[3] - c[1]}, -1);
}

// (M, 6) normalised targets -> (B, max boxes per image, 5): cls, x1, y1, x2, y2 in pixels, zero rows as padding.
Tensor preprocess_targets(const Tensor& targets, int64_t batch_size, int nc, const Tensor& scale_whwh,
                          torch::TensorOptions opts) {
  if (!targets.defined() || targets.numel() == 0) return torch::zeros({batch_size, 0, 5}, opts);
  // (M, 6) is checked on entry to DetectionLoss::forward.
  const int64_t m = targets.size(0);
  Tensor t = targets.detach().to(torch::kCPU, torch::kFloat).contiguous();
  auto acc = t.accessor<float, 2>();
  std::vector<int64_t> count(batch_size, 0), slot(m);
  for (int64_t i = 0; i < m; ++i) {
    const double b = acc[i][0];
    if (!(b >= 0 && b < batch_size) || b != std::floor(b))
      throw RuntimeError("DetectionLoss: target row " + std::to_string(i) + " has batch index " +
                         std::to_string(b) + " outside 0.." + std::to_string(batch_size - 1));
    const double c = acc[i][1];
    if (!(c >= 0 && c < nc) || c != std::floor(c))
      throw RuntimeError("DetectionLoss: target row " + std::to_string(i) + " has class " + std::to_string(c) +
                         " outside 0.." + std::to_string(nc - 1));
    slot[i] = count[static_cast<int64_t>(b)]++;
  }
  int64_t max_count = 0;
  for (int64_t c : count) max_count = std::max(max_count, c);
  Tensor out = torch::zeros({batch_size, max_count, 5}, torch::kFloat);
  auto o = out.accessor<float, 3>();
  for (int64_t i = 0; i < m; ++i) {
    const auto b = static_cast<int64_t>(acc[i][0]);
    for (int k = 0; k < 5; ++k) o[b][slot[i]][k] = acc[i][k + 1];
  }
  out = out.to(opts.device());
  Tensor boxes = xywh2xyxy(out.narrow(-1, 1, 4).mul(scale_whwh));
  return torch::cat({out.narrow(-1, 0, 1), boxes}, -1);
}

}  // namespace

Tensor bbox_ciou(const Tensor& box1, const Tensor& box2, double eps) {
  TORCH_CHECK(box1.dim() >= 1 && box1.size(-1) == 4 && box2.dim() >= 1 && box2.size(-1) == 4,
              "bbox_ciou: expected boxes (..., 4) and (..., 4), got ", box1.sizes(), " and ", box2.sizes());
  auto b1 = box1.chunk(4, -1);
  auto b2 = box2.chunk(4, -1);
  const Tensor &b1_x1 = b1[0], &b1_y1 = b1[1], &b1_x2 = b1[2], &b1_y2 = b1[3];
  const Tensor &b2_x1 = b2[0], &b2_y1 = b2[1], &b2_x2 = b2[2], &b2_y2 = b2[3];
  Tensor w1 = b1_x2 - b1_x1, h1 = b1_y2 - b1_y1 + eps;
  Tensor w2 = b2_x2 - b2_x1, h2 = b2_y2 - b2_y1 + eps;
  Tensor inter = (torch::minimum(b1_x2, b2_x2) - torch::maximum(b1_x1, b2_x1)).clamp_min(0) *
                 (torch::minimum(b1_y2, b2_y2) - torch::maximum(b1_y1, b2_y1)).clamp_min(0);
  Tensor uni = w1 * h1 + w2 * h2 - inter + eps;
  Tensor iou = inter / uni;
  Tensor cw = torch::maximum(b1_x2, b2_x2) - torch::minimum(b1_x1, b2_x1);
  Tensor ch = torch::maximum(b1_y2, b2_y2) - torch::minimum(b1_y1, b2_y1);
  Tensor c2 = cw.pow(2) + ch.pow(2) + eps;
  Tensor rho2 = ((b2_x1 + b2_x2 - b1_x1 - b1_x2).pow(2) + (b2_y1 + b2_y2 - b1_y1 - b1_y2).pow(2)) / 4;
  Tensor v = (4 / (M_PI * M_PI)) * ((w2 / h2).atan() - (w1 / h1).atan()).pow(2);
  Tensor a;
  {
    torch::NoGradGuard no_grad;
    a = v / (v - iou + (1 + eps));
  }
  return iou - (rho2 / c2 + v * a);
}

Tensor bbox2dist(const Tensor& anchor_points, const Tensor& bbox, double max_dist) {
  TORCH_CHECK(anchor_points.dim() >= 1 && anchor_points.size(-1) == 2 && bbox.dim() >= 1 && bbox.size(-1) == 4,
              "bbox2dist: expected anchor_points (..., 2) and bbox (..., 4), got ", anchor_points.sizes(), " and ",
              bbox.sizes());
  auto xy = bbox.chunk(2, -1);
  return torch::cat({anchor_points - xy[0], xy[1] - anchor_points}, -1).clamp(0, max_dist - 0.01);
}

Tensor dfl_loss(const Tensor& pred_dist, const Tensor& target_in, int reg_max) {
  TORCH_CHECK(target_in.dim() == 2 && target_in.size(1) == 4, "dfl_loss: expected target (N, 4), got ",
              target_in.sizes());
  TORCH_CHECK(pred_dist.dim() == 2 && pred_dist.size(1) == reg_max && pred_dist.size(0) == 4 * target_in.size(0),
              "dfl_loss: expected pred_dist (", 4 * target_in.size(0), ", ", reg_max, ") for ", target_in.size(0),
              " targets, got ", pred_dist.sizes());
  Tensor target = target_in.clamp(0, reg_max - 1 - 0.01);
  Tensor tl = target.to(torch::kLong);
  Tensor tr = tl + 1;
  Tensor wl = tr - target;
  Tensor wr = 1 - wl;
  auto ce = [&](const Tensor& idx) {
    return F::cross_entropy(pred_dist, idx.view(-1), F::CrossEntropyFuncOptions().reduction(torch::kNone))
        .view(tl.sizes());
  };
  return (ce(tl) * wl + ce(tr) * wr).mean(-1, /*keepdim=*/true);
}

// ---------------------------------------------------------------------------------------------------------------------

TaskAlignedAssigner::TaskAlignedAssigner(int nc, int topk, double alpha, double beta, std::vector<int> strides,
                                         double eps)
    : nc_(nc), topk_(topk), alpha_(alpha), beta_(beta), eps_(eps), strides_(std::move(strides)) {
  if (strides_.empty()) strides_ = {8, 16, 32};
}

Assignment TaskAlignedAssigner::operator()(const Tensor& pd_scores, const Tensor& pd_bboxes, const Tensor& anchors,
                                           const Tensor& gt_labels, const Tensor& gt_bboxes,
                                           const Tensor& mask_gt) const {
  TORCH_CHECK(pd_scores.dim() == 3 && pd_scores.size(2) == nc_, "TaskAlignedAssigner: expected pd_scores (B, A, ",
              nc_, "), got ", pd_scores.sizes());
  const int64_t bs = pd_scores.size(0), na = pd_scores.size(1);
  TORCH_CHECK(pd_bboxes.sizes() == torch::IntArrayRef({bs, na, 4}), "TaskAlignedAssigner: expected pd_bboxes (", bs,
              ", ", na, ", 4), got ", pd_bboxes.sizes());
  TORCH_CHECK(anchors.sizes() == torch::IntArrayRef({na, 2}), "TaskAlignedAssigner: expected anchors (", na,
              ", 2), got ", anchors.sizes());
  TORCH_CHECK(gt_bboxes.dim() == 3 && gt_bboxes.size(0) == bs && gt_bboxes.size(2) == 4,
              "TaskAlignedAssigner: expected gt_bboxes (", bs, ", M, 4), got ", gt_bboxes.sizes());
  const int64_t n_max = gt_bboxes.size(1);
  TORCH_CHECK(gt_labels.sizes() == torch::IntArrayRef({bs, n_max, 1}) &&
                  mask_gt.sizes() == torch::IntArrayRef({bs, n_max, 1}),
              "TaskAlignedAssigner: expected gt_labels and mask_gt (", bs, ", ", n_max, ", 1), got ",
              gt_labels.sizes(), " and ", mask_gt.sizes());
  torch::NoGradGuard no_grad;
  if (n_max == 0) {
    return {torch::full({bs, na}, static_cast<int64_t>(nc_), pd_scores.options().dtype(torch::kLong)),
            torch::zeros_like(pd_bboxes), torch::zeros_like(pd_scores),
            torch::zeros({bs, na}, pd_scores.options().dtype(torch::kBool)),
            torch::zeros({bs, na}, pd_scores.options().dtype(torch::kLong))};
  }

  // Candidates: anchor centres strictly inside the gt box; boxes thinner than the finest stride are widened about
  // their centre to the next stride so that they can own an anchor at all.
  Tensor xywh = xyxy2xywh(gt_bboxes);
  Tensor wh = xywh.narrow(-1, 2, 2);
  const double small = strides_[0];
  const double grown = strides_.size() > 1 ? strides_[1] : strides_[0];
  Tensor widen = (wh < small).logical_and(mask_gt.to(torch::kBool));
  wh = torch::where(widen, torch::full({}, grown, wh.options()), wh);
  Tensor cand_boxes = xywh2xyxy(torch::cat({xywh.narrow(-1, 0, 2), wh}, -1));
  auto lt_rb = cand_boxes.unsqueeze(2).chunk(2, -1);  // (b, n, 1, 2) each
  Tensor deltas = torch::cat({anchors.unsqueeze(0).unsqueeze(0) - lt_rb[0], lt_rb[1] - anchors}, -1);
  Tensor mask_in_gts = deltas.amin(-1).gt(eps_).to(pd_scores.scalar_type());  // (b, n, a)

  // Alignment metric score^alpha * CIoU^beta on candidates of real boxes.
  Tensor cand = (mask_in_gts * mask_gt).to(torch::kBool);
  Tensor labels = gt_labels.squeeze(-1).to(torch::kLong).clamp_min(0);  // (b, n)
  Tensor scores_bna = pd_scores.gather(2, labels.unsqueeze(1).expand({bs, na, n_max})).permute({0, 2, 1});
  Tensor bbox_scores = torch::where(cand, scores_bna, torch::zeros({}, pd_scores.options()));
  // CIoU of candidate pairs only (as upstream's overlaps[mask_gt] = ...): with 20 boxes an image, computing it for
  // every box x anchor pair cost more than the rest of the loss.
  Tensor overlaps = torch::zeros({bs, n_max, na}, pd_bboxes.options());
  {
    Tensor idx = cand.nonzero();  // (K, 3): image, box, anchor
    Tensor bi = idx.select(1, 0), ni = idx.select(1, 1), ai = idx.select(1, 2);
    Tensor c = bbox_ciou(gt_bboxes.index({bi, ni}), pd_bboxes.index({bi, ai})).squeeze(-1).clamp_min(0);
    overlaps.index_put_({bi, ni, ai}, c.to(pd_bboxes.scalar_type()));
  }
  Tensor align_metric = bbox_scores.pow(alpha_) * overlaps.pow(beta_);

  // Top-k anchors by the metric for every real box; an anchor picked twice (padding rows) is dropped.
  const int64_t k = std::min<int64_t>(topk_, na);
  auto topk = torch::topk(align_metric, k, -1, /*largest=*/true);
  Tensor topk_idxs = std::get<1>(topk);
  Tensor topk_mask = mask_gt.to(torch::kBool).expand({-1, -1, k});
  topk_idxs = topk_idxs.masked_fill(~topk_mask, 0);
  Tensor count = torch::zeros(align_metric.sizes(), align_metric.options().dtype(torch::kInt));
  count.scatter_add_(-1, topk_idxs, torch::ones_like(topk_idxs, count.options()));
  count.masked_fill_(count > 1, 0);
  Tensor mask_pos = count.to(align_metric.scalar_type()) * mask_in_gts * mask_gt;

  // An anchor claimed by several boxes goes to the one it overlaps most.
  Tensor fg = mask_pos.sum(-2);
  if (fg.max().item<float>() > 1) {
    Tensor multi = (fg.unsqueeze(1) > 1).expand({-1, n_max, -1});
    Tensor max_idx = overlaps.argmax(1);
    Tensor is_max = torch::zeros_like(mask_pos).scatter_(1, max_idx.unsqueeze(1), 1);
    mask_pos = torch::where(multi, is_max, mask_pos);
    fg = mask_pos.sum(-2);
  }
  // At most one box per anchor is left, so the index of its 1 is a weighted sum (argmax over dim -2 is slow on CPU).
  Tensor target_gt_idx =
      (mask_pos * torch::arange(n_max, mask_pos.options()).view({1, -1, 1})).sum(-2).to(torch::kLong);  // (b, a)

  // Targets of the assigned box.
  Tensor flat_idx = target_gt_idx + torch::arange(bs, target_gt_idx.options()).unsqueeze(-1) * n_max;
  Tensor target_labels = gt_labels.to(torch::kLong).flatten().index({flat_idx}).clamp_min(0);
  Tensor target_bboxes = gt_bboxes.reshape({-1, 4}).index({flat_idx});
  Tensor fg_mask = fg > 0;
  Tensor target_scores = torch::one_hot(target_labels, nc_).to(pd_scores.scalar_type()) * fg_mask.unsqueeze(-1);

  // Soft targets: metric normalised per box to its best anchor, rescaled to that box's best IoU.
  align_metric = align_metric * mask_pos;
  Tensor pos_align = std::get<0>(align_metric.max(-1, true));
  Tensor pos_overlaps = std::get<0>((overlaps * mask_pos).max(-1, true));
  Tensor norm = std::get<0>((align_metric * pos_overlaps / (pos_align + eps_)).max(-2)).unsqueeze(-1);
  target_scores = target_scores * norm;
  return {target_labels, target_bboxes, target_scores, fg_mask, target_gt_idx};
}

// ---------------------------------------------------------------------------------------------------------------------

DetectionLoss::DetectionLoss(LossOptions opt)
    : opt_(std::move(opt)), assigner_(opt_.nc, opt_.topk, opt_.alpha, opt_.beta, opt_.strides) {
  if (opt_.nc < 1) throw RuntimeError("DetectionLoss: nc must be >= 1, got " + std::to_string(opt_.nc));
  if (opt_.reg_max < 2) throw RuntimeError("DetectionLoss: reg_max must be >= 2");
}

LossResult DetectionLoss::forward(const std::vector<Tensor>& feats, const Tensor& targets) const {
  TORCH_CHECK(feats.size() == opt_.strides.size(), "DetectionLoss::forward: expected ", opt_.strides.size(),
              " feature maps (one per stride), got ", feats.size());
  const int64_t no = 4 * opt_.reg_max + opt_.nc;
  std::vector<Tensor> flat;
  std::vector<std::array<int64_t, 2>> hw;
  for (const auto& f : feats) {
    TORCH_CHECK(f.dim() == 4 && f.size(1) == no && f.size(0) == feats[0].size(0),
                "DetectionLoss::forward: expected feature map ", flat.size(), " as (B, ", no,
                ", H, W) with one B for all, got ", f.sizes());
    flat.push_back(f.reshape({f.size(0), no, -1}));  // reshape: the maps may be channels-last
    hw.push_back({f.size(2), f.size(3)});
  }
  Tensor cat = torch::cat(flat, 2);
  auto parts = cat.split_with_sizes({4 * opt_.reg_max, opt_.nc}, 1);
  return forward(parts[0], parts[1], hw, targets);
}

LossResult DetectionLoss::forward(const Tensor& pred_distri_in, const Tensor& pred_scores_in,
                                  const std::vector<std::array<int64_t, 2>>& level_hw, const Tensor& targets) const {
  NoAutocast no_autocast;
  const int reg_max = opt_.reg_max;
  TORCH_CHECK(pred_distri_in.dim() == 3 && pred_distri_in.size(1) == 4 * reg_max && pred_scores_in.dim() == 3 &&
                  pred_scores_in.size(1) == opt_.nc && pred_scores_in.size(0) == pred_distri_in.size(0) &&
                  pred_scores_in.size(2) == pred_distri_in.size(2),
              "DetectionLoss::forward: expected pred_distri (B, ", 4 * reg_max, ", A) and pred_scores (B, ", opt_.nc,
              ", A), got ", pred_distri_in.sizes(), " and ", pred_scores_in.sizes());
  TORCH_CHECK(pred_distri_in.is_floating_point() && pred_scores_in.is_floating_point(),
              "DetectionLoss::forward: expected floating-point predictions, got ", pred_distri_in.scalar_type(),
              " and ", pred_scores_in.scalar_type());
  TORCH_CHECK(pred_distri_in.device() == pred_scores_in.device(), "DetectionLoss::forward: pred_distri on ",
              pred_distri_in.device(), " but pred_scores on ", pred_scores_in.device());
  TORCH_CHECK(level_hw.size() == opt_.strides.size(), "DetectionLoss::forward: expected ", opt_.strides.size(),
              " levels in level_hw (one per stride), got ", level_hw.size());
  TORCH_CHECK(!targets.defined() || targets.numel() == 0 || (targets.dim() == 2 && targets.size(1) == 6),
              "DetectionLoss::forward: expected targets (M, 6) rows batch_idx, cls, cx, cy, w, h, got ",
              targets.sizes());
  // (b, a, 4*reg_max) views: a contiguous detached copy for decoding every anchor, and the tracked view from which
  // the foreground rows are gathered.
  Tensor pred_distri = pred_distri_in.to(torch::kFloat).permute({0, 2, 1});
  Tensor pred_scores = pred_scores_in.to(torch::kFloat).permute({0, 2, 1}).contiguous();  // (b, a, nc)
  const auto opts = pred_scores.options();
  const int64_t bs = pred_scores.size(0), na = pred_scores.size(1);

  const std::vector<double> strides(opt_.strides.begin(), opt_.strides.end());
  auto [anchor_points, stride_tensor] = ops::make_anchors(level_hw, strides, 0.5, opts);
  TORCH_CHECK(anchor_points.size(0) == na, "DetectionLoss::forward: level_hw gives ", anchor_points.size(0),
              " anchors but the predictions have ", na);
  const double img_h = static_cast<double>(level_hw[0][0] * opt_.strides[0]);
  const double img_w = static_cast<double>(level_hw[0][1] * opt_.strides[0]);
  Tensor scale = torch::tensor({static_cast<float>(img_w), static_cast<float>(img_h), static_cast<float>(img_w),
                                static_cast<float>(img_h)}, opts);

  Tensor gt = preprocess_targets(targets, bs, opt_.nc, scale, opts);
  Tensor gt_labels = gt.narrow(-1, 0, 1), gt_bboxes = gt.narrow(-1, 1, 4);
  Tensor mask_gt = gt_bboxes.sum(2, true).gt(0.0).to(torch::kFloat);

  // Decode boxes (grid units): softmax over the reg_max bins, expectation against 0..reg_max-1. Only foreground
  // anchors carry a box gradient, so every anchor is decoded without autograd (for the assigner) and the foreground
  // ones again with it below: the same numbers, without a backward pass over all anchors.
  Tensor proj = torch::arange(reg_max, opts);
  auto expectation = [&](const Tensor& distri) { return distri.view({-1, 4, reg_max}).softmax(2).matmul(proj); };
  Tensor pred_bboxes;
  {
    torch::NoGradGuard no_grad;
    pred_bboxes = ops::dist2bbox(expectation(pred_distri.detach().contiguous()).view({bs, na, 4}), anchor_points);
  }

  Assignment as = assigner_(pred_scores.detach().sigmoid(), pred_bboxes.detach() * stride_tensor,
                            anchor_points * stride_tensor, gt_labels, gt_bboxes, mask_gt);
  Tensor target_scores_sum = as.target_scores.sum().clamp_min(1);

  Tensor bce = F::binary_cross_entropy_with_logits(
      pred_scores, as.target_scores, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
  if (opt_.focal) {
    // alpha_t * (1 - p_t)^gamma * BCE with soft targets t (p_t, alpha_t interpolate linearly in t).
    const Tensor& t = as.target_scores;
    Tensor p = pred_scores.sigmoid();
    Tensor p_t = t * p + (1 - t) * (1 - p);
    Tensor alpha_t = t * opt_.focal_alpha + (1 - t) * (1 - opt_.focal_alpha);
    bce = bce * (1.0 - p_t).pow(opt_.focal_gamma) * alpha_t;
  }
  Tensor loss_cls = bce.sum() / target_scores_sum;

  Tensor loss_box = torch::zeros({}, opts), loss_dfl = torch::zeros({}, opts);
  if (as.fg_mask.any().item<bool>()) {
    Tensor fg = as.fg_mask;
    Tensor weight = as.target_scores.sum(-1).index({fg}).unsqueeze(-1);
    Tensor fg_distri = pred_distri.index({fg});  // (n_fg, 4 * reg_max), with grad
    Tensor fg_anchors = anchor_points.unsqueeze(0).expand({bs, na, 2}).index({fg});
    Tensor fg_targets = as.target_bboxes.index({fg}) / stride_tensor.unsqueeze(0).expand({bs, na, 1}).index({fg});
    Tensor iou = bbox_ciou(ops::dist2bbox(expectation(fg_distri), fg_anchors), fg_targets);
    loss_box = ((1.0 - iou) * weight).sum() / target_scores_sum;
    Tensor target_ltrb = bbox2dist(fg_anchors, fg_targets, reg_max - 1);
    Tensor d = dfl_loss(fg_distri.view({-1, reg_max}), target_ltrb, reg_max) * weight;
    loss_dfl = d.sum() / target_scores_sum;
  }
  Tensor items = torch::stack({loss_box * opt_.box, loss_cls * opt_.cls, loss_dfl * opt_.dfl});
  return {items.sum() * static_cast<double>(bs), items.detach()};
}

}  // namespace vyolo::loss
