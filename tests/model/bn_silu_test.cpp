// The fused BatchNorm + SiLU training op against BatchNorm2d then SiLU: outputs, running statistics and gradients,
// alone and inside yolov8n; bfloat16 against float; the fallback for inputs it does not take; results independent of
// the thread count.
#include <gtest/gtest.h>

#include <ATen/autocast_mode.h>

#include <cmath>

#include "model/yolo.h"
#include "ops/bn_silu.h"
#include "ops/bn_silu_kernels.h"

using namespace vyolo;

namespace {

struct Outcome {
  torch::Tensor z, dx, dweight, dbias, running_mean, running_var;
  int64_t batches = 0;
};

// One training step of a BatchNorm2d (weights and running stats drawn from `seed`) on x, fused or not.
Outcome step(const torch::Tensor& x0, const torch::Tensor& dz, bool fused, uint64_t seed = 7) {
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(x0.size(1)).eps(1e-3).momentum(0.03));
  torch::manual_seed(seed);
  {
    torch::NoGradGuard ng;
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-0.5, 0.5);
    bn->running_mean.uniform_(-1, 1);
    bn->running_var.uniform_(0.5, 2);
  }
  bn->train();
  auto x = x0.detach().clone().requires_grad_(true);  // clone keeps the memory format
  auto z = fused ? ops::bn_silu(x, *bn) : torch::silu(bn->forward(x));
  z.backward(dz);
  return {z.detach(),       x.grad(),          bn->weight.grad(), bn->bias.grad(), bn->running_mean.clone(),
          bn->running_var.clone(), bn->num_batches_tracked.item<int64_t>()};
}

// max |a - b| relative to the size of b.
double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / (1.0 + b.abs().max().item<double>());
}

torch::Tensor nhwc_input(std::vector<int64_t> shape, uint64_t seed) {
  torch::manual_seed(seed);
  // Per-channel offsets and scales, as a convolution's output has: the statistics must not assume zero mean.
  auto x = torch::randn(shape) * torch::rand({1, shape[1], 1, 1}) * 3 + torch::randn({1, shape[1], 1, 1}) * 4;
  return x.contiguous(torch::MemoryFormat::ChannelsLast);
}

// fn(shape) for every shape with the loops of every instruction set this CPU runs (traced); afterwards the widest set
// again. Returns how many sets ran.
template <class F>
int for_each_isa(const std::vector<std::vector<int64_t>>& shapes, const F& fn) {
  const std::string widest = ops::kernels::bn_silu_isa();
  int sets = 0;
  for (const char* isa : {"avx512", "avx2", "generic"}) {
    if (!ops::kernels::bn_silu_use_isa(isa)) continue;
    ++sets;
    for (const auto& shape : shapes) {
      SCOPED_TRACE(std::string(isa) + " " + ::testing::PrintToString(shape));
      fn(shape);
    }
  }
  EXPECT_TRUE(ops::kernels::bn_silu_use_isa(widest.c_str()));
  return sets;
}

}  // namespace

TEST(BnSilu, MatchesBatchNormThenSilu) {
  ops::set_bn_silu_fusion(true);
  // Odd channel counts, a row count that leaves a partial last chunk, and the shapes of yolov8n's layers; with every
  // instruction set this CPU runs.
  const int sets =
      for_each_isa({{2, 7, 9, 5}, {3, 3, 64, 64}, {4, 16, 40, 40}, {2, 64, 10, 10}, {16, 256, 2, 2}, {1, 5, 1, 2}},
                   [](const std::vector<int64_t>& shape) {
                     auto x = nhwc_input(shape, 1);
                     ASSERT_TRUE(ops::bn_silu_applies(x));
                     torch::manual_seed(2);
                     auto dz = torch::randn(shape).contiguous(torch::MemoryFormat::ChannelsLast);
                     const auto ref = step(x, dz, false), got = step(x, dz, true);
                     EXPECT_TRUE(got.z.is_contiguous(torch::MemoryFormat::ChannelsLast));
                     EXPECT_LT(rel_diff(got.z, ref.z), 2e-5);
                     EXPECT_LT(rel_diff(got.dx, ref.dx), 5e-5);
                     EXPECT_LT(rel_diff(got.dweight, ref.dweight), 5e-5);
                     EXPECT_LT(rel_diff(got.dbias, ref.dbias), 5e-5);
                     EXPECT_LT(rel_diff(got.running_mean, ref.running_mean), 1e-6);
                     EXPECT_LT(rel_diff(got.running_var, ref.running_var), 1e-5);
                     EXPECT_EQ(got.batches, ref.batches);
                   });
  EXPECT_GE(sets, 1);
  std::cout << "instruction sets checked: " << sets << " (widest: " << ops::kernels::bn_silu_isa() << ")\n";
}

