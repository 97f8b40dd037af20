// The built `vyolo` run as a user types it, for the command-line tests: one argument string through /bin/sh (so a
// test reads like the README), stdout and stderr into a log file, the exit status back (-1 when killed by a signal).
// Tests that run the binary are skipped when it has not been built (VYOLO_BINARY comes from CMake).
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/fs_util.h"

namespace vyolo::test {

// `log` keeps the output for the test's own checks and failure messages; `cwd`, when given, is the working folder.
inline int run_vyolo_cli(const std::string& args, const std::filesystem::path& log, std::string* out = nullptr,
                         const std::filesystem::path& cwd = {}) {
  std::string cmd = std::string(VYOLO_BINARY) + " " + args + " > " + log.string() + " 2>&1";
  if (!cwd.empty()) cmd = "cd " + cwd.string() + " && " + cmd;
  const int rc = std::system(cmd.c_str());
  if (out) *out = read_file(log);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The same with a log of its own in the temp folder, removed afterwards; one name per process and call, because
// CTest runs tests in parallel processes.
inline int run_vyolo_cli(const std::string& args, std::string* out = nullptr) {
  static std::atomic<int> calls{0};
  const auto log = std::filesystem::temp_directory_path() /
                   ("vyolo_cli_" + std::to_string(::getpid()) + "_" + std::to_string(calls++) + ".log");
  const int rc = run_vyolo_cli(args, log, out);
  std::error_code ec;
  std::filesystem::remove(log, ec);
  return rc;
}

}  // namespace vyolo::test
