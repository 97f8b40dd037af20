// `vyolo` as a child process for the reliability tests: argv without a shell, optional wrapper programs before it
// (setpriv, `sh -c ulimit ...`), VYOLO_KILL_AT for a fault point (src/common/fault.h), output collected.
#pragma once
#include <string>
#include <vector>

#include "common/child_process.h"

namespace vyolo::test {

struct VyoloRun {
  ChildStatus status;
  std::string out;
};

inline VyoloRun run_vyolo(std::vector<std::string> argv, const std::vector<std::string>& args,
                          const std::string& kill_at = "", int timeout_s = 600) {
  argv.push_back(VYOLO_BINARY);
  argv.insert(argv.end(), args.begin(), args.end());
  VyoloRun r;
  std::vector<std::string> env;
  if (!kill_at.empty()) env.push_back("VYOLO_KILL_AT=" + kill_at);
  ChildProcess p(argv, [&r](const std::string& line) { r.out += line + "\n"; }, env);
  r.status = p.wait_for(timeout_s);
  return r;
}

}  // namespace vyolo::test
