// Shared by the libFuzzer targets (one .cpp per target in this folder; tools/fuzz.sh builds and runs them).
//
// The contract every target checks: bad input ends in one of our error types (UsageError, RuntimeError) whose message
// names the file it came from (DESIGN.md §6), or in a result that holds the reader's documented invariants. Any other
// exception, a sanitizer report, a leak, a hang or a huge allocation is a crash that libFuzzer records.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"

namespace vyolo::fuzz {

// Reports a broken invariant as a crash (abort), so that libFuzzer keeps the input.
[[noreturn]] inline void bug(const std::string& what) {
  std::fprintf(stderr, "vyolo fuzz: invariant broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

inline void check(bool ok, const std::string& what) {
  if (!ok) bug(what);
}

// A folder of this process for the files a target writes, removed at exit (tools/fuzz.sh points TMPDIR at its own
// work folder, so a crashed run leaves nothing elsewhere).
inline const std::filesystem::path& scratch() {
  struct Dir {
    std::filesystem::path p;
    Dir() {
      p = std::filesystem::temp_directory_path() / ("vyolo_fuzz_" + std::to_string(::getpid()));
      std::filesystem::create_directories(p);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  };
  static const Dir dir;
  return dir.p;
}

inline void write_bytes(const std::filesystem::path& p, const uint8_t* data, size_t size) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) bug("cannot write scratch file " + p.string());
}

inline std::string as_text(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// Runs `fn`; our error types are the expected end of bad input, and their message must name `origin` (when given).
// Anything else propagates (libFuzzer reports an uncaught exception as a crash).
template <class Fn>
bool expect_errors_naming(const std::string& origin, Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const UsageError& e) {
    check(origin.empty() || std::string(e.what()).find(origin) != std::string::npos,
          "UsageError does not name " + origin + ": " + e.what());
  } catch (const RuntimeError& e) {
    check(origin.empty() || std::string(e.what()).find(origin) != std::string::npos,
          "RuntimeError does not name " + origin + ": " + e.what());
  }
  return false;
}

// Splits `text` at each occurrence of `sep`.
inline std::vector<std::string> split(const std::string& text, const std::string& sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t next; (next = text.find(sep, at)) != std::string::npos; at = next + sep.size())
    out.push_back(text.substr(at, next - at));
  out.push_back(text.substr(at));
  return out;
}

}  // namespace vyolo::fuzz
