// Writes that fail mid-run (issue 17 §4): past a file-size limit (`ulimit -f`, EFBIG: what a full disk looks like to
// a writer) and into a read-only folder, `vyolo train` stops with status 1 and a message naming the file, the last good
// checkpoint stays intact, and `resume` works once writing is possible again. And `vyolo prepare` killed halfway
// through a case redoes that case on the next run (it never looks done), ending with the dataset a clean run makes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/fs_util.h"
#include "common/safetensors.h"
#include "reliability/run_vyolo.h"
#include "train/train_test_util.h"

namespace fs = std::filesystem;
using namespace vyolo;

namespace {

using Result = test::VyoloRun;

// `vyolo args...`, optionally under `ulimit -f <kb>` (through sh, the test's own shell) and VYOLO_KILL_AT; `as_nobody`
// (when the test runs as root, for whom permissions do not apply) through setpriv as user nobody.
Result run(const std::vector<std::string>& args, long ulimit_kb = 0, const std::string& kill_at = "",
           bool as_nobody = false) {
  std::vector<std::string> argv;
  if (as_nobody) argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  if (ulimit_kb > 0) argv.insert(argv.end(), {"sh", "-c", "ulimit -f " + std::to_string(ulimit_kb) + " && exec \"$0\" \"$@\""});
  return test::run_vyolo(argv, args, kill_at);
}

size_t csv_rows(const fs::path& csv) {
  std::ifstream in(csv);
  size_t n = 0;
  for (std::string l; std::getline(in, l);) n += !l.empty();
  return n > 0 ? n - 1 : 0;
}

struct TrainRun {
  test::TempDir dir{"vyolo_writefail"};
  fs::path yaml = train::test::make_synthetic_set(dir.path / "set", 16, 4, 64);
  std::vector<std::string> args(int epochs, bool resume) const {
    std::vector<std::string> a{"train", "data.data_yaml=" + yaml.string(), "data.image_size=64", "data.batch_size=8",
                               "data.num_workers=1", "training.epochs=" + std::to_string(epochs),
                               "training.optimizer=auto", "training.threads=1", "training.warmup_epochs=1",
                               "logging.log_dir=" + (dir.path / "runs").string(), "logging.experiment_name=t",
                               "seed=3"};
    if (resume) a.push_back("training.resume=true");
    return a;
  }
  fs::path run_dir() const { return dir.path / "runs" / "t" / "fold_0"; }
  fs::path last() const { return run_dir() / "weights" / "last.safetensors"; }
  int last_epoch() const { return std::stoi(st::read(last().string()).metadata.at("epoch")); }
};

}  // namespace

TEST(WriteFailure, FileSizeLimitStopsTrainingNamingTheFileAndResumeWorksAfter) {
  TrainRun t;
  auto first = run(t.args(1, false));
  ASSERT_TRUE(first.status.ok()) << first.out;
  ASSERT_EQ(t.last_epoch(), 1);
  // 4 MB: the logs fit, a checkpoint (12 MB of weights, more with the optimizer) does not.
  auto limited = run(t.args(3, true), 4000);
  EXPECT_TRUE(limited.status.exited && limited.status.code == 1) << limited.status.describe() << "\n" << limited.out;
  EXPECT_NE(limited.out.find("last.safetensors"), std::string::npos) << limited.out;
  EXPECT_NE(limited.out.find("File too large"), std::string::npos) << limited.out;
  EXPECT_EQ(t.last_epoch(), 1) << "the last good checkpoint changed";
  auto again = run(t.args(3, true));
  ASSERT_TRUE(again.status.ok()) << again.out;
  EXPECT_EQ(t.last_epoch(), 3);
  EXPECT_EQ(csv_rows(t.run_dir() / "results.csv"), 3u);
}

TEST(WriteFailure, ReadOnlyWeightsFolderStopsTrainingNamingTheFile) {
  const bool root = ::geteuid() == 0;
  if (root && std::system("setpriv --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "running as root without setpriv: a read-only folder does not stop root's writes";
  TrainRun t;
  if (root) fs::permissions(t.dir.path, fs::perms::all);  // user nobody works in the test's folder
  auto first = run(t.args(1, false), 0, "", root);
  ASSERT_TRUE(first.status.ok()) << first.out;
  const fs::path w = t.last().parent_path();
  fs::permissions(w, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read | fs::perms::others_exec);
  auto ro = run(t.args(2, true), 0, "", root);
  fs::permissions(w, fs::perms::all);
  EXPECT_TRUE(ro.status.exited && ro.status.code == 1) << ro.status.describe() << "\n" << ro.out;
  EXPECT_NE(ro.out.find(w.string()), std::string::npos) << ro.out;
  EXPECT_EQ(t.last_epoch(), 1);
  auto again = run(t.args(2, true), 0, "", root);
  ASSERT_TRUE(again.status.ok()) << again.out;
  EXPECT_EQ(t.last_epoch(), 2);
}

TEST(WriteFailure, PrepareKilledMidCaseRedoesItAndEndsAsACleanRun) {
  test::TempDir dir("vyolo_prepare_kill");
  auto synth = run({"synth", "out=" + (dir.path / "ct").string(), "cases=3", "seed=5"});
  ASSERT_TRUE(synth.status.ok()) << synth.out;
  auto clean = run({"prepare", "source=" + (dir.path / "ct").string(), "out=" + (dir.path / "clean").string()});
  ASSERT_TRUE(clean.status.ok()) << clean.out;
  // Killed halfway through the 40th file it writes: inside the second case or so.
  auto killed = run({"prepare", "source=" + (dir.path / "ct").string(), "out=" + (dir.path / "again").string()}, 0,
                    "write:40");
  ASSERT_TRUE(!killed.status.exited && killed.status.signal == SIGKILL) << killed.status.describe() << killed.out;
  auto resumed = run({"prepare", "source=" + (dir.path / "ct").string(), "out=" + (dir.path / "again").string()});
  ASSERT_TRUE(resumed.status.ok()) << resumed.out;
  EXPECT_NE(resumed.out.find("already done"), std::string::npos) << "no case was finished before the kill?\n"
                                                                 << resumed.out;
  // Every label file and image the clean run wrote is there with the same bytes; no temp file is left.
  size_t files = 0;
  for (auto it = fs::recursive_directory_iterator(dir.path / "clean"); it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    const fs::path rel = fs::relative(it->path(), dir.path / "clean");
    const std::string ext = rel.extension().string();
    if (ext != ".txt" && ext != ".png") continue;
    ++files;
    ASSERT_TRUE(fs::exists(dir.path / "again" / rel)) << rel;
    EXPECT_EQ(read_file(it->path()), read_file(dir.path / "again" / rel)) << rel;
  }
  EXPECT_GT(files, 40u);
  for (auto it = fs::recursive_directory_iterator(dir.path / "again"); it != fs::recursive_directory_iterator(); ++it)
    EXPECT_EQ(it->path().string().find(".tmp"), std::string::npos) << "temp file left: " << it->path();
}
