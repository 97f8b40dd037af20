#include "model/yolo.h"

#include <cmath>

#include "common/error.h"
#include "ops/anchors.h"
#include "ops/bn_silu.h"

namespace vyolo::model {

namespace {

// Counts multiply-adds while `gflops()` runs a forward pass; null otherwise.
thread_local double* g_macs = nullptr;

void count_conv(const torch::Tensor& out, const torch::Tensor& w, bool bias) {
  if (!g_macs) return;
  // Ultralytics (through thop) counts output elements x (input channels per group x kernel area + bias).
  *g_macs += static_cast<double>(out.numel()) * (w.size(1) * w.size(2) * w.size(3) + (bias ? 1 : 0));
}

int make_divisible(double x, int divisor) { return static_cast<int>(std::ceil(x / divisor) * divisor); }

torch::Tensor conv_forward(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, int64_t stride,
                           int64_t pad, int64_t groups) {
  // Why: below batch 16 PyTorch 1.13 routes small CPU convolutions to im2col + BLAS (reference BLAS on Debian).
  if (x.is_cpu() && x.scalar_type() == torch::kFloat && x.size(0) < 16 && torch::hasMKLDNN() &&
      !torch::GradMode::is_enabled()) {
    return torch::mkldnn_convolution(x.contiguous(), w, b.defined() ? c10::optional<torch::Tensor>(b) : c10::nullopt,
                                     {pad, pad}, {stride, stride}, {1, 1}, groups);
  }
  return torch::conv2d(x, w, b, stride, pad, 1, groups);
}

}  // namespace

Scale scale_of(const std::string& variant) {
  if (variant == "yolov8n") return {0.33, 0.25, 1024};
  if (variant == "yolov8s") return {0.33, 0.50, 1024};
  if (variant == "yolov8m") return {0.67, 0.75, 768};
  if (variant == "yolov8l") return {1.00, 1.00, 512};
  if (variant == "yolov8x") return {1.00, 1.25, 512};
  throw UsageError("unknown model variant '" + variant + "' (expected yolov8n, yolov8s, yolov8m, yolov8l or yolov8x)");
}

// ---------------------------------------------------------------------------------------------------------------
ConvBlockImpl::ConvBlockImpl(int c1, int c2, int k, int s, int g, bool act)
    : act_(act), stride_(s), pad_(k / 2), groups_(g) {
  conv = register_module(
      "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(c1, c2, k).stride(s).padding(k / 2).groups(g).bias(false)));
  bn = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(c2).eps(1e-3).momentum(0.03)));
}

torch::Tensor ConvBlockImpl::forward(torch::Tensor x) {
  torch::Tensor y;
  if (fused_) {
    y = conv_forward(x, conv->weight, fused_bias_, stride_, pad_, groups_);
    count_conv(y, conv->weight, true);
  } else {
    y = conv_forward(x, conv->weight, {}, stride_, pad_, groups_);
    count_conv(y, conv->weight, false);
    // thop counts an affine BatchNorm as 4 operations per element, and Ultralytics doubles thop counts.
    if (g_macs) *g_macs += 4.0 * static_cast<double>(y.numel());
    if (act_ && !norm && is_training() && ops::bn_silu_applies(y)) return ops::bn_silu(y, *bn);
    y = norm ? norm(*bn, y) : bn->forward(y);
  }
  return act_ ? torch::silu(y) : y;
}

void ConvBlockImpl::fuse() {
  if (fused_) return;
  torch::NoGradGuard ng;
  auto scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
  auto w = conv->weight * scale.view({-1, 1, 1, 1});
  auto b = bn->bias - bn->running_mean * scale;
  conv->weight.set_data(w);
  fused_bias_ = b;
  fused_ = true;
}

// ---------------------------------------------------------------------------------------------------------------
BottleneckImpl::BottleneckImpl(int c1, int c2, bool shortcut) : add_(shortcut && c1 == c2) {
  cv1 = register_module("cv1", ConvBlock(c1, c2, 3, 1));  // e = 1.0 inside C2f
  cv2 = register_module("cv2", ConvBlock(c2, c2, 3, 1));
}

