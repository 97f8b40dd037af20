// Where tensors run: the device string every command takes, and the CPU thread setup.
#pragma once
#include <string>

#include <torch/torch.h>

namespace vyolo::ops {

// "cpu", "cuda", "cuda:1" or a bare GPU index ("0"); a CUDA device without CUDA is a UsageError.
torch::Device parse_device(const std::string& s);

// Uses every core for intra-op parallelism (Debian's PyTorch starts with one thread); `threads` > 0 overrides.
void init_threads(int threads = 0);

}  // namespace vyolo::ops
