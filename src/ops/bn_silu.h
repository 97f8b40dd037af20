// Training-mode BatchNorm2d followed by SiLU as one autograd op, for float or bfloat16 (training.bf16 autocast) CPU
// activations in NHWC layout (training runs channels-last). Why: the two ops are memory bound; apart they read and
// write each activation about 13 times per step (forward and backward) and keep two copies of it for the backward pass,
// fused about 8 times and one copy. Same results as BatchNorm2d + SiLU to float rounding (batch statistics,
// running-stat update, gradients of the input, weight and bias).
#pragma once
#include <torch/torch.h>

namespace vyolo::ops {

// Process-wide switch (training.fused_bn_silu); on by default.
void set_bn_silu_fusion(bool on);

// True when bn_silu() takes `x`: fusion on, x is 4-D float or bfloat16 on the CPU, channels-last contiguous, more than
// one value per channel.
bool bn_silu_applies(const torch::Tensor& x);

// silu(bn(x)) with `bn` in training mode: batch statistics, running mean/var and num_batches_tracked updated as
// BatchNorm2d does (momentum, unbiased running variance), in float arithmetic. Returns an NHWC tensor of x's type.
torch::Tensor bn_silu(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn);

}  // namespace vyolo::ops
