#include "common/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "common/error.h"

extern char** environ;

namespace vyolo {
namespace {

using Clock = std::chrono::steady_clock;

// The PATH search happens here, before fork: between fork and exec a multithreaded parent's child may only make
// async-signal-safe calls, and execvp's search allocates.
std::string resolve(const std::string& exe) {
  if (exe.find('/') != std::string::npos) return exe;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string full = (dir.empty() ? "." : dir) + "/" + exe;
    struct stat st {};
    if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(full.c_str(), X_OK) == 0) return full;
  }
  return "";
}

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string ChildStatus::describe() const {
  std::string s;
  if (exited)
    s = code >= 0 ? "exit status " + std::to_string(code) : "ended (status unknown)";
  else
    s = "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return timed_out ? s + " after the time limit" : s;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, LineSink on_line, const std::vector<std::string>& env)
    : sink_(std::move(on_line)) {
  if (argv.empty()) throw RuntimeError("ChildProcess: empty command");
  const std::string exe = resolve(argv[0]);
  const std::string not_found = argv[0] + ": command not found\n";
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child's environment is built here too (no setenv after fork).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const std::string name = kv.substr(0, kv.find('='));
    bool replaced = false;
    for (const auto& add : env) replaced = replaced || add.substr(0, add.find('=')) == name;
    if (!replaced) env_strings.push_back(kv);
  }
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& kv : env_strings) envp.push_back(const_cast<char*>(kv.c_str()));
  envp.push_back(nullptr);
  const bool piped = static_cast<bool>(sink_);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw RuntimeError(std::string("cannot create a pipe: ") + std::strerror(errno));
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw RuntimeError("cannot start " + argv[0] + ": " + std::strerror(err));
  }
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(128 + SIGTERM);  // vyolo died before the line above took effect
    // Dispositions vyolo set (its Ctrl-C handler, an ignored SIGPIPE) and blocked signals must not reach the helper.
    for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    if (piped) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
    }
    if (!exe.empty()) ::execve(exe.c_str(), args.data(), envp.data());
    write_all(2, not_found);
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also from this side, so that a kill of the group right away cannot miss it
  ::close(fds[1]);
  if (!piped) {
    ::close(fds[0]);
    return;
  }
  out_fd_ = fds[0];
  reader_ = std::thread([this] { read_lines(); });
}

void ChildProcess::signal(int sig) {
  if (reaped_ || pid_ <= 0) return;
  if (::kill(-pid_, sig) != 0) ::kill(pid_, sig);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) wait_for(0);
}

void ChildProcess::read_lines() {
  std::string pending;
  auto emit = [&](std::string line) {
    if (line.empty()) return;
    try {
      if (sink_) sink_(line);
    } catch (...) {  // a failing sink must not end the process from this thread
    }
  };
  Clock::time_point stop_by{};
  char chunk[4096];
  while (true) {
    if (stop_reading_.load() && stop_by == Clock::time_point{}) stop_by = Clock::now() + std::chrono::seconds(2);
    pollfd p{out_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) continue;
    // Once the child is gone, what is left in the pipe is drained; a grandchild that inherited the pipe and keeps
    // it open (W&B's service process can) must not hold the join up for more than a moment.
    if (r == 0 && stop_reading_.load()) break;
    if (stop_by != Clock::time_point{} && Clock::now() > stop_by) break;
    if (r == 0) continue;
    ssize_t n = ::read(out_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(chunk, static_cast<size_t>(n));
    // Progress lines end in \r when redrawn in place; each redraw counts as a line.
    size_t start = 0;
    for (size_t i = 0; i < pending.size(); ++i)
      if (pending[i] == '\n' || pending[i] == '\r') {
        emit(pending.substr(start, i - start));
        start = i + 1;
      }
    pending.erase(0, start);
  }
  emit(pending);
}

bool ChildProcess::reap(bool block) {
  if (reaped_) return true;
  int st = 0;
  pid_t r;
  do r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  reaped_ = true;
  if (r < 0) {  // reaped elsewhere (SIGCHLD ignored): the status is lost
    status_.exited = true;
    status_.code = -1;
  } else if (WIFEXITED(st)) {
    status_.exited = true;
    status_.code = WEXITSTATUS(st);
  } else {
    status_.exited = false;
    status_.signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  }
  return true;
}

bool ChildProcess::running() { return !reap(false); }

ChildStatus ChildProcess::wait_for(double seconds) {
  if (!reaped_) {
    auto until = [](double s) { return Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); };
    auto poll_until = [&](Clock::time_point deadline) {
      while (!reap(false)) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      return true;
    };
    if (!poll_until(until(seconds))) {
      signal(SIGTERM);
      if (!poll_until(until(3))) {
        signal(SIGKILL);
        reap(true);
      }
      status_.timed_out = true;
    }
  }
  if (reader_.joinable()) {
    stop_reading_ = true;
    reader_.join();
  }
  if (out_fd_ >= 0) {
    ::close(out_fd_);
    out_fd_ = -1;
  }
  return status_;
}

std::string run_and_capture(const std::vector<std::string>& argv, double seconds, ChildStatus* status) {
  std::string out;
  ChildProcess child(argv, [&out](const std::string& line) { out += line + "\n"; });
  ChildStatus st = child.wait_for(seconds);  // joins the reader: `out` is complete and no longer shared
  if (status) *status = st;
  return out;
}

}  // namespace vyolo