torch::Tensor BottleneckImpl::forward(torch::Tensor x) {
  auto y = cv2->forward(cv1->forward(x));
  return add_ ? x + y : y;
}

C2fImpl::C2fImpl(int c1, int c2, int n, bool shortcut) : c_(c2 / 2) {
  cv1 = register_module("cv1", ConvBlock(c1, 2 * c_, 1, 1));
  cv2 = register_module("cv2", ConvBlock((2 + n) * c_, c2, 1, 1));
  m = register_module("m", torch::nn::ModuleList());
  for (int i = 0; i < n; ++i) m->push_back(Bottleneck(c_, c_, shortcut));
}

torch::Tensor C2fImpl::forward(torch::Tensor x) {
  auto y = cv1->forward(x).chunk(2, 1);
  std::vector<torch::Tensor> parts(y.begin(), y.end());
  for (auto& b : *m) parts.push_back(b->as<Bottleneck>()->forward(parts.back()));
  return cv2->forward(torch::cat(parts, 1));
}

SPPFImpl::SPPFImpl(int c1, int c2, int k) {
  int c_ = c1 / 2;
  // Ultralytics 8.4 dropped the activation after SPPF's first convolution (weights trained since expect that).
  cv1 = register_module("cv1", ConvBlock(c1, c_, 1, 1, 1, /*act=*/false));
  cv2 = register_module("cv2", ConvBlock(c_ * 4, c2, 1, 1));
  m = register_module("m", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(k).stride(1).padding(k / 2)));
}

torch::Tensor SPPFImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> y{cv1->forward(x)};
  for (int i = 0; i < 3; ++i) y.push_back(m->forward(y.back()));
  return cv2->forward(torch::cat(y, 1));
}

// ---------------------------------------------------------------------------------------------------------------
DetectImpl::DetectImpl(int nc_, const std::vector<int>& ch, int reg_max_) : nc(nc_), reg_max(reg_max_) {
  const int c2 = std::max({16, ch[0] / 4, reg_max * 4});
  const int c3 = std::max(ch[0], std::min(nc, 100));
  cv2 = register_module("cv2", torch::nn::ModuleList());
  cv3 = register_module("cv3", torch::nn::ModuleList());
  for (int c : ch) {
    cv2->push_back(torch::nn::Sequential(ConvBlock(c, c2, 3), ConvBlock(c2, c2, 3),
                                         torch::nn::Conv2d(torch::nn::Conv2dOptions(c2, 4 * reg_max, 1))));
    cv3->push_back(torch::nn::Sequential(ConvBlock(c, c3, 3), ConvBlock(c3, c3, 3),
                                         torch::nn::Conv2d(torch::nn::Conv2dOptions(c3, nc, 1))));
  }
  dfl = std::make_shared<torch::nn::Module>();
  auto proj = torch::arange(reg_max, torch::kFloat).view({1, reg_max, 1, 1});
  auto conv = std::make_shared<torch::nn::Module>();
  dfl_weight = conv->register_parameter("weight", proj, /*requires_grad=*/false);
  dfl->register_module("conv", conv);
  register_module("dfl", dfl);
  bias_init();
}

void DetectImpl::bias_init() {
  torch::NoGradGuard ng;
  for (size_t i = 0; i < cv2->size(); ++i) {
    auto box = cv2[i]->as<torch::nn::Sequential>()->ptr(2)->as<torch::nn::Conv2d>();
    auto cls = cv3[i]->as<torch::nn::Sequential>()->ptr(2)->as<torch::nn::Conv2d>();
    box->bias.fill_(2.0);  // 8.4's value (1.0 before); DFL's softmax makes the offset invisible to outputs
    cls->bias.fill_(std::log(5.0 / nc / std::pow(640.0 / strides[i], 2)));
  }
}

