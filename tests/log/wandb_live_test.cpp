// W&B online mode with a stand-in `wandb` on PATH: the live upload (`wandb beta sync --live`) is started beside the
// run, reads the run file while it grows, has its output reach the console, and is waited for (with a time limit) at
// the end; a failing or hanging uploader costs a warning, never the run. Also the ChildProcess helper on its own.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "config/config.h"
#include "common/child_process.h"
#include "log/wandb_logger.h"
#include "log_reader.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using vyolo::ChildProcess;
using vyolo::ChildStatus;
using vyolo::log::RunInfo;
using vyolo::log::WandbLogger;

namespace {

const char* kVars[] = {"WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_GROUP",
                       "WANDB_TAGS", "WANDB_API_KEY"};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool wait_for_file(const fs::path& p, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(int(seconds * 1000));
  while (!fs::exists(p)) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// How the stand-in behaves once started as `wandb beta sync --live DIR`.
enum class Uploader { kFollows, kFails, kHangs, kNoLiveOption };

class WandbLive : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kVars) unsetenv(v);
    old_path_ = std::getenv("PATH") ? std::getenv("PATH") : "";
    fs::create_directories(tmp_.path / "bin");
    fs::create_directories(tmp_.path / "seen");
  }
  void TearDown() override {
    setenv("PATH", old_path_.c_str(), 1);
    for (const char* v : kVars) unsetenv(v);
  }

  // The stand-in answers `beta sync --help`, notes every other call's arguments in seen/args, and as the live
  // uploader samples the run file every 50 ms (size to seen/sizes, a copy to seen/snap_<n>) until seen/done appears.
  void install_wandb(Uploader how) {
    const std::string seen = (tmp_.path / "seen").string();
    std::ostringstream sh;
    sh << "#!/bin/sh\n"
       << "seen='" << seen << "'\n"
       << "if [ \"$1 $2 $3\" = 'beta sync --help' ]; then\n"
       << "  echo 'Usage: wandb beta sync [OPTIONS] [PATHS]...'\n"
       << (how == Uploader::kNoLiveOption ? "" : "  echo \"  --live  Sync a run while it's still being logged.\"\n")
       << "  exit 0\nfi\n"
       << "echo \"$@\" >> \"$seen/args\"\n"
       << "[ \"$1 $2 $3\" = 'beta sync --live' ] || exit 0\n"
       << "echo 'wandb: View run at https://wandb.ai/lab/spine/runs/standin'\n";
    if (how == Uploader::kFails) sh << "echo 'wandb: ERROR upload refused' >&2\nexit 1\n";
    if (how == Uploader::kHangs) sh << "trap '' TERM\n";  // only SIGKILL ends it
    sh << ": > \"$seen/started\"\n"
       << "n=0\n"
       << "while [ $n -lt 1200 ]; do\n"
       << "  for f in \"$4\"/*.wandb; do stat -c %s \"$f\" >> \"$seen/sizes\"; cp \"$f\" \"$seen/snap_$n\"; done\n"
       << (how == Uploader::kHangs ? "" : "  [ -e \"$seen/done\" ] && exit 0\n")
       << "  n=$((n+1)); sleep 0.05\n"
       << "done\n";
    fs::path exe = tmp_.path / "bin" / "wandb";
    std::ofstream(exe) << sh.str();
    fs::permissions(exe, fs::perms::owner_all);
    setenv("PATH", ((tmp_.path / "bin").string() + ":" + old_path_).c_str(), 1);
  }

  vyolo::Config config() {
    vyolo::Config c;
    c.logging.logger = "wandb";
    c.logging.log_dir = (tmp_.path / "out").string();
    c.logging.project_name = "spine";
    c.logging.experiment_name = "live";
    c.logging.wandb.entity = "lab";
    c.logging.wandb.mode = "online";
    c.logging.wandb.stats_interval = 0;
    return c;
  }
  RunInfo info() {
    RunInfo i;
    i.run_dir = tmp_.path / "out" / "live" / "fold_0";
    i.run_name = "fold_0";
    i.config_yaml = "model:\n  name: yolov8\nseed: 1\n";
    i.command_line = "vyolo train logging=wandb";
    return i;
  }

  // A short training: `steps` scalar rows 100 ms apart, one epoch, then seen/done, then the end of the run.
  // Returns what reached stderr and stdout.
  std::string run(WandbLogger& log, int steps, bool wait_for_uploader) {
    ::testing::internal::CaptureStderr();
    ::testing::internal::CaptureStdout();
    log.run_start(info());
    if (wait_for_uploader) EXPECT_TRUE(wait_for_file(tmp_.path / "seen" / "started", 30));
    for (int s = 1; s <= steps; ++s) {
      log.scalars(s, {{"train/box_loss", 1.0 / s}});
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    log.epoch_end(1, {{"metrics/mAP50(B)", 0.5}});
    std::ofstream(tmp_.path / "seen" / "done") << "\n";
    log.run_end({{"metrics/mAP50(B)", 0.5}}, 0);
    std::string out = ::testing::internal::GetCapturedStdout();
    return ::testing::internal::GetCapturedStderr() + out;
  }

  fs::path run_file(const WandbLogger& log) { return log.run_folder() / ("run-" + log.run_id() + ".wandb"); }

  // The run reads back whole with the tests' own reader: every step, the exit record, the final record.
  void expect_complete(const WandbLogger& log, int steps) {
    auto wb = logread::read_wandb(run_file(log));
    EXPECT_EQ(wb.history.size(), size_t(steps + 1));
    EXPECT_EQ(wb.exit_code, 0);
    EXPECT_TRUE(wb.has_final);
  }

  vyolo::test::TempDir tmp_{"wandb_live"};
  std::string old_path_;
};