TEST(BnSilu, Bfloat16EqualsFloatOnTheSameValues) {
  // Under training.bf16 autocast the convolutions hand bfloat16 to the op. Reference: the float op on the same
  // values (bfloat16 widens exactly), so only the final rounding of z and dx to bfloat16 may differ; the statistics,
  // running stats and parameter gradients are float arithmetic on equal inputs.
  ops::set_bn_silu_fusion(true);
  // 16 channels over many rows (yolov8n's widest activations), odd channel counts, a partial last chunk, a row
  // longer than the loops' block, one pixel per image.
  const int sets = for_each_isa(
      {{2, 16, 40, 40}, {2, 7, 9, 5}, {3, 48, 20, 20}, {1, 5000, 2, 2}, {16, 256, 1, 1}},
      [](const std::vector<int64_t>& shape) {
        const auto x = nhwc_input(shape, 11).to(torch::kBFloat16);
        ASSERT_TRUE(ops::bn_silu_applies(x));
        torch::manual_seed(12);
        const auto dz = torch::randn(shape).to(torch::kBFloat16).contiguous(torch::MemoryFormat::ChannelsLast);
        const auto ref = step(x.to(torch::kFloat), dz.to(torch::kFloat), true), got = step(x, dz, true);
        ASSERT_EQ(got.z.scalar_type(), torch::kBFloat16);
        ASSERT_EQ(got.dx.scalar_type(), torch::kBFloat16);
        EXPECT_TRUE(got.z.is_contiguous(torch::MemoryFormat::ChannelsLast));
        // z and dx: each element the float result rounded to bfloat16 (8 significant bits: relative error <= 2^-8).
        auto rounding = [](const torch::Tensor& b, const torch::Tensor& f) {
          return ((b.to(torch::kFloat) - f).abs() / (f.abs() + 1e-6)).max().item<double>();
        };
        EXPECT_LE(rounding(got.z, ref.z), std::ldexp(1.0, -8));
        EXPECT_LE(rounding(got.dx, ref.dx), std::ldexp(1.0, -8));
        EXPECT_LT(rel_diff(got.dweight, ref.dweight), 1e-5);
        EXPECT_LT(rel_diff(got.dbias, ref.dbias), 1e-5);
        EXPECT_LT(rel_diff(got.running_mean, ref.running_mean), 1e-6);
        EXPECT_LT(rel_diff(got.running_var, ref.running_var), 1e-6);
        EXPECT_EQ(got.batches, ref.batches);
      });
  EXPECT_GE(sets, 1);
}

TEST(BnSilu, GradientOfAnNchwUpstreamIsTaken) {
  // In C2f the op's output is split by chunk(), so its gradient can arrive in the NCHW order.
  auto x = nhwc_input({2, 8, 6, 6}, 3);
  torch::manual_seed(4);
  auto dz = torch::randn({2, 8, 6, 6});  // NCHW
  const auto ref = step(x, dz, false), got = step(x, dz, true);
  EXPECT_LT(rel_diff(got.dx, ref.dx), 5e-5);
  EXPECT_LT(rel_diff(got.dweight, ref.dweight), 5e-5);
}

TEST(BnSilu, OtherInputsTakeBatchNormThenSilu) {
  auto x = nhwc_input({2, 8, 6, 6}, 5);
  EXPECT_FALSE(ops::bn_silu_applies(x.contiguous()));                // NCHW
  EXPECT_FALSE(ops::bn_silu_applies(x.to(torch::kDouble)));          // neither float nor bfloat16
  EXPECT_FALSE(ops::bn_silu_applies(x.to(torch::kHalf)));
  EXPECT_FALSE(ops::bn_silu_applies(torch::randn({1, 8, 1, 1})));    // one value per channel
  ops::set_bn_silu_fusion(false);
  EXPECT_FALSE(ops::bn_silu_applies(x));
  ops::set_bn_silu_fusion(true);
  // What it does not take, it hands to BatchNorm2d + SiLU: the same numbers exactly.
  torch::manual_seed(6);
  auto dz = torch::randn({2, 8, 6, 6});
  const auto ref = step(x.contiguous(), dz, false), got = step(x.contiguous(), dz, true);
  EXPECT_TRUE(torch::equal(got.z, ref.z));
  EXPECT_TRUE(torch::equal(got.dx, ref.dx));
}

