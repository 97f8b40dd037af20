// BatchNorm over the whole distributed batch (PyTorch's SyncBatchNorm, `training.sync_bn=true`): in training mode
// each channel's mean and variance come from every rank's images, and the backward pass sums their gradients over
// the ranks, so 2 ranks x 8 images normalise as 1 process x 16. In eval mode it is the plain BatchNorm.
#pragma once
#include <torch/nn/modules/batchnorm.h>

#include "dist/group.h"

namespace vyolo::dist {

torch::Tensor sync_batch_norm(Group& group, torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x);

// The sum over ranks as an autograd operation: forward and backward are both all-reduces.
torch::Tensor allreduce_sum_autograd(Group& group, const torch::Tensor& x);

}  // namespace vyolo::dist
