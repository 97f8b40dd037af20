// Fused BatchNorm + SiLU (ops/bn_silu.h) against BatchNorm2d then SiLU, training mode, NHWC float (or bfloat16, as
// training.bf16 autocast gives it), forward and forward + backward, at the activation shapes of yolov8n's first layers
// (batch 16, 320 px input).
//   bench_bn_silu [--threads N] [--reps N] [--isa avx512|avx2|generic] [--bf16]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "median_ms.h"
#include "common/allocator.h"
#include "ops/bn_silu.h"
#include "ops/bn_silu_kernels.h"
#include "ops/device.h"

int main(int argc, char** argv) {
  vyolo::tune_allocator();
  int threads = 0, reps = 20;
  bool bf16 = false;
  for (int i = 1; i < argc; ++i) bf16 = bf16 || !std::strcmp(argv[i], "--bf16");
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--isa") && !vyolo::ops::kernels::bn_silu_use_isa(argv[i + 1])) {
      std::fprintf(stderr, "bench_bn_silu: this CPU or build has no %s loops\n", argv[i + 1]);
      return 2;
    }
  }
  vyolo::ops::init_threads(threads);
  std::printf("bench_bn_silu: %s, %d threads, fused loops for %s; ms per call (median of %d)\n",
              bf16 ? "bfloat16" : "float", torch::get_num_threads(), vyolo::ops::kernels::bn_silu_isa(), reps);
  std::printf("%-18s %12s %12s %14s %14s\n", "shape NCHW", "fwd torch", "fwd fused", "fwd+bwd torch",
              "fwd+bwd fused");
  const int64_t shapes[][4] = {{16, 16, 160, 160}, {16, 32, 80, 80}, {16, 64, 40, 40}, {16, 128, 20, 20},
                               {16, 256, 10, 10}};
  for (const auto& s : shapes) {
    torch::manual_seed(0);
    auto x = torch::randn({s[0], s[1], s[2], s[3]})
                 .to(bf16 ? torch::kBFloat16 : torch::kFloat)
                 .contiguous(torch::MemoryFormat::ChannelsLast);
    x.requires_grad_(true);
    torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(s[1]).eps(1e-3).momentum(0.03));
    bn->train();
    auto g = torch::randn_like(x);
    auto run = [&](bool fused, bool backward) {
      vyolo::ops::set_bn_silu_fusion(fused);
      return vyolo::bench::median_ms(reps, [&] {
        auto z = fused ? vyolo::ops::bn_silu(x, *bn) : torch::silu(bn->forward(x));
        if (backward) z.backward(g);
        x.mutable_grad() = torch::Tensor();
      });
    };
    char name[64];
    std::snprintf(name, sizeof name, "%ldx%ldx%ldx%ld", long(s[0]), long(s[1]), long(s[2]), long(s[3]));
    std::printf("%-18s %12.2f %12.2f %14.2f %14.2f\n", name, run(false, false), run(true, false), run(false, true),
                run(true, true));
  }
}
