// YOLOv8 detection network (Ultralytics' yolov8.yaml) for every scale, any class count and input channel count.
// Parameter and buffer names equal Ultralytics' state_dict names (`model.N.…`), so its weights load unchanged.
//
//   YoloV8 net("yolov8n", /*nc=*/1);
//   auto raw = net->forward(x);              // per level B x (64 + nc) x H x W  (what the loss takes)
//   auto out = net->decode(raw);             // B x (4 + nc) x anchors: cx, cy, w, h in pixels, sigmoid scores
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "common/torch_pch.h"

namespace vyolo::model {

struct Scale {
  double depth;
  double width;
  int max_channels;
};

// depth/width multipliers and channel caps as in Ultralytics' yolov8.yaml; throws UsageError for an unknown variant.
Scale scale_of(const std::string& variant);

// A replacement for BatchNorm2d's forward (dist::sync_batch_norm for training.sync_bn); empty: BatchNorm2d itself.
using NormFn = std::function<torch::Tensor(torch::nn::BatchNorm2dImpl&, const torch::Tensor&)>;

// Conv2d (no bias) + BatchNorm2d (eps 1e-3, momentum 0.03) + SiLU. `fuse()` folds BN into the convolution for
// inference. On CPU at batch sizes below 16 the convolution calls oneDNN directly: PyTorch 1.13 would otherwise send
// small maps to its im2col + reference-BLAS path, which is several times slower.
class ConvBlockImpl : public torch::nn::Module {
 public:
  ConvBlockImpl(int c1, int c2, int k = 1, int s = 1, int g = 1, bool act = true);
  torch::Tensor forward(torch::Tensor x);
  void fuse();
  // What an exporter needs to write the same layer: after fuse(), conv->weight and fused_bias() are the folded pair.
  bool fused() const { return fused_; }
  const torch::Tensor& fused_bias() const { return fused_bias_; }
  bool act() const { return act_; }
  int stride() const { return stride_; }
  int pad() const { return pad_; }
  int groups() const { return groups_; }

  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  NormFn norm;

 private:
  bool act_;
  int stride_, pad_, groups_;
  bool fused_ = false;
  torch::Tensor fused_bias_;
};
TORCH_MODULE(ConvBlock);

class BottleneckImpl : public torch::nn::Module {
 public:
  BottleneckImpl(int c1, int c2, bool shortcut);
  torch::Tensor forward(torch::Tensor x);
  bool add() const { return add_; }  // residual connection
  ConvBlock cv1{nullptr}, cv2{nullptr};

 private:
  bool add_;
};
TORCH_MODULE(Bottleneck);

class C2fImpl : public torch::nn::Module {
 public:
  C2fImpl(int c1, int c2, int n, bool shortcut);
  torch::Tensor forward(torch::Tensor x);
  ConvBlock cv1{nullptr}, cv2{nullptr};
  torch::nn::ModuleList m;

 private:
  int c_;
};
TORCH_MODULE(C2f);

class SPPFImpl : public torch::nn::Module {
 public:
  SPPFImpl(int c1, int c2, int k = 5);
  torch::Tensor forward(torch::Tensor x);
  ConvBlock cv1{nullptr}, cv2{nullptr};
  torch::nn::MaxPool2d m{nullptr};
};
TORCH_MODULE(SPPF);

// Decoupled head with Distribution Focal Loss box regression over strides 8/16/32.
class DetectImpl : public torch::nn::Module {
 public:
  DetectImpl(int nc, const std::vector<int>& ch, int reg_max = 16);
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& x);
  // Raw level outputs → (B, 4 + nc, A): DFL expectation, dist2bbox around anchor points, times stride; sigmoid scores.
  // forward and decode check the number and shapes of their levels (c10::Error naming the function).
  torch::Tensor decode(const std::vector<torch::Tensor>& raw) const;
  void bias_init();  // Ultralytics' Detect.bias_init: box 2.0, cls log(5 / nc / (640 / s)^2)

  int nc, reg_max;
  std::vector<double> strides{8, 16, 32};
  torch::nn::ModuleList cv2, cv3;
  std::shared_ptr<torch::nn::Module> dfl;
  torch::Tensor dfl_weight;  // model.22.dfl.conv.weight: the fixed 0..reg_max-1 projection
};
TORCH_MODULE(Detect);

class YoloV8Impl : public torch::nn::Module {
 public:
  YoloV8Impl(const std::string& variant, int nc, int input_channels = 3);

  // Raw head outputs per level. `neck`, when given, receives the P3/P4/P5 maps entering the head (layers 15/18/21).
  // x: (B, input_channels, H, W), floating point, on the model's device (else c10::Error naming YoloV8::forward).
  std::vector<torch::Tensor> forward(torch::Tensor x, std::vector<torch::Tensor>* neck = nullptr);
  torch::Tensor decode(const std::vector<torch::Tensor>& raw) const { return detect->decode(raw); }
  torch::Tensor predict(torch::Tensor x) { return decode(forward(x)); }

  void fuse();  // fold every BatchNorm into its convolution (inference only)
  void set_norm(const NormFn& fn);  // every ConvBlock's `norm`
  int64_t num_parameters() const;
  // Floating-point operations (2 x multiply-adds of every convolution) for a square input of `imgsz`, in GFLOPs.
  double gflops(int imgsz);

  std::string variant;
  int nc, input_channels;
  torch::nn::ModuleList model;
  Detect detect{nullptr};

 private:
  std::vector<std::shared_ptr<torch::nn::Module>> layers_;
};
TORCH_MODULE(YoloV8);

}  // namespace vyolo::model
