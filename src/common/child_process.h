// A program run beside vyolo (W&B's live uploader, the ranks of a distributed training, parallel folds): argv executed
// directly (no shell), stdin from /dev/null, stdout and stderr merged into one pipe that a reader thread hands to
// `on_line` a line at a time (or, with no `on_line`, vyolo's own stdout and stderr).
// The child is tied to vyolo's life: it gets SIGTERM when the thread that started it ends (PR_SET_PDEATHSIG; start it
// from a thread that lives as long as the run), and it runs in its own process group, so a Ctrl-C at the terminal
// stops training gracefully without killing the upload that has to finish it.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace vyolo {

struct ChildStatus {
  bool exited = false;     // ended by itself with `code`; otherwise killed by `signal`
  int code = -1, signal = 0;
  bool timed_out = false;  // wait_for ran out of time and stopped it
  bool ok() const { return exited && code == 0 && !timed_out; }
  std::string describe() const;  // "exit status 1", "killed by signal 15 after the time limit", ...
};

class ChildProcess {
 public:
  using LineSink = std::function<void(const std::string&)>;
  // Throws RuntimeError when the process cannot be created. A program that is not found still starts: it prints
  // one line and ends with status 127, as a shell would.
  // `env`: "NAME=value" entries added to (or replacing in) vyolo's environment for the child.
  ChildProcess(const std::vector<std::string>& argv, LineSink on_line, const std::vector<std::string>& env = {});
  // Stops a child still running (as wait_for(0) does).
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits up to `seconds` for the child to end; past that, SIGTERM to its process group, then SIGKILL 3 s later.
  // Returns once the child is reaped and its output forwarded. Later calls return the same status.
  ChildStatus wait_for(double seconds);
  bool running();
  pid_t pid() const { return pid_; }
  void signal(int sig);  // to the child's process group

 private:
  void read_lines();
  bool reap(bool block);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  LineSink sink_;
  std::thread reader_;
  std::atomic<bool> stop_reading_{false};
  bool reaped_ = false;
  ChildStatus status_;
};

// Runs argv to its end (at most `seconds`) and returns everything it printed; `status` receives how it ended.
std::string run_and_capture(const std::vector<std::string>& argv, double seconds, ChildStatus* status = nullptr);

}  // namespace vyolo
