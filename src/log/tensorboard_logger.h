// TensorBoard event files written natively (../shared/specs/tensorboard-events.md): <run_dir>/tensorboard/
// events.out.tfevents.<secs>.<host>.<pid>.<n>. Scalars as simple_value (per-step calls at their global step, epoch rows
// at step = epoch), images as PNG Summary.Image, the resolved config and command line as text, and the hparams plugin's
// experiment + session_start_info (step 0) and session_end_info (run end) so runs compare in the HPARAMS tab. Final
// metrics are logged as "final/<key>" at the last epoch. Every event is flushed. A resumed run opens a new file in the same folder and
// the trainer's steps carry on; session_start_info is not repeated.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "config/config.h"
#include "log/logger.h"

namespace vyolo::log {

class TFRecordWriter;

class TensorBoardLogger : public Logger {
 public:
  // Creates the folder and the event file (first record: file_version "brain.Event:2"); throws RuntimeError if it
  // cannot.
  TensorBoardLogger(const Config& cfg, const RunInfo& info);
  ~TensorBoardLogger() override;
  void run_start(const RunInfo& info) override;
  void scalars(int64_t step, const std::map<std::string, double>& values) override;
  void image(int64_t step, const std::string& tag, const cv::Mat& bgr) override;
  void epoch_end(int epoch, const std::map<std::string, double>& row) override;
  void file(const std::filesystem::path&, const std::string&) override {}
  void run_end(const std::map<std::string, double>& final_metrics, int exit_code) override;

  const std::filesystem::path& event_file() const { return path_; }

 private:
  void write(int64_t step, const std::string& summary_bytes);
  Config cfg_;
  std::filesystem::path path_;
  std::unique_ptr<TFRecordWriter> writer_;
  int64_t last_step_ = 0, last_epoch_ = -1;
};

}  // namespace vyolo::log
