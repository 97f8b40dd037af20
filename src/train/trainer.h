// Training one fold (Ultralytics' BaseTrainer/DetectionTrainer, 8.4): warmup, schedule, nominal-batch accumulation,
// gradient clipping, EMA, validation of the EMA each epoch, results.csv and tracker logs, checkpoints (DESIGN.md §4)
// with exact resume, early stopping, and a clean stop on SIGINT/SIGTERM.
//
//   vyolo::Config cfg = ...;                       // composed config
//   auto r = vyolo::train::train(cfg, {});          // runs in <log_dir>/<experiment_name>/fold_<fold_id>/
//   r.final_metrics["val/map_50"];
//
// Checkpoint layout (safetensors): the EMA weights under their plain Ultralytics names (what predict/val load and
// what the metrics were measured on); the raw training weights under `train.`; optimizer state under `optim.`;
// the torch CPU generator under `rng.torch_cpu`. Metadata: variant, num_classes, names (JSON), input_channels,
// img_size, view, hu_windows (JSON), epoch (completed), best_fitness, config (resolved YAML), version, and
// train_state (JSON: optimizer choice, EMA updates, last optimizer step, batch within the epoch, top-k list, early
// stopping state, running losses). Only `last` carries the `train.`/`optim.`/`rng.` parts.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"

namespace vyolo::train {

struct TrainOptions {
  std::vector<std::string> overrides;  // as typed (for .hydra/overrides.yaml)
  std::string command = "train";
  std::string job_type = "train";      // logger job type (train | cv)
  std::string command_line;
  std::vector<std::string> args;       // argv[1:] as typed (W&B metadata)
  // Called after every training batch (epoch 0-based, batch index within the epoch); tests stop runs from here.
  std::function<void(int epoch, int batch)> on_batch_end;
  bool progress = true;                // console progress line
};

struct TrainResult {
  std::filesystem::path run_dir, last, best;
  int epochs_done = 0;                 // completed epochs (incl. those before a resume)
  bool interrupted = false, early_stopped = false;
  double best_fitness = 0;
  std::map<std::string, double> final_metrics;  // the last validation's row (DESIGN.md §3 keys)
};

// A TrainResult as JSON, for a parent process (`vyolo cv cv.parallel=K`) that ran the training as a child; written
// atomically. read_result throws RuntimeError naming the file.
void write_result(const TrainResult& r, const std::filesystem::path& path);
TrainResult read_result(const std::filesystem::path& path);

// `<log_dir>/<experiment_name>/fold_<fold_id>`.
std::filesystem::path run_dir_for(const Config& cfg);

// Trains per cfg (training.resume=true continues <run_dir>/weights/last.safetensors). Bad data or config throws
// UsageError before training starts.
TrainResult train(const Config& cfg, const TrainOptions& opt = {});

// What SIGINT/SIGTERM do during train(): finish the current optimizer step, save `last`, return interrupted.
void request_stop();

// Python str.format of a checkpoint filename template, e.g. "epoch_{epoch:02d}_map_{val/map_50:.3f}", with keys
// from `values`; an unknown key is a UsageError naming it.
std::string format_filename(const std::string& tmpl, const std::map<std::string, double>& values);

// Ultralytics' EarlyStopping: stop when `patience` epochs pass without a fitness improvement.
struct EarlyStopping {
  int patience = 50;
  double best_fitness = 0;
  int best_epoch = 0;
  bool possible_stop = false;
  bool operator()(int epoch, double fitness);  // epoch 1-based; true = stop
};

}  // namespace vyolo::train
