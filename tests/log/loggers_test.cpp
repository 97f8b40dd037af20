// Drives the loggers with a fake training loop and checks what they wrote with the independent reader in
// log_reader.cpp (never with the writer's own protobuf classes).
#include <gtest/gtest.h>

#include <chrono>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "log/logger.h"
#include "log/record_io.h"
#include "log_reader.h"

namespace fs = std::filesystem;
using nlohmann::json;
using vyolo::log::Logger;
using vyolo::log::RunInfo;

namespace {

const char* kWandbVars[] = {"WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_GROUP",
                            "WANDB_TAGS", "WANDB_API_KEY"};

const std::string kConfigYaml =
    "model:\n  name: yolov8\n  variant: yolov8n\n  img_size: 256\n"
    "training:\n  lr0: 0.001\n  epochs: 3\n  optimizer: AdamW\n  use_focal_loss: false\n"
    "logging:\n  logger: wandb\n  project_name: spine\n  experiment_name: baseline\n  tags: [ct, yolo]\n"
    "seed: 42\n";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    rows.push_back(cells);
  }
  return rows;
}

// The results.csv row of an epoch, with values that need all of %.6g.
std::map<std::string, double> epoch_row(int epoch) {
  double e = epoch;
  return {{"train/box_loss", 1.23456789 / e}, {"train/cls_loss", 2.3456789 / e}, {"train/dfl_loss", 1.1111111 / e},
          {"metrics/precision(B)", 0.1 * e + 0.0123456}, {"metrics/recall(B)", 0.05 * e + 0.0234567},
          {"metrics/mAP50(B)", 0.07 * e + 0.0345678}, {"metrics/mAP50-95(B)", 0.03 * e + 0.0456789},
          {"val/box_loss", 1.5 / e}, {"val/cls_loss", 2.5 / e}, {"val/dfl_loss", 1.25 / e},
          {"lr/pg0", 0.001 * (1 - 0.1 * e)}, {"lr/pg1", 0.001 * (1 - 0.1 * e)}, {"lr/pg2", 0.002 / e},
          {"val/map_50", 0.07 * e + 0.0345678}, {"sys/gpu_mem_gb", 1.5}};
}

const std::map<std::string, double> kFinal{{"metrics/mAP50(B)", 0.4321}, {"metrics/mAP50-95(B)", 0.2109},
                                           {"val/f1", 0.55}};

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kWandbVars) unsetenv(v);
    root_ = fs::temp_directory_path() /
            ("vyolo_log_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
             std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    for (const char* v : kWandbVars) unsetenv(v);
    if (!HasFailure() && !std::getenv("VYOLO_LOG_KEEP")) fs::remove_all(root_);  // kept for a look when set
  }

  vyolo::Config config(const std::string& logger) {
    vyolo::Config c;
    c.logging.logger = logger;
    c.logging.log_dir = (root_ / "out").string();
    c.logging.project_name = "spine";
    c.logging.experiment_name = "baseline";
    c.logging.wandb.entity = "lab";
    c.logging.wandb.tags = {"ct", "yolo"};
    c.logging.wandb.notes = "first try";
    c.logging.wandb.log_freq = 5;
    c.training.epochs = 3;
    return c;
  }
  RunInfo info(const vyolo::Config& c, int fold, bool resumed = false) {
    RunInfo i;
    i.run_dir = fs::path(c.logging.log_dir) / c.logging.experiment_name / ("fold_" + std::to_string(fold));
    i.run_name = "fold_" + std::to_string(fold);
    i.config_yaml = kConfigYaml;
    i.command_line = "vyolo train logging=wandb split=fold_" + std::to_string(fold);
    i.args = {"train", "logging=wandb", "split=fold_" + std::to_string(fold), "logging.wandb.notes='first try'"};
    i.resumed = resumed;
    return i;
  }

  // A fake training: 4 optimizer steps per epoch, a preview image in the first epoch, best checkpoint each epoch.
  void train(Logger& log, const RunInfo& i, int from, int to, bool finish = true) {
    log.run_start(i);
    for (int epoch = from; epoch <= to; ++epoch) {
      for (int s = 1; s <= 4; ++s) {
        int64_t step = (epoch - 1) * 4 + s;
        log.scalars(step, {{"train/box_loss", 10.0 / step}});
      }
      if (epoch == 1) {
        cv::Mat img(24, 32, CV_8UC3, cv::Scalar(30, 60, 90));
        cv::rectangle(img, {4, 4}, {20, 16}, cv::Scalar(0, 255, 0));
        log.image(epoch, "train/batch_preview", img);
      }
      log.epoch_end(epoch, epoch_row(epoch));
      fs::path best = i.run_dir / "weights" / "best.safetensors";
      fs::create_directories(best.parent_path());
      std::ofstream(best) << "weights of epoch " << epoch;
      log.file(best, "model");
    }
    if (finish) log.run_end(kFinal, 0);
  }

  static fs::path only_wandb_run(const fs::path& wandb_dir) {
    std::vector<fs::path> runs;
    for (const auto& e : fs::directory_iterator(wandb_dir)) runs.push_back(e.path());
    EXPECT_EQ(runs.size(), 1u);
    return runs.empty() ? fs::path() : runs[0];
  }
  static fs::path wandb_file(const fs::path& run) {
    for (const auto& e : fs::directory_iterator(run))
      if (e.path().extension() == ".wandb") return e.path();
    return {};
  }
  static std::vector<fs::path> event_files(const fs::path& run_dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(run_dir / "tensorboard")) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path root_;
};

