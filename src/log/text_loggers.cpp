#include "log/text_loggers.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/error.h"
#include "common/fault.h"
#include "common/format.h"
#include "common/fs_util.h"

namespace vyolo::log {
namespace {

std::string g6(double v) { return format_number("%.6g", v); }  // as Ultralytics writes results.csv

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) out.push_back(cell);
  return out;
}

}  // namespace

const std::vector<std::string>& ultralytics_columns() {
  static const std::vector<std::string> cols{
      "train/box_loss",       "train/cls_loss",    "train/dfl_loss",       "metrics/precision(B)",
      "metrics/recall(B)",    "metrics/mAP50(B)",  "metrics/mAP50-95(B)",  "val/box_loss",
      "val/cls_loss",         "val/dfl_loss",      "lr/pg0",               "lr/pg1",
      "lr/pg2"};
  return cols;
}

std::string format_epoch_line(int epoch, int epochs, const std::map<std::string, double>& row) {
  static const std::vector<std::pair<std::string, std::string>> shown{
      {"train/box_loss", "box"},       {"train/cls_loss", "cls"},        {"train/dfl_loss", "dfl"},
      {"metrics/precision(B)", "P"},   {"metrics/recall(B)", "R"},       {"metrics/mAP50(B)", "mAP50"},
      {"metrics/mAP50-95(B)", "mAP50-95"}, {"lr/pg0", "lr"},           {"sys/rss_gb", "rss_gb"}};
  std::ostringstream s;
  s << "epoch " << epoch;
  if (epochs > 0) s << "/" << epochs;
  for (const auto& [key, label] : shown) {
    auto it = row.find(key);
    if (it != row.end()) s << "  " << label << " " << g6(it->second);
  }
  return s.str();
}

void ConsoleLogger::run_start(const RunInfo& info) {
  std::cout << "vyolo: run " << info.run_name << (info.resumed ? " (resumed)" : "") << " -> "
            << info.run_dir.string() << std::endl;
}

void ConsoleLogger::epoch_end(int epoch, const std::map<std::string, double>& row) {
  std::cout << format_epoch_line(epoch, epochs_, row) << std::endl;
}

void ConsoleLogger::run_end(const std::map<std::string, double>& final_metrics, int exit_code) {
  std::cout << "vyolo: run " << (exit_code == 0 ? "finished" : "failed (exit " + std::to_string(exit_code) + ")");
  for (const auto& [k, v] : final_metrics) std::cout << "  " << k << " " << g6(v);
  std::cout << std::endl;
}

CsvLogger::CsvLogger(const std::filesystem::path& run_dir, bool resumed, int keep_epochs)
    : path_(run_dir / "results.csv"), start_(std::chrono::steady_clock::now()) {
  std::error_code ec;
  if (!resumed) {
    std::filesystem::remove(path_, ec);
    return;
  }
  std::ifstream in(path_);
  std::string line, last;
  if (!std::getline(in, line)) return;
  columns_ = split_csv(line);
  std::string kept = line + "\n";
  bool dropped = false;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto row = split_csv(line);
    int epoch = -1;
    try {
      epoch = std::stoi(row.at(0));
    } catch (const std::exception&) {
    }
    if (row.size() != columns_.size() || epoch < 0 || (keep_epochs >= 0 && epoch > keep_epochs)) {
      dropped = true;  // torn by a kill, or an epoch the resumed run trains again
      continue;
    }
    kept += line + "\n";
    last = line;
  }
  in.close();
  if (dropped) write_file_atomic(path_, kept);
  auto cells = split_csv(last);
  if (cells.size() > 1 && columns_.size() > 1 && columns_[1] == "time") {
    try {
      time_offset_ = std::stod(cells[1]);
    } catch (const std::exception&) {
      time_offset_ = 0;  // a torn last line: time restarts from this run's start
    }
  }
}

void CsvLogger::run_start(const RunInfo&) { start_ = std::chrono::steady_clock::now(); }

void CsvLogger::epoch_end(int epoch, const std::map<std::string, double>& row) {
  std::string out;
  if (columns_.empty()) {
    columns_ = {"epoch", "time"};
    columns_.insert(columns_.end(), ultralytics_columns().begin(), ultralytics_columns().end());
    for (const auto& [k, v] : row) {
      bool known = k == "epoch" || k == "time" || k.rfind("sys/", 0) == 0;
      for (const auto& c : ultralytics_columns()) known = known || c == k;
      if (!known) columns_.push_back(k);
    }
    for (size_t i = 0; i < columns_.size(); ++i) out += (i ? "," : "") + columns_[i];
    out += "\n";
  } else {
    // Close a line torn by a crash so this row starts on its own.
    std::ifstream in(path_, std::ios::binary | std::ios::ate);
    if (in && in.tellg() > 0) {
      in.seekg(-1, std::ios::end);
      if (in.get() != '\n') out += "\n";
    }
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  for (size_t i = 0; i < columns_.size(); ++i) {
    const auto& c = columns_[i];
    if (i) out += ",";
    if (c == "epoch") {
      out += std::to_string(epoch);
    } else if (c == "time" && !row.count("time")) {
      out += g6(time_offset_ + elapsed);
    } else if (auto it = row.find(c); it != row.end()) {
      out += g6(it->second);
    }
  }
  out += "\n";
  std::FILE* f = std::fopen(path_.c_str(), "ab");
  if (!f) throw RuntimeError(path_.string() + ": cannot open for appending");
  size_t done = 0;
  if (kill_planned("csv")) {  // tests: a kill halfway through the row
    done = std::fwrite(out.data(), 1, out.size() / 2, f);
    std::fflush(f);
    kill_point("csv", path_.string());
  }
  bool ok = done + std::fwrite(out.data() + done, 1, out.size() - done, f) == out.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok) throw RuntimeError(path_.string() + ": write failed (disk full?)");
}

}  // namespace vyolo::log
