#include "dist/launcher.h"

#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "common/child_process.h"
#include "common/console.h"
#include "dist/env.h"

namespace vyolo::dist {
namespace {

volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }

}  // namespace

int launch_local_ranks(int nproc, const std::vector<std::string>& args, double grace_s) {
  const int port = free_port();
  std::vector<std::string> argv{"/proc/self/exe"};
  argv.insert(argv.end(), args.begin(), args.end());
  g_signal = 0;
  auto old_int = std::signal(SIGINT, on_signal);
  auto old_term = std::signal(SIGTERM, on_signal);
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  console::info("starting " + std::to_string(nproc) + " ranks (rendezvous 127.0.0.1:" + std::to_string(port) + ")");
  for (int r = 0; r < nproc; ++r) {
    std::vector<std::string> env{"RANK=" + std::to_string(r),        "WORLD_SIZE=" + std::to_string(nproc),
                                 "LOCAL_RANK=" + std::to_string(r),  "LOCAL_WORLD_SIZE=" + std::to_string(nproc),
                                 "MASTER_ADDR=127.0.0.1",            "MASTER_PORT=" + std::to_string(port)};
    ranks.push_back(std::make_unique<ChildProcess>(argv, nullptr, env));  // output straight to the terminal
  }
  int status = 0, first_failed = -1;
  bool interrupted = false;
  std::vector<bool> done(nproc, false);
  auto deadline = std::chrono::steady_clock::time_point::max();
  for (int left = nproc; left > 0;) {
    if (g_signal) {
      interrupted = true;
      for (auto& c : ranks) c->signal(g_signal);
      g_signal = 0;
    }
    for (int r = 0; r < nproc; ++r) {
      if (done[r] || ranks[r]->running()) continue;
      done[r] = true;
      --left;
      const ChildStatus st = ranks[r]->wait_for(0);
      if (st.ok() || (st.exited && st.code == 130)) {
        if (st.code == 130) interrupted = true;
        continue;
      }
      if (first_failed < 0) {
        first_failed = r;
        status = st.exited ? st.code : 128 + st.signal;
        console::warn("rank " + std::to_string(r) + " (pid " + std::to_string(ranks[r]->pid()) + ") ended with " +
                      st.describe() + "; the other ranks stop within training.dist_timeout");
        deadline = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(grace_s * 1000));
      }
    }
    if (left > 0 && std::chrono::steady_clock::now() > deadline) {
      for (int r = 0; r < nproc; ++r)
        if (!done[r]) {
          console::warn("rank " + std::to_string(r) + " did not end " + std::to_string(static_cast<int>(grace_s)) +
                        " s after rank " + std::to_string(first_failed) + " failed: stopping it");
          ranks[r]->wait_for(0);
        }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  if (first_failed >= 0) return status == 0 ? 1 : status;
  return interrupted ? 130 : 0;
}

}  // namespace vyolo::dist