TEST(LogFraming, CrcCheckValues) {
  EXPECT_EQ(logread::crc32c_bitwise("123456789"), 0xE3069283u);
  EXPECT_EQ(vyolo::log::crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(logread::crc32_bitwise("123456789"), 0xCBF43926u);
  EXPECT_EQ(vyolo::log::crc32_ieee("123456789", 9), 0xCBF43926u);
}

// The spec's 40-byte first record (tensorboard-events.md §2.1) and W&B's first chunk (wandb-offline.md §2.5).
TEST_F(LogTest, FramingMatchesSpecVectors) {
  std::string payload("\x09\x00\x00\x00\x90\x4b\xdd\xd9\x41\x1a\x0d" "brain.Event:2", 24);
  {
    vyolo::log::TFRecordWriter w(root_ / "ev");
    w.write(payload);
    w.flush();
  }
  const unsigned char expect[] = {0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22};
  std::string bytes = slurp(root_ / "ev");
  ASSERT_EQ(bytes.size(), 40u);
  EXPECT_EQ(bytes.substr(0, 12), std::string(reinterpret_cast<const char*>(expect), 12));
  EXPECT_EQ(bytes.substr(12, 24), payload);
  EXPECT_EQ(bytes.substr(36), std::string("\xfc\xb8\xa3\xed", 4));
  {
    vyolo::log::WandbLogWriter w(root_ / "run.wandb");
    w.write(std::string("\xaa\x01\x00", 3));
    w.flush();
  }
  EXPECT_EQ(slurp(root_ / "run.wandb"), std::string(":W&B\xe1\xbe\x00\x8e\x51\x0c\x54\x03\x00\x01\xaa\x01\x00", 17));
}

// Records of many sizes (FULL, FIRST/MIDDLE/LAST, a 7-byte block remainder, trailers) come back intact.
TEST_F(LogTest, WandbBlocksRoundTrip) {
  std::vector<std::string> recs;
  std::mt19937 rng(7);
  size_t off = 7;
  auto add = [&](size_t n) {
    std::string r(n, '\0');
    for (auto& c : r) c = static_cast<char>(rng());
    recs.push_back(r);
  };
  add(32768 - 7 - 7 - 7);  // leaves exactly 7 bytes in block 0: the next record starts with an empty FIRST chunk
  add(100);
  add(70000);
  for (int i = 0; i < 300; ++i) add(rng() % 400);
  add(32761);
  add(0);
  {
    vyolo::log::WandbLogWriter w(root_ / "x.wandb");
    for (const auto& r : recs) w.write(r);
    w.flush();
    off = w.offset();
  }
  EXPECT_EQ(fs::file_size(root_ / "x.wandb"), off);
  EXPECT_EQ(logread::read_wandb_records(root_ / "x.wandb"), recs);
}

TEST_F(LogTest, TensorBoardRunMatchesResultsCsv) {
  auto cfg = config("tensorboard");
  auto i = info(cfg, 0);
  {
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 3);
  }
  auto files = event_files(i.run_dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_NE(files[0].filename().string().find("events.out.tfevents."), std::string::npos);
  auto tb = logread::read_tensorboard(files[0]);
  EXPECT_EQ(tb.file_version, "brain.Event:2");

  auto csv = read_csv(i.run_dir / "results.csv");
  ASSERT_EQ(csv.size(), 4u);
  std::vector<std::string> head(csv[0].begin(), csv[0].begin() + 15);
  EXPECT_EQ(head, (std::vector<std::string>{"epoch", "time", "train/box_loss", "train/cls_loss", "train/dfl_loss",
                                            "metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)",
                                            "metrics/mAP50-95(B)", "val/box_loss", "val/cls_loss", "val/dfl_loss",
                                            "lr/pg0", "lr/pg1", "lr/pg2"}));
  EXPECT_EQ(std::find(csv[0].begin(), csv[0].end(), "sys/gpu_mem_gb"), csv[0].end());
  int compared = 0;
  for (size_t r = 1; r < csv.size(); ++r) {
    int epoch = std::stoi(csv[r][0]);
    EXPECT_EQ(epoch, static_cast<int>(r));
    for (size_t c = 2; c < csv[0].size(); ++c) {
      double want = std::stod(csv[r][c]);
      int found = 0;
      for (const auto& s : tb.scalars)
        if (s.tag == csv[0][c] && s.step == epoch) {
          EXPECT_NEAR(s.value, want, 1e-5 * std::abs(want)) << s.tag << " epoch " << epoch;
          ++found;
        }
      EXPECT_EQ(found, 1) << csv[0][c] << " epoch " << epoch;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 3 * 14);
  // Per-step scalars every log_freq (5) steps: 5 and 10 of steps 1..12.
  std::vector<int64_t> steps, epochs;
  for (const auto& s : tb.scalars) {
    if (s.tag == "step/train/box_loss") steps.push_back(s.step);
    if (s.tag == "train/box_loss") epochs.push_back(s.step);
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{5, 10}));
  EXPECT_EQ(epochs, (std::vector<int64_t>{1, 2, 3}));
  // System metrics each epoch.
  int sys = 0;
  for (const auto& s : tb.scalars) sys += s.tag == "sys/rss_gb" && s.value > 0;
  EXPECT_EQ(sys, 3);

  ASSERT_TRUE(tb.texts.count("config"));
  EXPECT_EQ(tb.texts["config"], "```yaml\n" + kConfigYaml + "```");
  EXPECT_EQ(tb.texts["command_line"], i.command_line);
  ASSERT_EQ(tb.images.size(), 1u);
  EXPECT_EQ(tb.images[0].width, 32);
  EXPECT_EQ(tb.images[0].height, 24);
  EXPECT_EQ(tb.images[0].colorspace, 3);
  EXPECT_EQ(tb.hparams["training.lr0"], "0.001");
  EXPECT_EQ(tb.hparams["training.optimizer"], "AdamW");
  EXPECT_EQ(tb.hparams["training.use_focal_loss"], "false");
  EXPECT_EQ(tb.group_name, "baseline/fold_0");
  EXPECT_EQ(tb.hparam_infos.size(), tb.hparams.size());
  EXPECT_NE(std::find(tb.metric_infos.begin(), tb.metric_infos.end(), "metrics/mAP50-95(B)"), tb.metric_infos.end());
  EXPECT_EQ(tb.end_status, 1);
  int finals = 0;
  for (const auto& s : tb.scalars)
    if (s.tag == "final/metrics/mAP50(B)") finals += std::abs(s.value - 0.4321f) < 1e-6;
  EXPECT_EQ(finals, 1);
}

TEST_F(LogTest, WandbOfflineRun) {
  auto cfg = config("wandb");
  auto i = info(cfg, 2);
  {
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 3);
    log->run_end(kFinal, 1);  // ignored: the run already ended
  }
  fs::path run = only_wandb_run(root_ / "out" / "wandb");
  std::string dir = run.filename().string();
  ASSERT_EQ(dir.rfind("offline-run-", 0), 0u) << dir;
  ASSERT_EQ(dir.size(), std::string("offline-run-YYYYMMDD_HHMMSS-").size() + 8) << dir;
  EXPECT_EQ(dir[20], '_');
  std::string id = dir.substr(dir.size() - 8);
  EXPECT_EQ(wandb_file(run).filename(), "run-" + id + ".wandb");
  EXPECT_FALSE(fs::exists(run / "wandb-metadata.json"));  // legacy sync would skip the run

  auto wb = logread::read_wandb(wandb_file(run));
  EXPECT_TRUE(wb.has_header);
  EXPECT_EQ(wb.run_records, 1);
  EXPECT_EQ(wb.run_id, id);
  EXPECT_EQ(wb.project, "spine");
  EXPECT_EQ(wb.entity, "lab");
  EXPECT_EQ(wb.group, "baseline");
  EXPECT_EQ(wb.name, "fold_2");
  EXPECT_EQ(wb.job_type, "train");
  EXPECT_EQ(wb.notes, "first try");
  EXPECT_EQ(wb.tags, (std::vector<std::string>{"ct", "yolo"}));
  EXPECT_GT(wb.start_time, 1600000000);
  for (size_t k = 0; k < wb.nums.size(); ++k) EXPECT_EQ(wb.nums[k], static_cast<int64_t>(k + 1));

  // Config: every top-level key of the resolved YAML, values as JSON.
  EXPECT_EQ(wb.config.size(), 4u);
  auto training = json::parse(wb.config["training"]);
  EXPECT_DOUBLE_EQ(training["lr0"].get<double>(), 0.001);
  EXPECT_EQ(training["epochs"], 3);
  EXPECT_EQ(training["optimizer"], "AdamW");
  EXPECT_EQ(training["use_focal_loss"], false);
  EXPECT_EQ(json::parse(wb.config["logging"])["tags"], json({"ct", "yolo"}));
  EXPECT_EQ(wb.config["seed"], "42");
  EXPECT_EQ(slurp(run / "files" / "code" / "config.yaml"), kConfigYaml);  // save_code
  EXPECT_NE(slurp(run / "files" / "code" / "command_line.txt").find(i.command_line), std::string::npos);

  // History: _step 0,1,2... ; epoch rows equal results.csv.
  for (size_t k = 0; k < wb.history.size(); ++k) {
    EXPECT_EQ(std::stoll(wb.history[k]["_step"]), static_cast<int64_t>(k));
    EXPECT_TRUE(wb.history[k].count("_runtime") && wb.history[k].count("_timestamp"));
  }
  auto csv = read_csv(i.run_dir / "results.csv");
  int epoch_rows = 0;
  for (auto& row : wb.history) {
    if (!row.count("epoch")) continue;
    int epoch = std::stoi(row["epoch"]);
    ++epoch_rows;
    for (size_t c = 2; c < csv[0].size(); ++c) {
      ASSERT_TRUE(row.count(csv[0][c])) << csv[0][c];
      EXPECT_NEAR(std::stod(row[csv[0][c]]), std::stod(csv[epoch][c]), 5e-6 * std::abs(std::stod(csv[epoch][c])));
    }
    EXPECT_TRUE(row.count("sys/cpu_percent") && row.count("sys/rss_gb"));
  }
  EXPECT_EQ(epoch_rows, 3);
  int step_rows = 0, image_rows = 0;
  for (auto& row : wb.history) {
    step_rows += row.count("step/train/box_loss");
    if (row.count("step/train/box_loss")) EXPECT_FALSE(row.count("train/box_loss"));
    if (row.count("train/batch_preview")) {
      ++image_rows;
      auto img = json::parse(row["train/batch_preview"]);
      EXPECT_EQ(img["_type"], "image-file");
      EXPECT_EQ(img["width"], 32);
      EXPECT_TRUE(fs::exists(run / "files" / img["path"].get<std::string>()));
      EXPECT_EQ(img["size"].get<uint64_t>(), fs::file_size(run / "files" / img["path"].get<std::string>()));
    }
  }
  EXPECT_EQ(step_rows, 2);
  EXPECT_EQ(image_rows, 1);
  EXPECT_TRUE(wb.stats.empty());  // a run shorter than stats_interval (15 s) has no system sample yet

  // Summary as the SDK keeps it: the last history value of every key; the final metrics under final/<key>.
  std::map<std::string, std::string> last;
  for (const auto& row : wb.history)
    for (const auto& [k, v] : row)
      if (k[0] != '_') last[k] = v;
  ASSERT_FALSE(last.empty());
  for (const auto& [k, v] : last) {
    ASSERT_TRUE(wb.summary.count(k)) << k;
    EXPECT_EQ(json::parse(wb.summary[k]), json::parse(v)) << k;
  }
  EXPECT_DOUBLE_EQ(std::stod(wb.summary["metrics/mAP50(B)"]), std::stod(last["metrics/mAP50(B)"]));
  EXPECT_NE(std::stod(wb.summary["metrics/mAP50(B)"]), 0.4321);  // epoch 3's value, not the final model's
  EXPECT_DOUBLE_EQ(std::stod(wb.summary["final/metrics/mAP50(B)"]), 0.4321);
  EXPECT_DOUBLE_EQ(std::stod(wb.summary["final/metrics/mAP50-95(B)"]), 0.2109);
  EXPECT_EQ(std::stoll(wb.summary["_step"]), static_cast<int64_t>(wb.history.size() - 1));
  EXPECT_TRUE(wb.summary.count("_wandb.runtime"));
  auto summary_file = json::parse(slurp(run / "files" / "wandb-summary.json"));
  EXPECT_DOUBLE_EQ(summary_file["final/metrics/mAP50(B)"].get<double>(), 0.4321);
  EXPECT_EQ(summary_file["metrics/mAP50(B)"], json::parse(last["metrics/mAP50(B)"]));
  // Console lines as output records, as in files/output.log.
  ASSERT_EQ(wb.output.size(), 3u);
  EXPECT_NE(wb.output[2].find("epoch 3"), std::string::npos) << wb.output[2];
  EXPECT_EQ(wb.exit_code, 0);
  EXPECT_TRUE(wb.has_final);

  // Files: metadata, output.log, code, the best checkpoint (save_model) with its last content.
  std::set<std::string> listed;
  for (const auto& f : wb.files) listed.insert(f.path);
  for (const char* p : {"wandb-metadata.json", "output.log", "code/config.yaml", "best.safetensors"}) {
    EXPECT_TRUE(listed.count(p)) << p;
    EXPECT_TRUE(fs::exists(run / "files" / p)) << p;
  }
  EXPECT_EQ(slurp(run / "files" / "best.safetensors"), "weights of epoch 3");
  EXPECT_EQ(wb.files.size(), listed.size());  // each file listed once
  EXPECT_TRUE(fs::exists(run / "files" / "config.yaml"));
  auto meta = json::parse(slurp(run / "files" / "wandb-metadata.json"));
  EXPECT_EQ(meta["program"], "vyolo");
  EXPECT_EQ(meta["args"], json(i.args));  // one entry per argument: the override with spaces stays whole
  EXPECT_GE(meta["cpu_count_logical"].get<int>(), 1);
  EXPECT_GE(meta["cpu_count"].get<int>(), 1);
  EXPECT_GT(meta["memory"]["total"].get<double>(), 0);
  EXPECT_EQ(meta["os"].get<std::string>().rfind("Linux-", 0), 0u);
  EXPECT_FALSE(meta["host"].get<std::string>().empty());
  EXPECT_NE(slurp(run / "files" / "output.log").find("epoch 3"), std::string::npos);
}

