// YOLOv8 detection loss (Ultralytics v8DetectionLoss, 8.4.x): task-aligned assigner, CIoU box loss, distribution
// focal loss (DFL) and BCE (or focal) classification loss, scaled by the box/cls/dfl gains.
// Works on CPU and CUDA; always computes in float32, also when called under autocast.
// Every function here checks the shapes of its tensor arguments once per call and throws c10::Error (TORCH_CHECK)
// naming itself, with the expected and the actual shape. Bad target values (batch index, class) are RuntimeError.
#pragma once
#include <torch/torch.h>

#include <array>
#include <utility>
#include <vector>

namespace vyolo::loss {

struct LossOptions {
  int nc = 1;
  int reg_max = 16;
  std::vector<int> strides{8, 16, 32};
  double box = 7.5, cls = 0.5, dfl = 1.5;  // gains
  bool focal = false;                      // element-wise focal loss instead of BCE for the cls term
  double focal_gamma = 2.0, focal_alpha = 0.3;
  int topk = 10;                           // task-aligned assigner
  double alpha = 0.5, beta = 6.0;
};

struct LossResult {
  torch::Tensor loss_sum_times_bs;  // scalar: (box + cls + dfl) * batch size, with grad; call backward() on it
  torch::Tensor items;              // [box, cls, dfl] after gains, detached, float32 (per image, not times bs)
};

// --- building blocks (exposed for tests and for validation) -------------------------------------------------------

// Complete IoU of boxes in xyxy, broadcast over leading dims: (..., 4) x (..., 4) -> (..., 1). eps 1e-7 as
// Ultralytics; the aspect-ratio weight alpha is computed without gradient.
torch::Tensor bbox_ciou(const torch::Tensor& box1, const torch::Tensor& box2, double eps = 1e-7);

// xyxy boxes -> ltrb distances from anchor points, clamped to [0, max_dist - 0.01].
torch::Tensor bbox2dist(const torch::Tensor& anchor_points, const torch::Tensor& bbox, double max_dist);

// DFL per box: pred_dist (N*4, reg_max) logits, target (N, 4) distances -> (N, 1), the mean over the 4 sides of the
// left/right-interpolated cross entropy (target clamped to reg_max - 1 - 0.01).
torch::Tensor dfl_loss(const torch::Tensor& pred_dist, const torch::Tensor& target, int reg_max);

struct Assignment {
  torch::Tensor target_labels;  // (B, A) int64
  torch::Tensor target_bboxes;  // (B, A, 4) xyxy, pixels
  torch::Tensor target_scores;  // (B, A, nc) float, one-hot scaled by the normalised alignment metric
  torch::Tensor fg_mask;        // (B, A) bool
  torch::Tensor target_gt_idx;  // (B, A) int64
};

// Task-aligned assigner as Ultralytics 8.4 (incl. its small-box rule: gt sides below strides[0] are widened to
// strides[1] for candidate selection only).
class TaskAlignedAssigner {
 public:
  TaskAlignedAssigner(int nc, int topk = 10, double alpha = 0.5, double beta = 6.0,
                      std::vector<int> strides = {8, 16, 32}, double eps = 1e-9);
  // pd_scores (B, A, nc) probabilities; pd_bboxes (B, A, 4) xyxy pixels; anchors (A, 2) pixels;
  // gt_labels (B, M, 1); gt_bboxes (B, M, 4) xyxy pixels; mask_gt (B, M, 1) 1 for real boxes.
  Assignment operator()(const torch::Tensor& pd_scores, const torch::Tensor& pd_bboxes, const torch::Tensor& anchors,
                        const torch::Tensor& gt_labels, const torch::Tensor& gt_bboxes,
                        const torch::Tensor& mask_gt) const;

 private:
  int nc_, topk_;
  double alpha_, beta_, eps_;
  std::vector<int> strides_;
};

// --- the loss --------------------------------------------------------------------------------------------------------
class DetectionLoss {
 public:
  explicit DetectionLoss(LossOptions opt);

  // feats: per level (B, 4*reg_max + nc, H, W), the raw train-mode head output. targets: (M, 6) rows
  // batch_idx, cls, cx, cy, w, h normalised to 0..1 (any device). Image size = level-0 size * strides[0].
  LossResult forward(const std::vector<torch::Tensor>& feats, const torch::Tensor& targets) const;

  // Already flattened head outputs: pred_distri (B, 4*reg_max, A) DFL logits, pred_scores (B, nc, A) class logits,
  // level_hw the (H, W) of each level in anchor order.
  LossResult forward(const torch::Tensor& pred_distri, const torch::Tensor& pred_scores,
                     const std::vector<std::array<int64_t, 2>>& level_hw, const torch::Tensor& targets) const;

  const LossOptions& options() const { return opt_; }

 private:
  LossOptions opt_;
  TaskAlignedAssigner assigner_;
};

}  // namespace vyolo::loss