TEST_F(WandbLive, UploaderFollowsTheGrowingRunFile) {
  install_wandb(Uploader::kFollows);
  setenv("WANDB_API_KEY", "dummy-key", 1);
  auto cfg = config();
  WandbLogger log(vyolo::log::resolve_wandb_settings(cfg, info()), info());
  const int steps = 12;
  std::string console = run(log, steps, true);

  EXPECT_EQ(slurp(tmp_.path / "seen" / "args"), "beta sync --live " + log.run_folder().string() + "\n");
  EXPECT_NE(console.find("wandb: View run at https://wandb.ai/lab/spine/runs/standin"), std::string::npos)
      << console;
  EXPECT_EQ(console.find("warning"), std::string::npos) << console;
  EXPECT_NE(console.find("W&B run uploaded"), std::string::npos) << console;

  // The uploader saw the file grow while the steps were written...
  std::set<std::string> sizes;
  std::istringstream in(slurp(tmp_.path / "seen" / "sizes"));
  for (std::string s; std::getline(in, s);) sizes.insert(s);
  EXPECT_GE(sizes.size(), 3u);  // before the steps, during them, after them
  // ...and what it read mid-run was a clean prefix of records: the steps written so far, in order. (A copy taken in
  // the middle of one write may end in a torn record; such copies are skipped.)
  std::vector<size_t> rows_seen;
  for (int n = 0; fs::exists(tmp_.path / "seen" / ("snap_" + std::to_string(n))); ++n) {
    try {
      rows_seen.push_back(logread::read_wandb(tmp_.path / "seen" / ("snap_" + std::to_string(n))).history.size());
    } catch (const logread::ReadError&) {
    }
  }
  ASSERT_FALSE(rows_seen.empty());
  EXPECT_TRUE(std::is_sorted(rows_seen.begin(), rows_seen.end()));
  EXPECT_GE(std::set<size_t>(rows_seen.begin(), rows_seen.end()).size(), 3u);
  expect_complete(log, steps);
}

TEST_F(WandbLive, FailingUploaderWarnsAndKeepsTheRun) {
  install_wandb(Uploader::kFails);
  setenv("WANDB_API_KEY", "dummy-key", 1);
  auto cfg = config();
  WandbLogger log(vyolo::log::resolve_wandb_settings(cfg, info()), info());
  std::string console = run(log, 3, false);
  EXPECT_NE(console.find("wandb: View run at"), std::string::npos) << console;
  EXPECT_NE(console.find("wandb: ERROR upload refused"), std::string::npos) << console;
  EXPECT_NE(console.find("warning: the W&B live upload (`wandb beta sync --live`) failed: exit status 1"),
            std::string::npos)
      << console;
  EXPECT_NE(console.find("wandb sync '" + log.run_folder().string() + "'"), std::string::npos) << console;
  expect_complete(log, 3);
}

TEST_F(WandbLive, HangingUploaderIsStoppedAfterTheTimeLimit) {
  install_wandb(Uploader::kHangs);
  setenv("WANDB_API_KEY", "dummy-key", 1);
  auto cfg = config();
  WandbLogger log(vyolo::log::resolve_wandb_settings(cfg, info()), info());
  log.set_live_sync_wait(1);
  auto t0 = std::chrono::steady_clock::now();
  std::string console = run(log, 2, true);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 20);  // 0.3 s of steps, 1 s of waiting, 3 s for SIGTERM to be ignored, then SIGKILL
  EXPECT_NE(console.find("killed by signal 9"), std::string::npos) << console;
  EXPECT_NE(console.find("after the time limit"), std::string::npos) << console;
  EXPECT_NE(console.find("wandb sync '" + log.run_folder().string() + "'"), std::string::npos) << console;
  expect_complete(log, 2);
}

