// Data-parallel training on c10d with 2 CPU ranks on 127.0.0.1 (Gloo, one thread each): the sampler's shares, the
// launcher variables, gradient averaging and synchronised BatchNorm against one process, bitwise-identical
// parameters, `vyolo train` under a torchrun-style environment and under training.nproc, resume with another number
// of ranks, and a rank that dies or hangs.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "common/child_process.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "common/safetensors.h"
#include "dataset/loader.h"
#include "dist/env.h"
#include "model/weights.h"
#include "model/yolo.h"
#include "train/train_test_util.h"

namespace fs = std::filesystem;
using namespace vyolo;
using Clock = std::chrono::steady_clock;

namespace {

// A process and everything it printed.
struct Proc {
  explicit Proc(const std::vector<std::string>& argv, const std::vector<std::string>& env = {})
      : out(std::make_shared<Out>()) {
    auto o = out;
    child = std::make_unique<ChildProcess>(
        argv,
        [o](const std::string& line) {
          std::lock_guard<std::mutex> lk(o->m);
          o->text += line + "\n";
        },
        env);
  }
  std::string text() {
    std::lock_guard<std::mutex> lk(out->m);
    return out->text;
  }
  struct Out {
    std::mutex m;
    std::string text;
  };
  std::shared_ptr<Out> out;
  std::unique_ptr<ChildProcess> child;
};

std::vector<std::string> rank_env(int rank, int world, int port) {
  return {"RANK=" + std::to_string(rank),       "WORLD_SIZE=" + std::to_string(world),
          "LOCAL_RANK=" + std::to_string(rank), "LOCAL_WORLD_SIZE=" + std::to_string(world),
          "MASTER_ADDR=127.0.0.1",              "MASTER_PORT=" + std::to_string(port)};
}

std::vector<float> read_floats(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

// ||a - b|| / ||b|| over every gradient element (float32 sums in another order differ by rounding only)
double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Runs the worker as one process, then as 2 ranks; returns {single, rank0, rank1} outputs.
std::vector<fs::path> run_worker(const fs::path& dir, const std::vector<std::string>& mode_args) {
  auto args = [&](const fs::path& out) {
    std::vector<std::string> a{DIST_WORKER, mode_args[0], out.string()};
    a.insert(a.end(), mode_args.begin() + 1, mode_args.end());
    return a;
  };
  std::vector<fs::path> outs{dir / "single", dir / "rank0", dir / "rank1"};
  Proc single(args(outs[0]));
  const auto s = single.child->wait_for(300);
  EXPECT_TRUE(s.ok()) << single.text();
  const int port = dist::free_port();
  Proc r0(args(outs[1]), rank_env(0, 2, port)), r1(args(outs[2]), rank_env(1, 2, port));
  const auto s0 = r0.child->wait_for(300), s1 = r1.child->wait_for(300);
  EXPECT_TRUE(s0.ok()) << r0.text();
  EXPECT_TRUE(s1.ok()) << r1.text();
  return outs;
}

// A tiny detection set and the overrides that train on it quickly.
struct TrainSet {
  test::TempDir dir{"vyolo_dist"};
  fs::path data_yaml;
  TrainSet() { data_yaml = train::test::make_synthetic_set(dir.path / "set", 16, 4, 64); }
  std::vector<std::string> train_args(int epochs, const std::vector<std::string>& more = {}) const {
    std::vector<std::string> a{VYOLO_BINARY,
                               "train",
                               "data.data_yaml=" + data_yaml.string(),
                               "data.image_size=64",
                               "data.batch_size=8",
                               "data.num_workers=1",
                               "training.epochs=" + std::to_string(epochs),
                               "training.optimizer=auto",
                               "training.threads=1",
                               "training.warmup_epochs=1",
                               "training.nbs=16",
                               "logging.logger=none",
                               "logging.log_dir=" + (dir.path / "runs").string(),
                               "logging.experiment_name=t",
                               "seed=3"};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }
  fs::path run_dir() const { return dir.path / "runs" / "t" / "fold_0"; }
  fs::path last() const { return run_dir() / "weights" / "last.safetensors"; }
  std::vector<std::string> csv_rows() const {
    std::ifstream f(run_dir() / "results.csv");
    std::vector<std::string> rows;
    for (std::string l; std::getline(f, l);)
      if (!l.empty()) rows.push_back(l);
    if (!rows.empty()) rows.erase(rows.begin());  // header
    return rows;
  }
};

// The checkpoint loads into a network (weights and training state).
void expect_loadable(const fs::path& p) {
  ASSERT_TRUE(fs::exists(p)) << p;
  auto f = st::read(p.string());
  model::YoloV8 net("yolov8n", 1);
  EXPECT_NO_THROW(model::load_weights(net, f, p.string(), false));
  EXPECT_TRUE(f.metadata.count("train_state"));
}

bool wait_for_file(const fs::path& p, double seconds) {
  const auto end = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (Clock::now() < end) {
    if (fs::exists(p)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

TEST(DistSampler, SharesAreDisjointAndCoverTheEpoch) {
  std::vector<size_t> order{7, 2, 9, 0, 4, 1, 8, 3, 6, 5};
  auto a = dataset::rank_share(order, 0, 2), b = dataset::rank_share(order, 1, 2);
  ASSERT_EQ(a.size(), 5u);
  ASSERT_EQ(b.size(), 5u);
  std::set<size_t> all(a.begin(), a.end());
  for (size_t i : b) EXPECT_TRUE(all.insert(i).second) << "index " << i << " in both shares";
  EXPECT_EQ(all.size(), order.size());
  // 10 over 3 ranks: padded to 12 with the order's first two items; every rank gets 4, together all 10.
  std::set<size_t> cover;
  size_t total = 0;
  for (int r = 0; r < 3; ++r) {
    auto s = dataset::rank_share(order, r, 3);
    EXPECT_EQ(s.size(), 4u);
    total += s.size();
    cover.insert(s.begin(), s.end());
  }
  EXPECT_EQ(total, 12u);
  EXPECT_EQ(cover.size(), 10u);
}

TEST(DistSampler, LoadersOfTwoRanksSplitEveryEpochAndReshuffle) {
  test::TempDir dir("vyolo_dist_sampler");
  auto yaml = train::test::make_synthetic_set(dir.path / "set", 16, 2, 64);
  auto cfg = train::test::small_config(yaml, dir.path / "runs", 64, 2);
  cfg.data.augmentation = false;
  auto l0 = dataset::make_train_loader(cfg, [](const std::string&) {}, 0, 2);
  auto l1 = dataset::make_train_loader(cfg, [](const std::string&) {}, 1, 2);
  EXPECT_EQ(l0->num_batches(), 2u);  // 8 images each, 4 a batch (data.batch_size 8 over 2 ranks)
  std::vector<std::vector<size_t>> seen(2);
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::multiset<size_t> all;
    std::vector<size_t> first;
    for (auto* l : {l0.get(), l1.get()}) {
      l->set_epoch(epoch, 2);
      for (dataset::Batch bt; l->next(bt);) {
        EXPECT_EQ(bt.n, 4);
        all.insert(bt.indices.begin(), bt.indices.end());
        if (l == l0.get()) seen[epoch].insert(seen[epoch].end(), bt.indices.begin(), bt.indices.end());
      }
    }
    EXPECT_EQ(all.size(), 16u);
    EXPECT_EQ(std::set<size_t>(all.begin(), all.end()).size(), 16u) << "an image in both ranks' shares";
  }
  EXPECT_NE(seen[0], seen[1]) << "rank 0's share is the same in epoch 0 and 1";
}

TEST(DistEnv, ReadsTorchrunAndSlurmVariables) {
  for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                        "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"})
    unsetenv(v);
  EXPECT_FALSE(dist::env_from_environment().active());
  setenv("RANK", "3", 1), setenv("WORLD_SIZE", "4", 1), setenv("LOCAL_RANK", "1", 1);
  setenv("LOCAL_WORLD_SIZE", "2", 1), setenv("MASTER_ADDR", "10.0.0.5", 1), setenv("MASTER_PORT", "29411", 1);
  auto e = dist::env_from_environment();
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world, 4);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world, 2);
  EXPECT_EQ(e.master_addr, "10.0.0.5");
  EXPECT_EQ(e.master_port, 29411);
  setenv("RANK", "4", 1);
  EXPECT_THROW(dist::env_from_environment(), UsageError);
  setenv("RANK", "x", 1);
  try {
    dist::env_from_environment();
    ADD_FAILURE() << "RANK=x accepted";
  } catch (const UsageError& err) {
    EXPECT_NE(std::string(err.what()).find("RANK"), std::string::npos) << err.what();
  }
  for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"}) unsetenv(v);
  setenv("SLURM_PROCID", "5", 1), setenv("SLURM_NTASKS", "8", 1), setenv("SLURM_LOCALID", "1", 1);
  setenv("SLURM_NTASKS_PER_NODE", "4(x2)", 1);
  e = dist::env_from_environment();
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world, 4);
  EXPECT_EQ(e.master_addr, "10.0.0.5");
  for (const char* v : {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE", "MASTER_ADDR",
                        "MASTER_PORT"})
    unsetenv(v);
}