TEST_F(LogTest, WandbSystemMetricsAtTheConfiguredInterval) {
  auto cfg = config("wandb");
  cfg.logging.wandb.stats_interval = 0.25;
  auto i = info(cfg, 0);
  const auto t0 = std::chrono::steady_clock::now();
  {
    auto log = vyolo::log::make_loggers(cfg, i);
    log->run_start(i);
    std::vector<double> burn(1 << 20, 1.0);  // some CPU time and memory to measure
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1400))
      for (auto& x : burn) x = x * 1.0000001 + 1e-9;
    log->epoch_end(1, epoch_row(1));
    log->run_end(kFinal, 0);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto wb = logread::read_wandb(wandb_file(only_wandb_run(root_ / "out" / "wandb")));
  // One sample per 0.25 s of the run (about 5 in 1.4 s), none after the end.
  const int expected = static_cast<int>(secs / 0.25);
  EXPECT_GE(static_cast<int>(wb.stats.size()), expected - 1) << secs << " s";
  EXPECT_LE(static_cast<int>(wb.stats.size()), expected + 1) << secs << " s";
  ASSERT_FALSE(wb.stats.empty());
  for (int t : wb.stats_types) EXPECT_EQ(t, 0);  // SYSTEM
  for (const char* k : {"cpu", "cpu.0.cpu_percent", "proc.cpu.threads", "memory", "proc.memory.rssMB",
                        "proc.memory.percent", "proc.memory.availableMB", "disk./.usagePercent", "disk./.usageGB",
                        "disk.in", "disk.out", "network.sent", "network.recv"})
    EXPECT_TRUE(wb.stats.back().count(k)) << k;
  EXPECT_GT(std::stod(wb.stats.back()["proc.memory.rssMB"]), 4.0);   // the 8 MB buffer
  EXPECT_GT(std::stod(wb.stats.back()["cpu"]), 5.0);                 // busy on one of the cores
  EXPECT_GE(std::stod(wb.stats.back()["proc.cpu.threads"]), 2.0);    // this thread and the sampler
  EXPECT_TRUE(wb.has_final);
}