TEST_F(WandbLive, WithoutTheLiveOptionSyncsAtTheEnd) {
  install_wandb(Uploader::kNoLiveOption);
  setenv("WANDB_API_KEY", "dummy-key", 1);
  auto cfg = config();
  WandbLogger log(vyolo::log::resolve_wandb_settings(cfg, info()), info());
  std::string console = run(log, 2, false);
  EXPECT_FALSE(fs::exists(tmp_.path / "seen" / "sizes"));
  // `wandb sync` runs through the shell, which quotes the folder.
  EXPECT_EQ(slurp(tmp_.path / "seen" / "args"), "sync " + log.run_folder().string() + "\n");
  EXPECT_NE(console.find("uploading the W&B run: wandb sync"), std::string::npos) << console;
  expect_complete(log, 2);
}

TEST_F(WandbLive, WithoutWandbOnPathWarnsOnceAndWritesTheRun) {
  setenv("PATH", (tmp_.path / "bin").c_str(), 1);  // empty: no wandb
  setenv("WANDB_API_KEY", "dummy-key", 1);
  auto cfg = config();
  WandbLogger log(vyolo::log::resolve_wandb_settings(cfg, info()), info());
  std::string console = run(log, 2, false);
  size_t first = console.find("warning: W&B mode online, but the wandb command is not installed");
  EXPECT_NE(first, std::string::npos) << console;
  EXPECT_EQ(console.find("warning", first + 1), std::string::npos) << console;
  EXPECT_NE(console.find("upload it later with: wandb sync '" + log.run_folder().string() + "'"), std::string::npos)
      << console;
  expect_complete(log, 2);
}

TEST(ChildProcess, ForwardsLinesAndReportsTheExitStatus) {
  std::vector<std::string> lines;
  ChildProcess child({"sh", "-c", "echo one; echo two >&2; printf 'no newline'; exit 3"},
                     [&](const std::string& l) { lines.push_back(l); });
  ChildStatus st = child.wait_for(30);
  EXPECT_TRUE(st.exited);
  EXPECT_EQ(st.code, 3);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "no newline"}));
  EXPECT_EQ(st.describe(), "exit status 3");
}

TEST(ChildProcess, MissingProgramEndsWith127) {
  ChildStatus st;
  std::string out = vyolo::run_and_capture({"vyolo-no-such-program"}, 30, &st);
  EXPECT_EQ(st.code, 127);
  EXPECT_NE(out.find("command not found"), std::string::npos) << out;
}

TEST(ChildProcess, StopsAChildPastTheTimeLimit) {
  ChildProcess child({"sleep", "60"}, {});
  auto t0 = std::chrono::steady_clock::now();
  ChildStatus st = child.wait_for(0.3);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10);
  EXPECT_TRUE(st.timed_out);
  EXPECT_FALSE(st.exited);
  EXPECT_EQ(st.signal, SIGTERM);
}

// A process that starts a child and is then killed outright (no destructors run) takes the child with it.
TEST(ChildProcess, EndsWhenItsParentIsKilled) {
  vyolo::test::TempDir tmp("child_death");
  const fs::path pid_file = tmp.path / "pid";
  pid_t parent = fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    ChildProcess child({"sh", "-c", "echo $$ > '" + pid_file.string() + ".tmp'; mv '" + pid_file.string() +
                                        ".tmp' '" + pid_file.string() + "'; exec sleep 60"},
                       {});
    ::sleep(60);
    ::_exit(0);
  }
  ASSERT_TRUE(wait_for_file(pid_file, 30));
  pid_t grandchild = std::stoi(slurp(pid_file));
  ::kill(parent, SIGKILL);
  ::waitpid(parent, nullptr, 0);
  auto gone = [&] {
    if (::kill(grandchild, 0) != 0) return true;
    std::string stat = slurp("/proc/" + std::to_string(grandchild) + "/stat");  // a zombie awaiting its reaper
    size_t p = stat.rfind(')');
    return p != std::string::npos && p + 2 < stat.size() && stat[p + 2] == 'Z';
  };
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!gone() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  bool ended = gone();
  if (!ended) ::kill(grandchild, SIGKILL);
  EXPECT_TRUE(ended);
}

}  // namespace
