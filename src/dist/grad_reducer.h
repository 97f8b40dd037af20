// Gradient averaging for data-parallel training (what DistributedDataParallel's reducer does after backward): the
// gradients are packed into buckets of about 25 MB, every bucket's sum over the ranks is started at once (Gloo works
// on them in its own threads while later buckets are packed), and each gradient becomes the mean over the ranks.
// Every rank receives the same bytes, so identical optimizer steps keep the ranks' parameters bitwise identical.
#pragma once
#include <vector>

#include <ATen/core/Tensor.h>

#include "dist/group.h"

namespace vyolo::dist {

class GradReducer {
 public:
  GradReducer(Group& group, std::vector<at::Tensor> params, int64_t bucket_bytes = 25 << 20);

  // Every parameter's .grad becomes the mean over the ranks (a rank without a gradient contributes zeros). `flags`
  // travel in the same exchange and come back summed over the ranks (a stop request, say); they are not averaged.
  std::vector<double> average(const std::vector<double>& flags = {});

 private:
  Group& group_;
  std::vector<at::Tensor> params_;
  std::vector<std::vector<size_t>> buckets_;  // indices into params_
};

}  // namespace vyolo::dist