TEST_F(LogTest, SaveModelOffKeepsCheckpointOut) {
  auto cfg = config("wandb");
  cfg.logging.wandb.save_model = false;
  cfg.logging.wandb.save_code = false;
  auto i = info(cfg, 0);
  {
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 1);
  }
  fs::path run = only_wandb_run(root_ / "out" / "wandb");
  EXPECT_FALSE(fs::exists(run / "files" / "best.safetensors"));
  EXPECT_FALSE(fs::exists(run / "files" / "code"));
  for (const auto& f : logread::read_wandb(wandb_file(run)).files) EXPECT_NE(f.path, "best.safetensors");
}

// Every single flipped byte of either file makes the reader fail.
TEST_F(LogTest, ReaderDetectsEveryFlippedByte) {
  auto cfg = config("tensorboard");
  auto i = info(cfg, 0);
  {
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 1);
  }
  cfg.logging.logger = "wandb";
  auto j = info(cfg, 1);
  {
    auto log = vyolo::log::make_loggers(cfg, j);
    train(*log, j, 1, 1);
  }
  fs::path tb = event_files(i.run_dir)[0];
  fs::path wb = wandb_file(only_wandb_run(root_ / "out" / "wandb"));
  using Reader = void (*)(const std::string&);
  for (const auto& [file, reader] : std::vector<std::pair<fs::path, Reader>>{
           {tb, [](const std::string& b) { logread::read_tensorboard_bytes(b, "tfevents"); }},
           {wb, [](const std::string& b) { logread::read_wandb_bytes(b, "wandb"); }}}) {
    std::string good = slurp(file);
    ASSERT_NO_THROW(reader(good));
    ASSERT_GT(good.size(), 1000u);
    int missed = 0;
    for (size_t k = 0; k < good.size(); ++k) {
      std::string b = good;
      b[k] = static_cast<char>(b[k] ^ (1 << (k % 8)));
      try {
        reader(b);
        ++missed;
      } catch (const logread::ReadError&) {
      }
    }
    EXPECT_EQ(missed, 0) << file;
    EXPECT_THROW(reader(good.substr(0, good.size() - 3)), logread::ReadError);  // a torn last record
  }
}

