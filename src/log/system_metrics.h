// Process CPU % and resident memory from /proc/self, sampled once per epoch for the trackers. GPU memory is not read
// here (this library has no CUDA): the trainer passes it in the epoch row as "sys/gpu_mem_gb".
#pragma once
#include <map>
#include <string>

namespace vyolo::log {

class SystemSampler {
 public:
  SystemSampler();
  // {"sys/cpu_percent": CPU time of this process over wall time since the previous sample, in % of one core;
  //  "sys/rss_gb": resident set size}. Keys are absent where /proc cannot be read.
  std::map<std::string, double> sample();

 private:
  double last_cpu_s_ = -1, last_wall_s_ = 0;
};

}  // namespace vyolo::log
