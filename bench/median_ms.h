// Median wall time of a call, for the benchmark programs: two warm-up calls first (oneDNN primitive creation,
// OpenCV's layer buffers), then `reps` timed calls.
#pragma once
#include <algorithm>
#include <chrono>
#include <vector>

namespace vyolo::bench {

template <typename F>
double median_ms(int reps, F&& f) {
  f();
  f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace vyolo::bench