TEST_F(LogTest, FiveFoldsShareGroupWithDistinctRuns) {
  auto cfg = config("wandb");
  for (int k = 0; k < 5; ++k) {
    auto i = info(cfg, k);
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 1);
  }
  std::set<std::string> names, ids, dirs;
  int runs = 0;
  for (const auto& e : fs::directory_iterator(root_ / "out" / "wandb")) {
    auto wb = logread::read_wandb(wandb_file(e.path()));
    EXPECT_EQ(wb.group, "baseline");
    EXPECT_EQ(wb.project, "spine");
    names.insert(wb.name);
    ids.insert(wb.run_id);
    dirs.insert(e.path().filename().string());
    ++runs;
  }
  EXPECT_EQ(runs, 5);
  EXPECT_EQ(names, (std::set<std::string>{"fold_0", "fold_1", "fold_2", "fold_3", "fold_4"}));
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(dirs.size(), 5u);
}

TEST_F(LogTest, UnwritableLogDirFailsBeforeTraining) {
  std::ofstream(root_ / "a_file") << "x";
  auto cfg = config("tensorboard");
  cfg.logging.log_dir = (root_ / "a_file" / "out").string();
  EXPECT_THROW(vyolo::log::make_loggers(cfg, info(cfg, 0)), vyolo::RuntimeError);
  cfg = config("wandb");
  setenv("WANDB_DIR", (root_ / "a_file").c_str(), 1);
  EXPECT_THROW(vyolo::log::make_loggers(cfg, info(cfg, 0)), vyolo::RuntimeError);
  cfg.logging.logger = "mlflow";
  EXPECT_THROW(vyolo::log::make_loggers(cfg, info(cfg, 0)), vyolo::UsageError);
  unsetenv("WANDB_DIR");
  cfg = config("wandb");
  cfg.logging.wandb.mode = "sometimes";
  EXPECT_THROW(vyolo::log::make_loggers(cfg, info(cfg, 0)), vyolo::UsageError);
}

