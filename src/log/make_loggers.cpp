// make_loggers: the composite that fans out to console, results.csv and the configured tracker, with each sink behind
// a guard that turns its first failure into one warning and silence (DESIGN.md §6: training and checkpoints go on).
#include <fstream>
#include <iostream>

#include "common/console.h"
#include "common/error.h"
#include "log/logger.h"
#include "log/system_metrics.h"
#include "log/tensorboard_logger.h"
#include "log/text_loggers.h"
#include "log/wandb_logger.h"

namespace vyolo::log {
namespace {

class GuardedLogger : public Logger {
 public:
  GuardedLogger(std::string name, std::unique_ptr<Logger> inner) : name_(std::move(name)), inner_(std::move(inner)) {}
  void run_start(const RunInfo& info) override { guard([&] { inner_->run_start(info); }); }
  void scalars(int64_t step, const std::map<std::string, double>& v) override {
    guard([&] { inner_->scalars(step, v); });
  }
  void image(int64_t step, const std::string& tag, const cv::Mat& bgr) override {
    guard([&] { inner_->image(step, tag, bgr); });
  }
  void epoch_end(int epoch, const std::map<std::string, double>& row) override {
    guard([&] { inner_->epoch_end(epoch, row); });
  }
  void file(const std::filesystem::path& path, const std::string& kind) override {
    guard([&] { inner_->file(path, kind); });
  }
  void run_end(const std::map<std::string, double>& m, int code) override { guard([&] { inner_->run_end(m, code); }); }

 private:
  template <class F>
  void guard(F&& f) {
    if (dead_) return;
    try {
      f();
    } catch (const std::exception& e) {
      dead_ = true;
      console::warn(name_ + " logging stopped: " + e.what());
    } catch (...) {
      dead_ = true;
      console::warn(name_ + " logging stopped: unknown error");
    }
  }
  std::string name_;
  std::unique_ptr<Logger> inner_;
  bool dead_ = false;
};

class CompositeLogger : public Logger {
 public:
  explicit CompositeLogger(int log_freq) : log_freq_(log_freq) {}
  void add(std::string name, std::unique_ptr<Logger> l, bool tracker) {
    (tracker ? trackers_ : always_).push_back(std::make_unique<GuardedLogger>(std::move(name), std::move(l)));
  }
  void run_start(const RunInfo& info) override {
    each([&](Logger& l) { l.run_start(info); });
  }
  // Per-step scalars reach the trackers every log_freq steps, as "step/<key>": the trainer logs the same keys per step
  // and per epoch, and one TensorBoard tag (or W&B chart) must not mix optimizer steps with epochs on its x axis.
  void scalars(int64_t step, const std::map<std::string, double>& v) override {
    if (log_freq_ > 1 && step % log_freq_ != 0) return;
    std::map<std::string, double> named;
    for (const auto& [k, x] : v) named[k.rfind("step/", 0) == 0 ? k : "step/" + k] = x;
    for (auto& l : trackers_) l->scalars(step, named);
  }
  void image(int64_t step, const std::string& tag, const cv::Mat& bgr) override {
    for (auto& l : trackers_) l->image(step, tag, bgr);
  }
  void epoch_end(int epoch, const std::map<std::string, double>& row) override {
    auto full = sampler_.sample();
    for (const auto& [k, v] : row) full[k] = v;
    each([&](Logger& l) { l.epoch_end(epoch, full); });
  }
  void file(const std::filesystem::path& path, const std::string& kind) override {
    each([&](Logger& l) { l.file(path, kind); });
  }
  // Once: a second call (an error path after a normal end) must not append a second exit record.
  void run_end(const std::map<std::string, double>& m, int code) override {
    if (ended_) return;
    ended_ = true;
    each([&](Logger& l) { l.run_end(m, code); });
  }

 private:
  template <class F>
  void each(F&& f) {
    for (auto& l : always_) f(*l);
    for (auto& l : trackers_) f(*l);
  }
  int log_freq_;
  bool ended_ = false;
  SystemSampler sampler_;
  std::vector<std::unique_ptr<Logger>> always_, trackers_;
};

void require_writable(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto probe = dir / ".vyolo_write_test";
  bool ok = !ec;
  if (ok) {
    std::ofstream f(probe);
    ok = static_cast<bool>(f << "ok") && (f.close(), !f.fail());
  }
  std::filesystem::remove(probe, ec);
  if (!ok) throw RuntimeError(dir.string() + ": log folder is not writable");
}

}  // namespace

std::unique_ptr<Logger> make_loggers(const Config& cfg, const RunInfo& info) {
  const std::string& kind = cfg.logging.logger;
  if (kind != "tensorboard" && kind != "wandb" && kind != "none" && !kind.empty())
    throw UsageError("logging.logger: unknown logger '" + kind + "' (expected tensorboard, wandb or none)");
  require_writable(info.run_dir);
  auto out = std::make_unique<CompositeLogger>(cfg.logging.wandb.log_freq);
  out->add("console", std::make_unique<ConsoleLogger>(cfg.training.epochs), false);
  out->add("results.csv", std::make_unique<CsvLogger>(info.run_dir, info.resumed, info.resume_epoch), false);
  if (kind == "tensorboard") {
    out->add("TensorBoard", std::make_unique<TensorBoardLogger>(cfg, info), true);
  } else if (kind == "wandb") {
    WandbSettings s = resolve_wandb_settings(cfg, info);
    if (s.mode == "disabled") {
      std::cout << "vyolo: W&B logging disabled (mode=disabled)" << std::endl;
    } else {
      require_writable(s.root / "wandb");
      out->add("W&B", std::make_unique<WandbLogger>(s, info), true);
    }
  }
  return out;
}

}  // namespace vyolo::log
