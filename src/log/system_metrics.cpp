#include "log/system_metrics.h"
#include "common/child_process.h"

#include "common/fs_util.h"

#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace vyolo::log {
namespace {

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string slurp(const char* path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// utime + stime of this process in seconds, and its thread count (/proc/self/stat fields 14, 15, 20).
void proc_stat(double& cpu_s, double& threads) {
  const std::string s = slurp("/proc/self/stat");
  const size_t close = s.rfind(')');
  if (close == std::string::npos) return;
  std::istringstream in(s.substr(close + 2));
  std::vector<std::string> f;
  for (std::string w; in >> w;) f.push_back(w);
  // f[0] is field 3 (state)
  if (f.size() < 18) return;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  cpu_s = (std::stod(f[11]) + std::stod(f[12])) / hz;
  threads = std::stod(f[17]);
}

std::map<std::string, double> meminfo_kb() {
  std::map<std::string, double> m;
  std::istringstream in(slurp("/proc/meminfo"));
  for (std::string key; in >> key;) {
    double v = 0;
    std::string unit;
    in >> v;
    std::getline(in, unit);
    if (!key.empty() && key.back() == ':') key.pop_back();
    m[key] = v;
  }
  return m;
}

double rss_bytes() {
  std::istringstream in(slurp("/proc/self/statm"));
  double size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// Sectors read and written by whole disks (entries of /sys/block, as psutil counts), in MB.
void disk_io_mb(double& in_mb, double& out_mb) {
  in_mb = out_mb = 0;
  std::istringstream in(slurp("/proc/diskstats"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string major, minor, name;
    ls >> major >> minor >> name;
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path("/sys/block") / name, ec)) continue;
    double v[7] = {0};
    for (double& x : v) ls >> x;  // reads, merged, sectors read, ms, writes, merged, sectors written
    in_mb += v[2] * 512 / 1048576.0;
    out_mb += v[6] * 512 / 1048576.0;
  }
}

void net_bytes(double& sent, double& recv) {
  sent = recv = 0;
  std::istringstream in(slurp("/proc/net/dev"));
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream ls(line.substr(colon + 1));
    double v[9] = {0};
    for (double& x : v) ls >> x;  // rx bytes, packets, errs, drop, fifo, frame, compressed, multicast, tx bytes
    recv += v[0];
    sent += v[8];
  }
}

// Rows of `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`, split on commas.
std::vector<std::vector<std::string>> nvidia_smi(const std::string& fields) {
  std::vector<std::vector<std::string>> rows;
  static std::atomic<bool> missing{false};  // no nvidia-smi on PATH: not looked for again every sample
  if (missing) return rows;
  ChildStatus st;
  const std::string out =
      run_and_capture({"nvidia-smi", "--query-gpu=" + fields, "--format=csv,noheader,nounits"}, 10, &st);
  if (st.exited && st.code == 127) missing = true;
  if (!st.ok()) return rows;
  std::stringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    std::vector<std::string> row;
    std::stringstream ls(line);
    for (std::string cell; std::getline(ls, cell, ',');) {
      const size_t b = cell.find_first_not_of(" \t\r\n"), e = cell.find_last_not_of(" \t\r\n");
      row.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
    }
    rows.push_back(row);
  }
  return rows;
}

bool number(const std::string& s, double& v) {
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  return !s.empty() && end && *end == '\0';
}

}  // namespace

MachineSampler::MachineSampler() : nvidia_smi_(on_path("nvidia-smi")) {
  t_prev_ = now_s();
  double threads = 0;
  proc_stat(proc_prev_, threads);
  cpu_prev_ = read_cpus();
  disk_io_mb(disk_in0_, disk_out0_);
  net_bytes(net_sent0_, net_recv0_);
}

std::vector<MachineSampler::CpuTimes> MachineSampler::read_cpus() const {
  std::vector<CpuTimes> out;
  std::istringstream in(slurp("/proc/stat"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("cpu", 0) != 0 || line.size() < 4 || !std::isdigit(static_cast<unsigned char>(line[3]))) continue;
    std::istringstream ls(line);
    std::string name;
    ls >> name;
    uint64_t v[8] = {0};
    for (auto& x : v) ls >> x;  // user nice system idle iowait irq softirq steal
    CpuTimes c;
    for (auto x : v) c.total += x;
    c.busy = c.total - v[3] - v[4];
    out.push_back(c);
  }
  return out;
}