TEST_F(LogTest, WandbModeDisabledWritesNothing) {
  auto cfg = config("wandb");
  setenv("WANDB_MODE", "disabled", 1);
  auto i = info(cfg, 0);
  {
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 2);
  }
  EXPECT_FALSE(fs::exists(root_ / "out" / "wandb"));
  EXPECT_FALSE(fs::exists(i.run_dir / "wandb_run.json"));
  EXPECT_EQ(read_csv(i.run_dir / "results.csv").size(), 3u);  // console and CSV still run
  unsetenv("WANDB_MODE");
  cfg.logging.wandb.mode = "disabled";
  {
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 1);
  }
  EXPECT_FALSE(fs::exists(root_ / "out" / "wandb"));
}

TEST_F(LogTest, WandbEnvironmentVariables) {
  auto cfg = config("wandb");
  setenv("WANDB_DIR", (root_ / "elsewhere").c_str(), 1);
  setenv("WANDB_PROJECT", "envproj", 1);
  setenv("WANDB_ENTITY", "envteam", 1);
  setenv("WANDB_RUN_GROUP", "envgroup", 1);
  setenv("WANDB_TAGS", "a, b ,yolo", 1);
  setenv("WANDB_MODE", "dryrun", 1);
  auto i = info(cfg, 0);
  {
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 1);
  }
  EXPECT_FALSE(fs::exists(root_ / "out" / "wandb"));
  auto wb = logread::read_wandb(wandb_file(only_wandb_run(root_ / "elsewhere" / "wandb")));
  EXPECT_EQ(wb.project, "envproj");
  EXPECT_EQ(wb.entity, "envteam");
  EXPECT_EQ(wb.group, "envgroup");
  EXPECT_EQ(wb.tags, (std::vector<std::string>{"ct", "yolo", "a", "b"}));
}