TEST(BnSilu, SameResultsForAnyThreadCount) {
  const int before = torch::get_num_threads();
  auto x = nhwc_input({8, 32, 24, 24}, 8);
  torch::manual_seed(9);
  auto dz = torch::randn({8, 32, 24, 24}).contiguous(torch::MemoryFormat::ChannelsLast);
  torch::set_num_threads(1);
  const auto one = step(x, dz, true);
  torch::set_num_threads(2);
  const auto two = step(x, dz, true);
  torch::set_num_threads(before);
  EXPECT_TRUE(torch::equal(one.z, two.z));
  EXPECT_TRUE(torch::equal(one.dx, two.dx));
  EXPECT_TRUE(torch::equal(one.dweight, two.dweight));
  std::cout << "fused loops: " << ops::kernels::bn_silu_isa() << "\n";
}

namespace {

// One yolov8n training step in the trainer's setting (NHWC parameters and input, training mode, the same initial
// weights every time), optionally under bfloat16 autocast as training.bf16 runs it: outputs (as float), gradients
// and buffers.
std::vector<torch::Tensor> yolov8n_step(bool fused, bool bf16) {
  ops::set_bn_silu_fusion(fused);
  torch::manual_seed(0);
  model::YoloV8 net("yolov8n", 1);
  {
    torch::NoGradGuard ng;
    for (auto& p : net->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  net->train();
  torch::manual_seed(1);
  auto x = torch::rand({2, 3, 96, 128}).contiguous(torch::MemoryFormat::ChannelsLast);
  std::vector<torch::Tensor> raw;
  if (bf16) {
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::increment_nesting();
  }
  raw = net->forward(x);
  if (bf16) {
    at::autocast::decrement_nesting();
    at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(false);
  }
  torch::Tensor loss = torch::zeros({});
  for (auto& r : raw) {
    r = r.to(torch::kFloat);
    loss = loss + (r * r).mean();
  }
  loss.backward();
  ops::set_bn_silu_fusion(true);
  std::vector<torch::Tensor> out;
  for (auto& r : raw) out.push_back(r.detach());
  for (auto& p : net->parameters()) out.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  for (auto& b : net->buffers()) out.push_back(b.clone());
  return out;
}

}  // namespace

TEST(BnSilu, Yolov8nTrainingStepEqualsTheUnfusedOne) {
  const auto ref = yolov8n_step(false, false), got = yolov8n_step(true, false);
  ASSERT_EQ(ref.size(), got.size());
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_EQ(ref[i].defined(), got[i].defined()) << i;
    if (!ref[i].defined()) continue;
    if (ref[i].is_floating_point())
      worst = std::max(worst, rel_diff(got[i].to(torch::kDouble), ref[i].to(torch::kDouble)));
    else
      EXPECT_TRUE(torch::equal(got[i], ref[i])) << i;  // num_batches_tracked
  }
  EXPECT_LT(worst, 1e-3);
  std::cout << "largest relative difference over outputs, gradients and running stats: " << worst << "\n";
}

TEST(BnSilu, Yolov8nBfloat16StepIsNoFurtherFromFloatThanLibTorchsOwn) {
  // Under bfloat16 autocast a step cannot equal the float one; the fused op must not add error to what LibTorch's
  // own bfloat16 BatchNorm + SiLU give: mean relative difference from the float step over outputs, gradients and
  // running stats.
  const auto ref = yolov8n_step(false, false);
  auto mean_error = [&](const std::vector<torch::Tensor>& got) {
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < ref.size(); ++i)
      if (ref[i].defined() && ref[i].is_floating_point()) {
        sum += rel_diff(got[i].to(torch::kDouble), ref[i].to(torch::kDouble));
        ++n;
      }
    return sum / n;
  };
  const double fused = mean_error(yolov8n_step(true, true)), own = mean_error(yolov8n_step(false, true));
  std::cout << "mean relative difference from the float step: fused " << fused << ", LibTorch's bfloat16 ops " << own
            << "\n";
  EXPECT_GT(own, 1e-4);  // bfloat16 was in effect
  EXPECT_LT(fused, 0.05);
  EXPECT_LE(fused, 1.25 * own);
}
