#include "ops/bn_silu.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <type_traits>
#include <vector>

#include "ops/bn_silu_kernels.h"

namespace vyolo::ops {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

std::atomic<bool> g_fusion{true};

// Rows per chunk depend on the channel count only: the per-chunk sums are added in chunk order, so the results do
// not depend on the number of threads.
int64_t chunk_rows(int64_t c) { return std::max<int64_t>(1, 16384 / c); }

// Column sums of a (chunks x c) table of float partial sums, in double, in chunk order.
std::vector<double> column_sums(const std::vector<float>& part, int64_t chunks, int64_t c) {
  std::vector<double> s(c, 0.0);
  for (int64_t k = 0; k < chunks; ++k)
    for (int64_t j = 0; j < c; ++j) s[j] += part[k * c + j];
  return s;
}

Tensor float_tensor(const std::vector<double>& v) {
  auto t = torch::empty({static_cast<int64_t>(v.size())}, torch::kFloat);
  auto* p = t.data_ptr<float>();
  for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<float>(v[i]);
  return t;
}

// The element type the kernels see for a float or bfloat16 tensor.
template <class T>
T* elems(const Tensor& t) {
  if constexpr (std::is_same_v<T, float>)
    return t.data_ptr<float>();
  else
    return reinterpret_cast<T*>(t.data_ptr<c10::BFloat16>());
}

// f(T()) with T the kernels' element type of x (float or bfloat16).
template <class F>
void by_type(const Tensor& x, const F& f) {
  if (x.scalar_type() == torch::kBFloat16)
    f(kernels::bf16());
  else
    f(float());
}

struct BnSiluFn : torch::autograd::Function<BnSiluFn> {
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor gamma, Tensor beta, Tensor running_mean,
                        Tensor running_var, double momentum, double eps) {
    const int64_t c = x.size(1), rows = x.numel() / c, per = chunk_rows(c);
    const int64_t chunks = kernels::chunk_count(rows, per);
    // Sums of x - x[0, :, 0, 0] (its first row in memory): a shift near the data keeps the one-pass variance free of
    // cancellation.
    const Tensor first = x[0].select(1, 0).select(1, 0).to(torch::kFloat).contiguous();
    const std::vector<float> ref(first.data_ptr<float>(), first.data_ptr<float>() + c);
    std::vector<float> p1(chunks * c), p2(chunks * c);
    by_type(x,
            [&](auto t) { kernels::bn_stats(elems<decltype(t)>(x), c, rows, per, ref.data(), p1.data(), p2.data()); });
    const auto s1 = column_sums(p1, chunks, c), s2 = column_sums(p2, chunks, c);
    std::vector<double> mean(c), invstd(c), unbiased(c);
    for (int64_t j = 0; j < c; ++j) {
      const double m = s1[j] / rows, var = std::max(0.0, s2[j] / rows - m * m);
      mean[j] = ref[j] + m;
      invstd[j] = 1.0 / std::sqrt(var + eps);
      unbiased[j] = var * rows / (rows - 1);
    }
    Tensor mean_t = float_tensor(mean), invstd_t = float_tensor(invstd);
    running_mean.mul_(1 - momentum).add_(mean_t, momentum);
    running_var.mul_(1 - momentum).add_(float_tensor(unbiased), momentum);

    gamma = gamma.contiguous(), beta = beta.contiguous();
    Tensor scale = gamma * invstd_t, shift = beta - mean_t * scale;
    Tensor z = torch::empty_like(x);
    by_type(x, [&](auto t) {
      using T = decltype(t);
      kernels::bn_silu_forward(elems<T>(x), elems<T>(z), c, rows, per, scale.data_ptr<float>(),
                               shift.data_ptr<float>());
    });
    ctx->save_for_backward({x, gamma, beta});
    ctx->saved_data["mean"] = mean_t;
    ctx->saved_data["invstd"] = invstd_t;
    return z;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Tensor &x = saved[0], &gamma = saved[1], &beta = saved[2];
    const Tensor mean = ctx->saved_data["mean"].toTensor(), invstd = ctx->saved_data["invstd"].toTensor();
    if (!grads[0].defined()) return {Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), Tensor()};
    const Tensor dz = grads[0].to(x.scalar_type()).contiguous(torch::MemoryFormat::ChannelsLast);
    const int64_t c = x.size(1), rows = x.numel() / c, per = chunk_rows(c);
    const int64_t chunks = kernels::chunk_count(rows, per);
    const float *mp = mean.data_ptr<float>(), *ip = invstd.data_ptr<float>();
    const float *gp = gamma.data_ptr<float>(), *bp = beta.data_ptr<float>();
    // dy in float: for a float x in dx itself (then dx in place), for bfloat16 in a float tensor of its own.
    const bool is_float = x.scalar_type() == torch::kFloat;
    Tensor dx = torch::empty_like(x), dy = is_float ? dx : torch::empty_like(x, x.options().dtype(torch::kFloat));
    float* dyp = dy.data_ptr<float>();
    std::vector<float> p_dy(chunks * c), p_dyxh(chunks * c);
    by_type(x, [&](auto t) {
      using T = decltype(t);
      kernels::bn_silu_backward_sums(elems<T>(x), elems<T>(dz), dyp, c, rows, per, mp, ip, gp, bp, p_dy.data(),
                                     p_dyxh.data());
    });
    const auto s_dy = column_sums(p_dy, chunks, c), s_dyxh = column_sums(p_dyxh, chunks, c);
    std::vector<float> mean_dy(c), mean_dyxh(c);
    for (int64_t j = 0; j < c; ++j) {
      mean_dy[j] = static_cast<float>(s_dy[j] / rows);
      mean_dyxh[j] = static_cast<float>(s_dyxh[j] / rows);
    }
    if (is_float)
      kernels::bn_silu_backward_dx(x.data_ptr<float>(), dyp, c, rows, per, mp, ip, gp, mean_dy.data(),
                                   mean_dyxh.data());
    else
      kernels::bn_silu_backward_dx(elems<kernels::bf16>(x), dyp, elems<kernels::bf16>(dx), c, rows, per, mp, ip, gp,
                                   mean_dy.data(), mean_dyxh.data());
    return {dx, float_tensor(s_dyxh), float_tensor(s_dy), Tensor(), Tensor(), Tensor(), Tensor()};
  }
};

}  // namespace

void set_bn_silu_fusion(bool on) { g_fusion = on; }

bool bn_silu_applies(const torch::Tensor& x) {
  return g_fusion && x.defined() && x.dim() == 4 && x.is_cpu() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kBFloat16) && x.numel() > x.size(1) &&
         x.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

torch::Tensor bn_silu(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn) {
  const auto& o = bn.options;
  if (!bn_silu_applies(x) || !o.affine() || !o.track_running_stats() || !o.momentum().has_value() ||
      bn.weight.scalar_type() != torch::kFloat || !bn.weight.is_cpu())
    return torch::silu(bn.forward(x));
  {
    torch::NoGradGuard ng;
    bn.num_batches_tracked += 1;
  }
  return BnSiluFn::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, *o.momentum(), o.eps());
}

}  // namespace vyolo::ops