TEST(DistGroup, AveragedGradientOfTwoRanksEqualsOneProcess) {
  test::TempDir dir("vyolo_dist_grad");
  auto outs = run_worker(dir.path, {"grad"});
  auto single = read_floats(outs[0]), r0 = read_floats(outs[1]), r1 = read_floats(outs[2]);
  ASSERT_GT(single.size(), 3000000u);  // yolov8n's 3.0 M parameters
  ASSERT_EQ(r0.size(), single.size());
  ASSERT_EQ(r1.size(), single.size());
  EXPECT_EQ(std::memcmp(r0.data(), r1.data(), r0.size() * sizeof(float)), 0) << "ranks hold different gradients";
  const double d = rel_diff(r0, single);
  std::cout << "relative difference of the averaged gradient: " << d << "\n";
  EXPECT_LT(d, 1e-5) << "2 ranks x 8 images vs 1 process x 16 (float64 network, gradients stored as float32)";
  EXPECT_GT(rel_diff(single, std::vector<float>(single.size(), 0.f)), 0.0);
}

TEST(DistGroup, SyncBatchNormOverTwoRanksEqualsOneProcess) {
  test::TempDir dir("vyolo_dist_syncbn");
  auto outs = run_worker(dir.path, {"grad", "syncbn"});
  auto single = read_floats(outs[0]), r0 = read_floats(outs[1]), r1 = read_floats(outs[2]);
  ASSERT_EQ(r0.size(), single.size());
  EXPECT_EQ(std::memcmp(r0.data(), r1.data(), r0.size() * sizeof(float)), 0);
  const double d = rel_diff(r0, single);
  std::cout << "relative difference with synchronised BatchNorm: " << d << "\n";
  EXPECT_LT(d, 1e-5) << "batch statistics over 2 x 8 images vs 1 x 16";
}