std::map<std::string, double> MachineSampler::sample() {
  std::map<std::string, double> s;
  const double t = now_s();
  double cpu_s = proc_prev_, threads = 0;
  proc_stat(cpu_s, threads);
  const long ncpu = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  const double dt = t - t_prev_;
  if (dt > 0) s["cpu"] = 100.0 * (cpu_s - proc_prev_) / dt / static_cast<double>(ncpu);
  t_prev_ = t, proc_prev_ = cpu_s;
  s["proc.cpu.threads"] = threads;
  const auto cpus = read_cpus();
  for (size_t i = 0; i < cpus.size() && i < cpu_prev_.size(); ++i) {
    const double total = static_cast<double>(cpus[i].total - cpu_prev_[i].total);
    const double busy = static_cast<double>(cpus[i].busy - cpu_prev_[i].busy);
    s["cpu." + std::to_string(i) + ".cpu_percent"] = total > 0 ? 100.0 * busy / total : 0.0;
  }
  cpu_prev_ = cpus;

  const auto mem = meminfo_kb();
  const double total_kb = mem.count("MemTotal") ? mem.at("MemTotal") : 0;
  const double avail_kb = mem.count("MemAvailable") ? mem.at("MemAvailable") : 0;
  const double rss = rss_bytes();
  if (total_kb > 0) {
    s["memory"] = 100.0 * (total_kb - avail_kb) / total_kb;
    s["proc.memory.percent"] = 100.0 * rss / (total_kb * 1024.0);
  }
  s["proc.memory.rssMB"] = rss / 1048576.0;
  s["proc.memory.availableMB"] = avail_kb / 1024.0;

  struct statvfs fs {};
  if (statvfs("/", &fs) == 0) {
    const double used = static_cast<double>(fs.f_blocks - fs.f_bfree) * fs.f_frsize;
    const double avail = static_cast<double>(fs.f_bavail) * fs.f_frsize;
    if (used + avail > 0) s["disk./.usagePercent"] = 100.0 * used / (used + avail);
    s["disk./.usageGB"] = used / (1024.0 * 1024.0 * 1024.0);
  }
  double din = 0, dout = 0, sent = 0, recv = 0;
  disk_io_mb(din, dout);
  s["disk.in"] = din - disk_in0_;
  s["disk.out"] = dout - disk_out0_;
  net_bytes(sent, recv);
  s["network.sent"] = sent - net_sent0_;
  s["network.recv"] = recv - net_recv0_;

  if (nvidia_smi_) {
    const auto rows = nvidia_smi("utilization.gpu,utilization.memory,memory.used,memory.total,temperature.gpu,power.draw");
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      const std::string g = "gpu." + std::to_string(i) + ".";
      double v[6] = {0};
      bool ok[6] = {false};
      for (size_t k = 0; k < 6 && k < r.size(); ++k) ok[k] = number(r[k], v[k]);
      if (ok[0]) s[g + "gpu"] = v[0];
      if (ok[1]) s[g + "memory"] = v[1];
      if (ok[2] && ok[3] && v[3] > 0) s[g + "memoryAllocated"] = 100.0 * v[2] / v[3];
      if (ok[2]) s[g + "memoryAllocatedBytes"] = v[2] * 1048576.0;
      if (ok[4]) s[g + "temp"] = v[4];
      if (ok[5]) s[g + "powerWatts"] = v[5];
    }
  }
  return s;
}

std::map<std::string, double> SystemSampler::sample() {
  auto s = m_.sample();
  std::map<std::string, double> out;
  if (s.count("cpu")) out["sys/cpu_percent"] = s["cpu"] * static_cast<double>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (s.count("proc.memory.rssMB")) out["sys/rss_gb"] = s["proc.memory.rssMB"] / 1024.0;
  return out;
}

SystemMonitor::SystemMonitor(double interval_s, std::function<void(const std::map<std::string, double>&)> emit) {
  thread_ = std::thread([this, interval_s, emit = std::move(emit)] {
    MachineSampler sampler;
    const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(interval_s));
    auto next = std::chrono::steady_clock::now() + period;
    std::unique_lock<std::mutex> lk(m_);
    while (!cv_.wait_until(lk, next, [this] { return stop_; })) {
      lk.unlock();
      try {
        emit(sampler.sample());
      } catch (...) {  // a failed sample or write never stops training; the next one may work
      }
      lk.lock();
      next += period;
    }
  });
}

SystemMonitor::~SystemMonitor() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

nlohmann::json machine_facts() {
  nlohmann::json m = nlohmann::json::object();
  struct utsname u {};
  if (uname(&u) == 0) m["os"] = std::string(u.sysname) + "-" + u.release + "-" + u.machine;
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  m["cpu_count_logical"] = ncpu;
  // physical cores: distinct (physical id, core id) pairs in /proc/cpuinfo
  std::istringstream in(slurp("/proc/cpuinfo"));
  std::map<std::string, int> cores;
  std::string phys = "0";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("physical id", 0) == 0) phys = line.substr(line.find(':') + 1);
    if (line.rfind("core id", 0) == 0) cores[phys + "/" + line.substr(line.find(':') + 1)] = 1;
  }
  m["cpu_count"] = cores.empty() ? ncpu : static_cast<long>(cores.size());
  const auto mem = meminfo_kb();
  if (mem.count("MemTotal")) m["memory"] = {{"total", mem.at("MemTotal") * 1024.0}};
  struct statvfs fs {};
  if (statvfs("/", &fs) == 0)
    m["disk"] = {{"/", {{"total", static_cast<double>(fs.f_blocks) * fs.f_frsize},
                        {"used", static_cast<double>(fs.f_blocks - fs.f_bfree) * fs.f_frsize}}}};
  if (on_path("nvidia-smi")) {
    const auto rows = nvidia_smi("name,memory.total");
    if (!rows.empty()) {
      nlohmann::json dev = nlohmann::json::array();
      for (const auto& r : rows) {
        double mb = 0;
        dev.push_back({{"name", r.empty() ? "" : r[0]},
                       {"memory_total", r.size() > 1 && number(r[1], mb) ? mb * 1048576.0 : 0.0}});
      }
      m["gpu"] = rows[0].empty() ? "" : rows[0][0];
      m["gpu_count"] = rows.size();
      m["gpu_nvidia"] = dev;
    }
  }
  return m;
}

}  // namespace vyolo::log
