#include "dist/grad_reducer.h"

#include <ATen/ATen.h>

namespace vyolo::dist {

GradReducer::GradReducer(Group& group, std::vector<at::Tensor> params, int64_t bucket_bytes)
    : group_(group), params_(std::move(params)) {
  int64_t bytes = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t b = params_[i].numel() * static_cast<int64_t>(params_[i].element_size());
    if (buckets_.empty() || bytes + b > bucket_bytes) buckets_.emplace_back(), bytes = 0;
    buckets_.back().push_back(i);
    bytes += b;
  }
}

std::vector<double> GradReducer::average(const std::vector<double>& flags) {
  std::vector<at::Tensor> flats;
  const auto n_flags = static_cast<int64_t>(flags.size());
  for (size_t b = 0; b < buckets_.size() || (b == 0 && n_flags > 0); ++b) {
    int64_t n = 0;
    if (b < buckets_.size())
      for (size_t i : buckets_[b]) n += params_[i].numel();
    const bool last = b + 1 >= buckets_.size();
    const auto& ref = b < buckets_.size() ? params_[buckets_[b].front()] : at::Tensor();
    auto opts = ref.defined() ? ref.options().memory_format(c10::MemoryFormat::Contiguous) : at::TensorOptions();
    auto flat = at::zeros({n + (last ? n_flags : 0)}, ref.defined() ? opts : opts.dtype(at::kFloat));
    int64_t off = 0;
    if (b < buckets_.size())
      for (size_t i : buckets_[b]) {
        const auto& p = params_[i];
        if (p.grad().defined()) flat.narrow(0, off, p.numel()).view(p.sizes()).copy_(p.grad());
        off += p.numel();
      }
    if (last)
      for (int64_t k = 0; k < n_flags; ++k) flat[off + k].fill_(flags[k]);
    group_.allreduce_sum_async(flat);
    flats.push_back(flat);
  }
  group_.wait_all();
  std::vector<double> sums(flags.size());
  const double inv = 1.0 / group_.world();
  for (size_t b = 0; b < buckets_.size(); ++b) {
    auto& flat = flats[b];
    int64_t off = 0;
    for (size_t i : buckets_[b]) {
      auto& p = params_[i];
      auto part = flat.narrow(0, off, p.numel()).view(p.sizes());
      part.mul_(inv);
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
      p.mutable_grad().copy_(part);
      off += p.numel();
    }
    if (b + 1 == buckets_.size())
      for (int64_t k = 0; k < n_flags; ++k) sums[k] = flat[off + k].item<double>();
  }
  if (buckets_.empty() && n_flags > 0)
    for (int64_t k = 0; k < n_flags; ++k) sums[k] = flats[0][k].item<double>();
  return sums;
}

}  // namespace vyolo::dist