// A run killed after two epochs and resumed for a third continues the same W&B run (same id, folder, file, _step
// sequence) and the TensorBoard step sequence in a second event file; results.csv keeps one header.
TEST_F(LogTest, ResumeContinuesTheSameRun) {
  for (const std::string kind : {"wandb", "tensorboard"}) {
    auto cfg = config(kind);
    auto i = info(cfg, 0);
    {
      auto log = vyolo::log::make_loggers(cfg, i);
      train(*log, i, 1, 2, /*finish=*/false);  // killed: no run_end
    }
    if (kind == "wandb") {  // the kill tore the last record in half
      std::ofstream(wandb_file(only_wandb_run(root_ / "out" / "wandb")), std::ios::app | std::ios::binary)
          << std::string("\x12\x34\x56\x00\x09", 5);
    }
    auto r = info(cfg, 0, /*resumed=*/true);
    {
      auto log = vyolo::log::make_loggers(cfg, r);
      train(*log, r, 3, 3);
    }
    auto csv = read_csv(i.run_dir / "results.csv");
    ASSERT_EQ(csv.size(), 4u) << kind;
    EXPECT_EQ(csv[0][0], "epoch");
    EXPECT_EQ(csv[3][0], "3");
    EXPECT_LE(std::stod(csv[2][1]), std::stod(csv[3][1]));  // time carries on
    if (kind == "wandb") {
      auto wb = logread::read_wandb(wandb_file(only_wandb_run(root_ / "out" / "wandb")));
      EXPECT_EQ(wb.run_records, 1);
      std::vector<int> epochs;
      for (size_t k = 0; k < wb.history.size(); ++k) {
        EXPECT_EQ(std::stoll(wb.history[k]["_step"]), static_cast<int64_t>(k));
        if (wb.history[k].count("epoch")) epochs.push_back(std::stoi(wb.history[k]["epoch"]));
      }
      EXPECT_EQ(epochs, (std::vector<int>{1, 2, 3}));
      for (size_t k = 0; k < wb.nums.size(); ++k) EXPECT_EQ(wb.nums[k], static_cast<int64_t>(k + 1));
      EXPECT_EQ(wb.exit_code, 0);
      // Resumed again after a clean end: the old end records are cut, the new ones close the file.
      auto again = info(cfg, 0, true);
      {
        auto log = vyolo::log::make_loggers(cfg, again);
        train(*log, again, 4, 4);
      }
      auto wb2 = logread::read_wandb(wandb_file(only_wandb_run(root_ / "out" / "wandb")));
      EXPECT_EQ(wb2.run_id, wb.run_id);
      int exits = 0;
      for (const auto& row : wb2.history) exits += row.count("epoch") && row.at("epoch") == "4";
      EXPECT_EQ(exits, 1);
      EXPECT_TRUE(wb2.has_final);
    } else {
      auto files = event_files(i.run_dir);
      ASSERT_EQ(files.size(), 2u);
      auto tb = logread::read_tensorboard(files[1], logread::read_tensorboard(files[0]));
      std::vector<int64_t> steps;
      for (const auto& s : tb.scalars)
        if (s.tag == "metrics/mAP50(B)") steps.push_back(s.step);
      EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3}));
      EXPECT_EQ(tb.end_status, 1);
    }
  }
}

