// Crash safety of a training run (issue 17, short version): `vyolo train` is killed with SIGKILL three times — halfway
// through writing the `last` checkpoint, a results.csv row, and a TensorBoard or W&B record (VYOLO_KILL_AT, see
// src/common/fault.h) — and resumed each time. The result must equal the uninterrupted run's (CPU, one thread:
// deterministic): results.csv has one row per epoch with the same values, every checkpoint reads, no temp file is
// left, and the project's TensorBoard and W&B readers accept the logs (the resumed W&B run is one run, each epoch
// logged once).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "common/fs_util.h"
#include "common/safetensors.h"
#include "log/log_reader.h"
#include "reliability/run_vyolo.h"
#include "train/train_test_util.h"

namespace fs = std::filesystem;
using namespace vyolo;

namespace {

using Result = test::VyoloRun;

Result run(const std::vector<std::string>& args, const std::string& kill_at = "") {
  return test::run_vyolo({}, args, kill_at);
}

// results.csv without its time column (the only value that differs between two identical runs).
std::vector<std::string> rows_without_time(const fs::path& csv) {
  std::ifstream in(csv);
  std::vector<std::string> rows;
  for (std::string l; std::getline(in, l);) {
    if (l.empty()) continue;
    const auto c1 = l.find(','), c2 = l.find(',', c1 + 1);
    rows.push_back(l.substr(0, c1) + l.substr(c2));
  }
  return rows;
}

std::vector<fs::path> files_under(const fs::path& dir, const std::string& part) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file() && it->path().filename().string().find(part) != std::string::npos)
      out.push_back(it->path());
  return out;
}

void killed_three_times(const std::string& logger) {
  test::TempDir dir("vyolo_crash_" + logger);
  const auto yaml = train::test::make_synthetic_set(dir.path / "set", 16, 4, 64);
  auto args = [&](const std::string& name, std::vector<std::string> more) {
    std::vector<std::string> a{"train",
                               "data.data_yaml=" + yaml.string(),
                               "data.image_size=64",
                               "data.batch_size=8",
                               "data.num_workers=1",
                               "training.epochs=4",
                               "training.optimizer=auto",
                               "training.threads=1",
                               "training.warmup_epochs=1",
                               "training.nbs=16",
                               "logging.log_dir=" + (dir.path / name).string(),
                               "logging.experiment_name=t",
                               "seed=3"};
    if (logger == "wandb")
      a.insert(a.end(), {"logging=wandb", "logging.wandb.mode=offline", "logging.wandb.stats_interval=0"});
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  const auto ref = run(args("ref", {}));
  ASSERT_TRUE(ref.status.ok()) << ref.out;

  const fs::path run_dir = dir.path / "kill" / "t" / "fold_0";
  // The record kill lands in the resumed run's epoch 2 or 3 (a few records an epoch).
  const std::vector<std::string> kills{"write:2:last.safetensors", "csv:1", "append:6"};
  for (size_t k = 0; k < kills.size(); ++k) {
    const auto r = run(args("kill", k == 0 ? std::vector<std::string>{} : std::vector<std::string>{"training.resume=true"}),
                       kills[k]);
    ASSERT_TRUE(!r.status.exited && r.status.signal == SIGKILL)
        << kills[k] << " did not kill the run (" << r.status.describe() << "):\n" << r.out;
    ASSERT_TRUE(fs::exists(run_dir / "weights" / "last.safetensors")) << kills[k];
  }
  const auto last = run(args("kill", {"training.resume=true"}));
  ASSERT_TRUE(last.status.ok()) << last.out;

  const auto a = rows_without_time(dir.path / "ref" / "t" / "fold_0" / "results.csv");
  const auto b = rows_without_time(run_dir / "results.csv");
  ASSERT_EQ(a.size(), 5u);  // header + 4 epochs
  EXPECT_EQ(a, b) << "the killed and resumed run differs from the uninterrupted one";
  for (const auto& f : files_under(run_dir / "weights", ".safetensors")) {
    EXPECT_EQ(f.extension(), ".safetensors") << "temp file left behind: " << f;
    EXPECT_NO_THROW(st::read(f.string())) << f;
  }
  std::map<int, int> epochs_logged;
  if (logger == "wandb") {
    const auto logs = files_under(dir.path / "kill", ".wandb");
    ASSERT_EQ(logs.size(), 1u) << "the resumed W&B run is not one run";
    logread::WbRun wb;
    ASSERT_NO_THROW(wb = logread::read_wandb(logs.front()));
    for (const auto& h : wb.history)
      if (auto it = h.find("epoch"); it != h.end()) ++epochs_logged[std::stoi(it->second)];
  } else {
    const auto events = files_under(run_dir / "tensorboard", "tfevents");
    ASSERT_FALSE(events.empty());
    std::set<std::pair<int64_t, std::string>> seen;
    for (const auto& e : events) {
      logread::TbRun tb;
      ASSERT_NO_THROW(tb = logread::read_tensorboard(e)) << e;
      for (const auto& s : tb.scalars)
        if (s.tag == "metrics/mAP50(B)" || s.tag == "val/map_50") seen.insert({s.step, s.tag});
    }
    for (const auto& [step, tag] : seen) ++epochs_logged[static_cast<int>(step)];
  }
  for (int e = 1; e <= 4; ++e) EXPECT_GE(epochs_logged[e], 1) << "epoch " << e << " missing from the " << logger << " logs";
  if (logger == "wandb")
    for (const auto& [e, n] : epochs_logged) EXPECT_EQ(n, 1) << "epoch " << e << " logged " << n << " times to W&B";
}

}  // namespace

TEST(CrashSafety, KilledThreeTimesWithTensorBoardEqualsTheUninterruptedRun) { killed_three_times("tensorboard"); }
TEST(CrashSafety, KilledThreeTimesWithWandbEqualsTheUninterruptedRun) { killed_three_times("wandb"); }
