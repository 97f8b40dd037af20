// System metrics. MachineSampler samples the machine as W&B's SDK does for a run's System tab, under the SDK's metric names (Linux /proc, statvfs,
// and nvidia-smi when it is on PATH): cpu (process, % of all cores), cpu.<i>.cpu_percent, proc.cpu.threads, memory
// (system %), proc.memory.rssMB / percent / availableMB, disk./.usagePercent / usageGB, disk.in / disk.out (MB since
// start), network.sent / network.recv (bytes since start), gpu.<i>.gpu / memory / memoryAllocated /
// memoryAllocatedBytes / temp / powerWatts.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace vyolo::log {

class MachineSampler {
 public:
  MachineSampler();
  // One sample; rates (CPU %) are measured since the previous call (the first call: since construction).
  std::map<std::string, double> sample();

 private:
  struct CpuTimes {
    uint64_t busy = 0, total = 0;
  };
  std::vector<CpuTimes> read_cpus() const;
  double t_prev_ = 0, proc_prev_ = 0;  // seconds: wall clock, process CPU time
  std::vector<CpuTimes> cpu_prev_;
  double disk_in0_ = 0, disk_out0_ = 0, net_sent0_ = 0, net_recv0_ = 0;
  bool nvidia_smi_ = false;
};

// The epoch-level view for results.csv / TensorBoard: {"sys/cpu_percent": process CPU time over wall time since the
// previous sample, in % of one core; "sys/rss_gb": resident set size}. GPU memory comes from the trainer
// ("sys/gpu_mem_gb"): this library has no CUDA.
class SystemSampler {
 public:
  std::map<std::string, double> sample();

 private:
  MachineSampler m_;
};

// Calls `emit` with a MachineSampler sample every `interval_s` seconds from a background thread until destroyed.
class SystemMonitor {
 public:
  SystemMonitor(double interval_s, std::function<void(const std::map<std::string, double>&)> emit);
  ~SystemMonitor();
  SystemMonitor(const SystemMonitor&) = delete;
  SystemMonitor& operator=(const SystemMonitor&) = delete;

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Facts about the machine for wandb-metadata.json, as the SDK names them: os, cpu_count (physical),
// cpu_count_logical, memory.total, disk./.total/used (bytes), and gpu, gpu_count, gpu_nvidia when nvidia-smi reports
// a GPU.
nlohmann::json machine_facts();

}  // namespace vyolo::log