TEST(DistGroup, ParametersStayBitwiseIdenticalAfterEveryStep) {
  test::TempDir dir("vyolo_dist_steps");
  auto outs = run_worker(dir.path, {"steps", "4"});
  const std::string a = read_file(outs[1]), b = read_file(outs[2]);
  EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), 4);
  EXPECT_EQ(a, b) << "parameter hashes per step differ between the ranks";
  std::set<std::string> distinct;
  std::stringstream ss(a);
  for (std::string l; std::getline(ss, l);) distinct.insert(l);
  EXPECT_EQ(distinct.size(), 4u) << "the parameters did not change every step";
}

TEST(DistTrain, TorchrunStyleRanksJoinAndRankZeroWritesTheRun) {
  TrainSet set;
  const int port = dist::free_port();
  Proc r0(set.train_args(2), rank_env(0, 2, port)), r1(set.train_args(2), rank_env(1, 2, port));
  const auto s0 = r0.child->wait_for(600), s1 = r1.child->wait_for(600);
  ASSERT_TRUE(s0.ok()) << r0.text();
  ASSERT_TRUE(s1.ok()) << r1.text();
  EXPECT_NE(r0.text().find("data-parallel training on 2 ranks"), std::string::npos) << r0.text();
  EXPECT_EQ(r1.text().find("epochs done"), std::string::npos) << "rank 1 wrote the run: " << r1.text();
  EXPECT_EQ(set.csv_rows().size(), 2u);
  expect_loadable(set.last());
  auto f = st::read(set.last().string());
  EXPECT_NE(f.metadata.at("train_state").find("\"world\":2"), std::string::npos);
}

