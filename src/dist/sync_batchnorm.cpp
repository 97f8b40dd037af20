#include "dist/sync_batchnorm.h"

#include <torch/autograd.h>

namespace vyolo::dist {
namespace {

struct AllReduceSum : torch::autograd::Function<AllReduceSum> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, int64_t group) {
    ctx->saved_data["group"] = group;
    auto y = x.clone(at::MemoryFormat::Contiguous);
    reinterpret_cast<Group*>(group)->allreduce_sum(y);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto g = grad[0].clone(at::MemoryFormat::Contiguous);
    reinterpret_cast<Group*>(ctx->saved_data["group"].toInt())->allreduce_sum(g);
    return {g, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor allreduce_sum_autograd(Group& group, const torch::Tensor& x) {
  return AllReduceSum::apply(x, reinterpret_cast<int64_t>(&group));
}

torch::Tensor sync_batch_norm(Group& group, torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  if (!bn.is_training()) return bn.forward(x);
  const int64_t c = x.size(1);
  auto xf = x.scalar_type() == torch::kDouble ? x : x.to(torch::kFloat);  // statistics at least in float32
  // Per-channel sum, sum of squares and count of this rank, summed over the ranks in one exchange.
  auto local = torch::cat({xf.sum({0, 2, 3}), (xf * xf).sum({0, 2, 3}),
                           torch::full({1}, static_cast<double>(x.numel() / c), xf.options())});
  auto total = allreduce_sum_autograd(group, local);
  auto n = total.narrow(0, 2 * c, 1);
  auto mean = total.narrow(0, 0, c) / n;
  auto var = (total.narrow(0, c, c) / n - mean * mean).clamp_min(0);
  {
    torch::NoGradGuard ng;
    const double m = bn.options.momentum().value_or(0.1), count = n.item<double>();
    bn.running_mean.mul_(1 - m).add_(mean.detach(), m);
    bn.running_var.mul_(1 - m).add_(var.detach() * (count / std::max(1.0, count - 1)), m);
    bn.num_batches_tracked.add_(1);
  }
  auto shape = std::vector<int64_t>{1, c, 1, 1};
  auto y = (xf - mean.view(shape)) * torch::rsqrt(var + bn.options.eps()).view(shape) * bn.weight.view(shape) +
           bn.bias.view(shape);
  return y.to(x.scalar_type());
}

}  // namespace vyolo::dist
