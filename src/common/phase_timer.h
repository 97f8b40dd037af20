// Wall-clock time per named phase of a loop, for finding where training time goes (VYOLO_PROFILE=1).
// mark(name) charges the time since the previous mark to `name`; disabled timers cost one branch.
#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace vyolo {

class PhaseTimer {
 public:
  explicit PhaseTimer(bool enabled) : on_(enabled), t_(std::chrono::steady_clock::now()) {}

  void mark(const char* phase) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    auto it = ms_.find(phase);
    if (it == ms_.end()) {
      order_.push_back(phase);
      it = ms_.emplace(phase, 0.0).first;
    }
    it->second += std::chrono::duration<double, std::milli>(now - t_).count();
    t_ = now;
  }

  void report(std::ostream& os) const {
    if (!on_) return;
    double total = 0;
    for (const auto& [k, v] : ms_) total += v;
    os << "profile:";
    for (const auto& k : order_) {
      char b[96];
      std::snprintf(b, sizeof b, "  %s %.0f ms (%.0f%%)", k.c_str(), ms_.at(k), total > 0 ? 100 * ms_.at(k) / total : 0);
      os << b;
    }
    os << "\n";
  }

 private:
  bool on_;
  std::chrono::steady_clock::time_point t_;
  std::map<std::string, double> ms_;
  std::vector<std::string> order_;
};

}  // namespace vyolo
