#include "log/system_metrics.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

namespace vyolo::log {
namespace {

double wall_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// utime + stime (fields 14 and 15 of /proc/self/stat), in seconds; -1 when unreadable.
double process_cpu_seconds() {
  std::ifstream f("/proc/self/stat");
  std::string s;
  if (!std::getline(f, s)) return -1;
  auto close = s.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return -1;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double rss_gb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / (1024.0 * 1024.0);  // kB
  return -1;
}

}  // namespace

SystemSampler::SystemSampler() : last_cpu_s_(process_cpu_seconds()), last_wall_s_(wall_seconds()) {}

std::map<std::string, double> SystemSampler::sample() {
  std::map<std::string, double> out;
  double cpu = process_cpu_seconds(), wall = wall_seconds();
  if (cpu >= 0 && last_cpu_s_ >= 0 && wall > last_wall_s_)
    out["sys/cpu_percent"] = 100.0 * (cpu - last_cpu_s_) / (wall - last_wall_s_);
  last_cpu_s_ = cpu;
  last_wall_s_ = wall;
  double rss = rss_gb();
  if (rss >= 0) out["sys/rss_gb"] = rss;
  return out;
}

}  // namespace vyolo::log
