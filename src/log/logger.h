// What the trainer tells the outside world. One interface; console, CSV, TensorBoard and W&B implement it, and a
// composite fans out to the configured set (make_loggers). Keys are DESIGN.md §3's ("train/box_loss",
// "metrics/mAP50(B)", "val/map_50", "lr/pg0", ...). A logger never throws out of these calls: a failing sink
// (full disk) warns once on stderr and goes quiet, so training and checkpoints carry on.
//
// Use from the trainer:
//   auto log = vyolo::log::make_loggers(cfg, info);   // before training: throws if the log dir is unwritable
//   log->run_start(info);
//   each optimizer step:  log->scalars(global_step, {{"train/box_loss", ...}});  // every log_freq-th step reaches
//                         TensorBoard/W&B as "step/train/box_loss" (x = step), apart from the epoch series (x = epoch)
//   previews:             log->image(epoch, "train/batch_preview", bgr);
//   after validation:     log->epoch_end(epoch_1_based, row);  // results.csv row; add "sys/gpu_mem_gb" on CUDA
//   best checkpoint:      log->file(best_path, "model");       // copied into the W&B run when save_model
//   at the end:           log->run_end(final_metrics, exit_code);
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "config/config.h"

namespace vyolo::log {

struct RunInfo {
  std::filesystem::path run_dir;   // <log_dir>/<experiment_name>/fold_<K>
  std::string run_name;            // e.g. "baseline_fold_1"
  std::string job_type = "train";  // train | val | cv
  std::string config_yaml;         // the resolved config, as written to .hydra/config.yaml
  std::string command_line;        // as typed
  std::vector<std::string> args;   // the program's arguments, one per argv element (argv[1:])
  bool resumed = false;            // continue the same W&B run id / TensorBoard step sequence
  // Resuming a checkpoint of `resume_epoch` completed epochs (`resume_batch` batches into the next): what a killed
  // run logged after that checkpoint is logged again, so the loggers drop it (results.csv rows past the epoch; the
  // W&B run back to the end of that epoch when resume_batch is 0). -1: keep everything.
  int resume_epoch = -1, resume_batch = 0;
};

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void run_start(const RunInfo& info) = 0;
  // Per-step scalars at the global optimizer step; trackers keep every logging.wandb.log_freq-th as "step/<key>".
  virtual void scalars(int64_t step, const std::map<std::string, double>& values) = 0;
  // An image (BGR, 8-bit) such as a training-batch preview or validation predictions.
  virtual void image(int64_t step, const std::string& tag, const cv::Mat& bgr) = 0;
  // End of an epoch: every metric of that epoch (the results.csv row), after validation.
  virtual void epoch_end(int epoch, const std::map<std::string, double>& row) = 0;
  // A file that belongs to the run (best checkpoint, resolved config).
  virtual void file(const std::filesystem::path& path, const std::string& kind) = 0;
  // Final metrics (also the hparams summary for TensorBoard, wandb-summary.json for W&B) and exit status.
  virtual void run_end(const std::map<std::string, double>& final_metrics, int exit_code) = 0;
};

// The loggers a config asks for: console and results.csv always, plus TensorBoard or W&B per logging.logger and
// logging.wandb.mode / WANDB_MODE. Throws RuntimeError before training when the log dir is not writable.
std::unique_ptr<Logger> make_loggers(const Config& cfg, const RunInfo& info);

}  // namespace vyolo::log