std::vector<torch::Tensor> DetectImpl::forward(const std::vector<torch::Tensor>& x) {
  TORCH_CHECK(x.size() == cv2->size(), "Detect::forward: expected ", cv2->size(), " feature maps, got ", x.size());
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < x.size(); ++i) {
    const int64_t c = cv2[i]->as<torch::nn::Sequential>()->ptr(0)->as<ConvBlock>()->conv->weight.size(1);
    TORCH_CHECK(x[i].dim() == 4 && x[i].size(1) == c, "Detect::forward: expected feature map ", i, " as (B, ", c,
                ", H, W), got ", x[i].sizes());
    auto run = [&](torch::nn::Sequential& seq) {
      auto h = seq->ptr(1)->as<ConvBlock>()->forward(seq->ptr(0)->as<ConvBlock>()->forward(x[i]));
      auto last = seq->ptr(2)->as<torch::nn::Conv2d>();
      auto y = conv_forward(h, last->weight, last->bias, 1, 0, 1);
      count_conv(y, last->weight, true);
      return y;
    };
    torch::nn::Sequential a(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(cv2[i]));
    torch::nn::Sequential b(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(cv3[i]));
    out.push_back(torch::cat({run(a), run(b)}, 1));
  }
  return out;
}

torch::Tensor DetectImpl::decode(const std::vector<torch::Tensor>& raw) const {
  const int64_t no = nc + 4 * reg_max;
  TORCH_CHECK(raw.size() == strides.size(), "Detect::decode: expected ", strides.size(), " level outputs, got ",
              raw.size());
  for (size_t i = 0; i < raw.size(); ++i)
    TORCH_CHECK(raw[i].dim() == 4 && raw[i].size(1) == no && raw[i].size(0) == raw[0].size(0),
                "Detect::decode: expected level output ", i, " as (B, ", no, ", H, W) with one B for all, got ",
                raw[i].sizes());
  const int64_t b = raw[0].size(0);
  std::vector<torch::Tensor> flat;
  for (auto& r : raw) flat.push_back(r.view({b, no, -1}));
  auto x = torch::cat(flat, 2);
  auto parts = x.split_with_sizes({4 * reg_max, nc}, 1);
  std::vector<std::array<int64_t, 2>> level_hw;
  for (auto& r : raw) level_hw.push_back({r.size(2), r.size(3)});
  auto [anchors, stride] = ops::make_anchors(level_hw, strides, 0.5, raw[0].options());
  const int64_t a = x.size(2);
  // DFL: softmax over the reg_max bins, expectation through the fixed 1x1 projection convolution.
  auto p = parts[0].view({b, 4, reg_max, a}).transpose(2, 1).softmax(1);
  auto dist = torch::conv2d(p, dfl_weight.to(p.dtype())).view({b, 4, a});
  auto lt_rb = dist.chunk(2, 1);
  auto anc = anchors.transpose(0, 1).unsqueeze(0);
  auto x1y1 = anc - lt_rb[0];
  auto x2y2 = anc + lt_rb[1];
  auto box = torch::cat({(x1y1 + x2y2) / 2, x2y2 - x1y1}, 1) * stride.transpose(0, 1);
  return torch::cat({box, parts[1].sigmoid()}, 1);
}

// ---------------------------------------------------------------------------------------------------------------
YoloV8Impl::YoloV8Impl(const std::string& variant_, int nc_, int input_channels_)
    : variant(variant_), nc(nc_), input_channels(input_channels_) {
  if (nc < 1) throw UsageError("model.num_classes must be at least 1");
  const Scale sc = scale_of(variant);
  auto ch = [&](int c) { return make_divisible(std::min(c, sc.max_channels) * sc.width, 8); };
  auto rep = [&](int n) { return std::max(static_cast<int>(std::round(n * sc.depth)), 1); };
  const int c64 = ch(64), c128 = ch(128), c256 = ch(256), c512 = ch(512), c1024 = ch(1024);

  model = register_module("model", torch::nn::ModuleList());
  auto add = [&](std::shared_ptr<torch::nn::Module> m) {
    model->push_back(m);
    layers_.push_back(m);
  };
  add(ConvBlock(input_channels, c64, 3, 2).ptr());           // 0
  add(ConvBlock(c64, c128, 3, 2).ptr());                     // 1
  add(C2f(c128, c128, rep(3), true).ptr());                  // 2
  add(ConvBlock(c128, c256, 3, 2).ptr());                    // 3
  add(C2f(c256, c256, rep(6), true).ptr());                  // 4  → P3 skip
  add(ConvBlock(c256, c512, 3, 2).ptr());                    // 5
  add(C2f(c512, c512, rep(6), true).ptr());                  // 6  → P4 skip
  add(ConvBlock(c512, c1024, 3, 2).ptr());                   // 7
  add(C2f(c1024, c1024, rep(3), true).ptr());                // 8
  add(SPPF(c1024, c1024, 5).ptr());                          // 9
  add(torch::nn::Identity().ptr());                          // 10 upsample
  add(torch::nn::Identity().ptr());                          // 11 concat 6
  add(C2f(c1024 + c512, c512, rep(3), false).ptr());         // 12
  add(torch::nn::Identity().ptr());                          // 13 upsample
  add(torch::nn::Identity().ptr());                          // 14 concat 4
  add(C2f(c512 + c256, c256, rep(3), false).ptr());          // 15 P3
  add(ConvBlock(c256, c256, 3, 2).ptr());                    // 16
  add(torch::nn::Identity().ptr());                          // 17 concat 12
  add(C2f(c256 + c512, c512, rep(3), false).ptr());          // 18 P4
  add(ConvBlock(c512, c512, 3, 2).ptr());                    // 19
  add(torch::nn::Identity().ptr());                          // 20 concat 9
  add(C2f(c512 + c1024, c1024, rep(3), false).ptr());        // 21 P5
  detect = Detect(nc, std::vector<int>{c256, c512, c1024});
  add(detect.ptr());                                         // 22
}