TEST(DistTrain, NprocStartsRanksAndResumesWithTheSameOrAnotherCount) {
  TrainSet set;
  Proc first(set.train_args(1, {"training.nproc=2"}));
  ASSERT_TRUE(first.child->wait_for(600).ok()) << first.text();
  EXPECT_NE(first.text().find("starting 2 ranks"), std::string::npos) << first.text();
  EXPECT_EQ(set.csv_rows().size(), 1u);
  Proc again(set.train_args(2, {"training.nproc=2", "training.resume=true"}));
  ASSERT_TRUE(again.child->wait_for(600).ok()) << again.text();
  EXPECT_NE(again.text().find("resuming"), std::string::npos) << again.text();
  EXPECT_EQ(set.csv_rows().size(), 2u);
  Proc single(set.train_args(3, {"training.resume=true"}));  // one process continues a 2-rank run
  ASSERT_TRUE(single.child->wait_for(600).ok()) << single.text();
  auto rows = set.csv_rows();
  ASSERT_EQ(rows.size(), 3u);
  for (int e = 0; e < 3; ++e) EXPECT_EQ(std::stoi(rows[e].substr(0, rows[e].find(','))), e + 1) << rows[e];
  expect_loadable(set.last());
}

// A rank killed (SIGKILL) or stopped (SIGSTOP: hung) mid-run: the other exits non-zero within
// training.dist_timeout (plus the few seconds it takes to name the rank), and `last` loads.
void lost_rank(int sig) {
  TrainSet set;
  const int port = dist::free_port();
  const std::vector<std::string> more{"training.dist_timeout=10"};
  Proc r0(set.train_args(200, more), rank_env(0, 2, port)), r1(set.train_args(200, more), rank_env(1, 2, port));
  ASSERT_TRUE(wait_for_file(set.last(), 300)) << r0.text();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(r1.child->pid(), sig);
  const auto t0 = Clock::now();
  const auto s0 = r0.child->wait_for(60);
  const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
  ::kill(r1.child->pid(), SIGKILL);
  r1.child->wait_for(10);
  const std::string out = r0.text();
  const auto err = out.rfind("error");
  std::cout << "rank 0 ended " << waited << " s after rank 1 got signal " << sig << " (" << s0.describe() << "): "
            << (err == std::string::npos ? out : out.substr(err)) << "\n";
  EXPECT_FALSE(s0.timed_out) << "rank 0 still running 60 s after rank 1 was lost";
  EXPECT_FALSE(s0.ok()) << r0.text();
  EXPECT_LT(waited, 10 + 15) << "rank 0 took " << waited << " s with training.dist_timeout=10";
  EXPECT_NE(r0.text().find("Rank 1 stopped"), std::string::npos) << r0.text();
  expect_loadable(set.last());
}

