// One number printf-formatted into a std::string: the fixed numeric spellings that files and plots need ("%g" in
// label files, "%.6g" in results.csv, "%.3f" in plot legends) without iostream state.
#pragma once
#include <cstdio>
#include <string>

namespace vyolo {

// `f` holds exactly one double conversion (and any literal text); the result is cut at 63 characters.
inline std::string format_number(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace vyolo
