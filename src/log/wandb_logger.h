// Weights & Biases offline runs written natively (../shared/specs/wandb-offline.md), so that the official
// `wandb sync <dir>` uploads them: <root>/wandb/offline-run-YYYYMMDD_HHMMSS-<id>/run-<id>.wandb (header, run record
// with project/entity/name/group/tags/notes/job_type/config, history rows, system stats sampled every
// stats_interval seconds from a background thread, console lines, summary, files, exit, final) and files/
// (config.yaml, wandb-summary.json, wandb-metadata.json, output.log, media/, code/, checkpoints).
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "log/logger.h"
#include "log/system_metrics.h"

namespace vyolo {
class ChildProcess;
}

namespace vyolo::log {

// What the run is called and where it goes: logging.* merged with W&B's environment variables. The variables win
// over the conf values (conf always has defaults, so a variable the user set is the more specific wish):
// WANDB_MODE (online|offline|disabled; dryrun = offline, run = online), WANDB_DIR (the folder that gets wandb/;
// default logging.log_dir), WANDB_PROJECT, WANDB_ENTITY, WANDB_RUN_GROUP (default logging.experiment_name, so the
// folds of one experiment group together), WANDB_TAGS (comma-separated, added to logging.wandb.tags).
struct WandbSettings {
  std::string mode = "offline";
  std::filesystem::path root;
  std::string project, entity, group, name, notes, job_type;
  std::vector<std::string> tags;
  bool save_code = true, save_model = true;
  double stats_interval = 15;  // seconds between system samples (logging.wandb.stats_interval; 0 = none)
};
// Throws UsageError for an unknown mode (naming logging.wandb.mode or WANDB_MODE).
WandbSettings resolve_wandb_settings(const Config& cfg, const RunInfo& info);

class WandbLogWriter;

class WandbLogger : public Logger {
 public:
  // Creates (or, when info.resumed and <run_dir>/wandb_run.json names an existing run, reopens) the offline run
  // folder; throws RuntimeError if it cannot be written.
  WandbLogger(const WandbSettings& s, const RunInfo& info);
  ~WandbLogger() override;
  void run_start(const RunInfo& info) override;
  void scalars(int64_t step, const std::map<std::string, double>& values) override;
  void image(int64_t step, const std::string& tag, const cv::Mat& bgr) override;
  void epoch_end(int epoch, const std::map<std::string, double>& row) override;
  // kind "model" (copied when save_model), "code" (under code/, when save_code), anything else copied as is.
  void file(const std::filesystem::path& path, const std::string& kind) override;
  // Online mode (wandb on PATH and logged in): run_start starts `wandb beta sync --live <run folder>` when the CLI
  // has it (wandb >= 0.24); it uploads each record as it is appended and its output goes to stderr line by line.
  // run_end writes the final summary (the last history value of every key, as the SDK keeps it, plus final/<key> for
  // each final metric), exit and final records; in online mode it then waits for the live upload (at most 120 s, see
  // set_live_sync_wait; a failure is a warning with the `wandb sync` command), or without one runs `wandb sync`.
  // Online without wandb or a login: one warning with the command; the run is written as in offline mode.
  void run_end(const std::map<std::string, double>& final_metrics, int exit_code) override;

  const std::filesystem::path& run_folder() const { return dir_; }
  void set_live_sync_wait(double seconds) { live_sync_wait_ = seconds; }  // default 120
  const std::string& run_id() const { return id_; }

 private:
  void append(const std::string& record_bytes, bool keep_as_resume_point = true);
  void history(nlohmann::json row);
  void add_file(const std::string& rel, int policy, int type);
  void save_state(bool finished);
  void write_summary_file();
  void system_stats(const std::map<std::string, double>& sample);
  void output_line(const std::string& line);
  void start_live_sync();
  std::string sync_command() const;
  double runtime() const;

  WandbSettings s_;
  std::filesystem::path state_path_, dir_;
  std::string id_;
  std::unique_ptr<WandbLogWriter> log_;
  int64_t num_ = 0, step_ = 0;
  uint64_t resume_offset_ = 0;
  double runtime_before_ = 0, start_unix_ = 0, live_sync_wait_ = 120;
  std::chrono::steady_clock::time_point start_;
  bool reopened_ = false;
  std::set<std::string> listed_files_;
  nlohmann::json summary_ = nlohmann::json::object();
  // Where the run stood at the end of each epoch ({"E": {offset, step, num, runtime, summary}}): a run resumed from
  // the checkpoint of epoch E is cut back to there, so the epochs it trains again are logged once.
  nlohmann::json epoch_points_ = nlohmann::json::object();
  std::unique_ptr<vyolo::ChildProcess> live_sync_;  // `wandb beta sync --live`, online mode only
  std::mutex mu_;                            // the system monitor writes from its own thread
  std::unique_ptr<SystemMonitor> monitor_;   // declared last: stopped first
};

}  // namespace vyolo::log