TEST(DistTrain, KilledRankEndsTheOtherWithinTheTimeout) { lost_rank(SIGKILL); }
TEST(DistTrain, HungRankEndsTheOtherWithinTheTimeout) { lost_rank(SIGSTOP); }

// `vyolo cv cv.parallel=2`: both folds train at once in their own processes, their output prefixed with the fold,
// and the summary and every epoch's losses equal those of the folds trained one after the other (one thread each:
// deterministic).
TEST(DistCv, ParallelFoldsGiveTheSequentialSummary) {
  TrainSet set;
  auto cv_args = [&](const std::string& experiment, int parallel) {
    auto a = set.train_args(2, {"folds=[0,1]", "studies=none", "cv.parallel=" + std::to_string(parallel),
                                "logging.experiment_name=" + experiment});
    a[1] = "cv";
    return a;
  };
  Proc seq(cv_args("seq", 1));
  ASSERT_TRUE(seq.child->wait_for(600).ok()) << seq.text();
  Proc par(cv_args("par", 2));
  ASSERT_TRUE(par.child->wait_for(600).ok()) << par.text();
  const std::string out = par.text();
  EXPECT_NE(out.find("2 at a time"), std::string::npos) << out;
  EXPECT_NE(out.find("[fold_0] "), std::string::npos) << out;
  EXPECT_NE(out.find("[fold_1] "), std::string::npos) << out;
  const fs::path runs = set.dir.path / "runs";
  const std::string a = read_file(runs / "seq" / "cv_summary.csv"), b = read_file(runs / "par" / "cv_summary.csv");
  EXPECT_NE(a.find("fold_1,"), std::string::npos) << a;
  EXPECT_EQ(a, b);
  // The losses of every epoch (results.csv less its time column) are the same too.
  auto without_time = [](const fs::path& p) {
    std::ifstream in(p);
    std::string out;
    for (std::string l; std::getline(in, l);) {
      const auto c1 = l.find(','), c2 = l.find(',', c1 + 1);
      out += l.substr(0, c1) + l.substr(c2) + "\n";
    }
    return out;
  };
  for (const char* f : {"fold_0", "fold_1"}) {
    EXPECT_TRUE(fs::exists(runs / "par" / f / "weights" / "best.safetensors"));
    const std::string rs = without_time(runs / "seq" / f / "results.csv");
    EXPECT_EQ(std::count(rs.begin(), rs.end(), '\n'), 3) << rs;
    EXPECT_EQ(rs, without_time(runs / "par" / f / "results.csv"));
  }
}

// Ctrl-C to `vyolo train training.nproc=2`: the launcher passes it to both ranks, which stop after the same
// optimizer step; rank 0 saves `last` at that batch; the run exits 130 and resumes with 2 ranks to the end.
TEST(DistTrain, CtrlCReachesEveryRankAndTheRunResumes) {
  TrainSet set;
  const std::vector<std::string> more{"training.nproc=2", "data.image_size=96"};
  Proc run(set.train_args(30, more));
  ASSERT_TRUE(wait_for_file(set.last(), 300)) << run.text();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(run.child->pid(), SIGINT);
  const auto st = run.child->wait_for(120);
  ASSERT_FALSE(st.timed_out) << run.text();
  EXPECT_TRUE(st.exited && st.code == 130) << st.describe() << "\n" << run.text();
  EXPECT_NE(run.text().find("continue with training.resume=true"), std::string::npos) << run.text();
  expect_loadable(set.last());
  const auto stopped_at = set.csv_rows().size();
  EXPECT_LT(stopped_at, 30u);
  Proc again(set.train_args(stopped_at + 2, {"training.nproc=2", "data.image_size=96", "training.resume=true"}));
  ASSERT_TRUE(again.child->wait_for(600).ok()) << again.text();
  EXPECT_EQ(set.csv_rows().size(), stopped_at + 2);
}