// A full disk mid-run: each sink warns once and goes quiet; no exception reaches the trainer.
TEST_F(LogTest, FullDiskStopsLoggingWithOneWarning) {
  auto cfg = config("wandb");
  auto i = info(cfg, 0);
  auto log = vyolo::log::make_loggers(cfg, i);
  log->run_start(i);
  log->epoch_end(1, epoch_row(1));
  signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit tight = old;
  tight.rlim_cur = 4096;  // every file the loggers grow past 4 KiB now fails with EFBIG
  setrlimit(RLIMIT_FSIZE, &tight);
  ::testing::internal::CaptureStderr();
  EXPECT_NO_THROW({
    for (int e = 2; e <= 60; ++e) {
      for (int s = 0; s < 20; ++s) log->scalars(e * 100 + s * 5, {{"train/box_loss", 1.0}});
      log->epoch_end(e, epoch_row(e));
    }
    log->run_end(kFinal, 0);
  });
  std::string err = ::testing::internal::GetCapturedStderr();
  setrlimit(RLIMIT_FSIZE, &old);
  size_t warnings = 0;
  for (size_t p = err.find("logging stopped"); p != std::string::npos; p = err.find("logging stopped", p + 1))
    ++warnings;
  EXPECT_GE(warnings, 1u) << err;
  EXPECT_LE(warnings, 2u) << err;  // W&B and results.csv at most, once each
  EXPECT_NE(err.find("W&B logging stopped"), std::string::npos) << err;
  // What was written before the failure still reads back.
  auto records = logread::read_wandb_records(wandb_file(only_wandb_run(root_ / "out" / "wandb")));
  EXPECT_GT(records.size(), 3u);
}

TEST_F(LogTest, OnlineModeSyncsWithTheWandbCommand) {
  auto cfg = config("wandb");
  cfg.logging.wandb.mode = "online";
  fs::create_directories(root_ / "bin");
  fs::path fake = root_ / "bin" / "wandb";
  std::ofstream(fake) << "#!/bin/sh\necho \"$@\" > " << (root_ / "sync_args").string() << "\n";
  fs::permissions(fake, fs::perms::owner_all);
  std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", (root_ / "bin").c_str(), 1);
  auto i = info(cfg, 0);
  ::testing::internal::CaptureStderr();
  {
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 1);  // not logged in: a warning with the command
  }
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("warning: W&B mode online, but not logged in"), std::string::npos) << out;
  EXPECT_NE(out.find("wandb sync '" + (root_ / "out" / "wandb").string()), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(root_ / "sync_args"));
  setenv("WANDB_API_KEY", "test-key", 1);
  {
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 1);
  }
  setenv("PATH", old_path.c_str(), 1);
  ASSERT_TRUE(fs::exists(root_ / "sync_args"));
  std::string args = slurp(root_ / "sync_args");
  EXPECT_EQ(args.rfind("sync " + (root_ / "out" / "wandb" / "offline-run-").string(), 0), 0u) << args;
}

// The reader's view of one run. With VYOLO_LOG_DUMP=<run dir or file> it prints that instead.
TEST_F(LogTest, DumpOneRun) {
  auto print = [](const fs::path& p) {
    for (const auto& e : fs::recursive_directory_iterator(p)) {
      std::string name = e.path().filename().string();
      if (name.find("tfevents") != std::string::npos) std::cout << describe(logread::read_tensorboard(e.path()));
      if (e.path().extension() == ".wandb") std::cout << describe(logread::read_wandb(e.path()));
    }
  };
  if (const char* dir = std::getenv("VYOLO_LOG_DUMP")) {
    print(dir);
    return;
  }
  for (const std::string kind : {"tensorboard", "wandb"}) {
    auto cfg = config(kind);
    auto i = info(cfg, 0);
    auto log = vyolo::log::make_loggers(cfg, i);
    train(*log, i, 1, 3);
  }
  print(root_ / "out");
}

}  // namespace
