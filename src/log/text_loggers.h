// The two loggers every run has: a one-line-per-epoch console summary and Ultralytics' results.csv.
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "log/logger.h"

namespace vyolo::log {

// results.csv columns after "epoch,time", in Ultralytics' order (trainer.save_metrics: loss items, val metrics, lr).
const std::vector<std::string>& ultralytics_columns();

// "epoch 3/100  1.2s  box 1.234  cls ...": what the console prints and W&B's output.log keeps.
std::string format_epoch_line(int epoch, int epochs, const std::map<std::string, double>& row);

class ConsoleLogger : public Logger {
 public:
  explicit ConsoleLogger(int epochs) : epochs_(epochs) {}
  void run_start(const RunInfo& info) override;
  void scalars(int64_t, const std::map<std::string, double>&) override {}
  void image(int64_t, const std::string&, const cv::Mat&) override {}
  void epoch_end(int epoch, const std::map<std::string, double>& row) override;
  void file(const std::filesystem::path&, const std::string&) override {}
  void run_end(const std::map<std::string, double>& final_metrics, int exit_code) override;

 private:
  int epochs_;
};

// <run_dir>/results.csv, "%.6g" values as Ultralytics writes them. Columns: epoch, time, ultralytics_columns(), then
// the other keys of the first row (sorted; "sys/*" excluded). A resumed run appends under the existing header and its
// time column continues from the last row kept: rows past the checkpoint's epoch (written before a kill, and about
// to be written again) and a torn last line are dropped first (the file rewritten atomically). A fresh run starts a
// new file.
// Epoch is written as given: the trainer passes Ultralytics' 1-based epoch.
class CsvLogger : public Logger {
 public:
  CsvLogger(const std::filesystem::path& run_dir, bool resumed, int keep_epochs = -1 /* -1: every row */);
  void run_start(const RunInfo&) override;
  void scalars(int64_t, const std::map<std::string, double>&) override {}
  void image(int64_t, const std::string&, const cv::Mat&) override {}
  void epoch_end(int epoch, const std::map<std::string, double>& row) override;
  void file(const std::filesystem::path&, const std::string&) override {}
  void run_end(const std::map<std::string, double>&, int) override {}

 private:
  std::filesystem::path path_;
  std::vector<std::string> columns_;  // empty until the header exists
  double time_offset_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace vyolo::log
