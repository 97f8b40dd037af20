#include "ops/device.h"

#include <algorithm>
#include <thread>

#include "common/error.h"

namespace vyolo::ops {

torch::Device parse_device(const std::string& s) {
  std::string d = s.empty() ? "cpu" : s;
  if (d == "cpu") return torch::Device(torch::kCPU);
  if (std::all_of(d.begin(), d.end(), ::isdigit)) d = "cuda:" + d;
  if (d.rfind("cuda", 0) != 0) throw UsageError("device='" + s + "': expected cpu, cuda, cuda:N or N");
  if (!torch::cuda::is_available())
    throw UsageError("device='" + s + "' (" + d + ") requested but this LibTorch has no CUDA device; use device=cpu");
  const torch::Device dev(d);
  if (dev.has_index() && dev.index() >= static_cast<int>(torch::cuda::device_count()))
    throw UsageError("device='" + s + "' (" + d + "): this machine has " +
                     std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
  return dev;
}

void init_threads(int threads) {
  static bool done = false;
  const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  if (!done) {
    done = true;
    try {
      torch::set_num_interop_threads(1);
    } catch (const std::exception&) {
      // already set (interop threads can only be set before first use)
    }
  }
}

}  // namespace vyolo::ops