std::vector<torch::Tensor> YoloV8Impl::forward(torch::Tensor x, std::vector<torch::Tensor>* neck) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == input_channels, "YoloV8::forward: expected input (B, ", input_channels,
              ", H, W), got ", x.sizes());
  TORCH_CHECK(x.is_floating_point(), "YoloV8::forward: expected a floating-point input, got ", x.scalar_type());
  const torch::Device dev = layers_[0]->as<ConvBlock>()->conv->weight.device();
  TORCH_CHECK(x.device() == dev, "YoloV8::forward: input on ", x.device(), " but the model on ", dev);
  auto conv = [&](int i, const torch::Tensor& t) { return layers_[i]->as<ConvBlock>()->forward(t); };
  auto c2f = [&](int i, const torch::Tensor& t) { return layers_[i]->as<C2f>()->forward(t); };
  auto up = [](const torch::Tensor& t) {
    return torch::upsample_nearest2d(t, std::vector<int64_t>{t.size(2) * 2, t.size(3) * 2});
  };
  auto x1 = conv(1, conv(0, x));
  auto x4 = c2f(4, conv(3, c2f(2, x1)));
  auto x6 = c2f(6, conv(5, x4));
  auto x9 = layers_[9]->as<SPPF>()->forward(c2f(8, conv(7, x6)));
  auto x12 = c2f(12, torch::cat({up(x9), x6}, 1));
  auto x15 = c2f(15, torch::cat({up(x12), x4}, 1));
  auto x18 = c2f(18, torch::cat({conv(16, x15), x12}, 1));
  auto x21 = c2f(21, torch::cat({conv(19, x18), x9}, 1));
  if (neck) *neck = {x15, x18, x21};
  return detect->forward({x15, x18, x21});
}

void YoloV8Impl::fuse() {
  for (auto& m : modules(/*include_self=*/false))
    if (auto c = std::dynamic_pointer_cast<ConvBlockImpl>(m)) c->fuse();
}

void YoloV8Impl::set_norm(const NormFn& fn) {
  for (auto& m : modules(/*include_self=*/false))
    if (auto c = std::dynamic_pointer_cast<ConvBlockImpl>(m)) c->norm = fn;
}

int64_t YoloV8Impl::num_parameters() const {
  int64_t n = 0;
  for (auto& p : parameters()) n += p.numel();
  return n;
}

double YoloV8Impl::gflops(int imgsz) {
  torch::NoGradGuard ng;
  double macs = 0;
  g_macs = &macs;
  const bool was_training = is_training();
  eval();
  try {
    auto p = parameters().front();
    forward(torch::zeros({1, input_channels, imgsz, imgsz}, p.options()));
  } catch (...) {
    g_macs = nullptr;
    throw;
  }
  g_macs = nullptr;
  train(was_training);
  return 2.0 * macs / 1e9;
}

}  // namespace vyolo::model
