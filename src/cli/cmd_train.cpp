// `vyolo train [overrides]`: one fold, run directory <log_dir>/<experiment_name>/fold_<K>/ (DESIGN.md §3).
// Data-parallel: `training.nproc=N` (or a device list `training.device=0,1`) starts N ranks on this machine; a vyolo
// started by torchrun, srun or any launcher that sets RANK/WORLD_SIZE joins that launcher's group.
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli/command.h"
#include "cli/fold_eval.h"
#include "cli/setup.h"
#include "common/console.h"
#include "common/error.h"
#include "dist/env.h"
#include "dist/launcher.h"
#include "train/trainer.h"

namespace vyolo::cli {

namespace {

// Ranks to start here: training.nproc, or as Ultralytics one per GPU of a device list (`0,1`, `cuda:0,1`).
int local_ranks(const Config& cfg) {
  if (cfg.given("training.nproc") || cfg.training.nproc > 1) return std::max(1, cfg.training.nproc);
  const auto& d = cfg.training.device;
  return d == "cpu" ? 1 : 1 + static_cast<int>(std::count(d.begin(), d.end(), ','));
}

}  // namespace

int cmd_train(const CommandContext& ctx) {
  Config cfg = ctx.cfg;
  const dist::DistEnv env = dist::env_from_environment();
  if (env.active()) {
    if (env.rank > 0) console::set_command(ctx.command + " [rank " + std::to_string(env.rank) + "]");
  } else if (const int n = local_ranks(cfg); n > 1) {
    return dist::launch_local_ranks(n, child_args(ctx, ctx.command, ctx.overrides), cfg.training.dist_timeout + 30);
  }
  // `weights=W` starts from a checkpoint, as Ultralytics' `model=` (same as model.pretrained).
  const auto a = read_args<TrainArgs>(cfg);
  if (!a.weights.empty()) cfg.model.pretrained = a.weights;
  FoldEvalArgs ea;
  ea.studies = a.studies;
  ea.operating_point = a.operating_point;
  ea.calibration = a.calibration;
  check_fold_eval_args(ea);
  train::TrainOptions opt;
  opt.overrides = ctx.overrides;
  opt.command = ctx.command;
  opt.command_line = "vyolo " + ctx.command;
  for (const auto& o : ctx.overrides) opt.command_line += " " + o;
  opt.args = ctx.argv;
  // A fold of `vyolo cv cv.parallel=K` (cmd_cv.cpp): logged as a cv job, its result handed back in a file.
  const char* result_file = std::getenv("VYOLO_CV_RESULT");
  if (result_file && *result_file) opt.job_type = "cv";
  auto r = train::train(cfg, opt);
  if (result_file && *result_file && env.rank == 0) train::write_result(r, result_file);
  if (r.interrupted) return 130;
  if (env.rank != 0) return 0;
  // The fold's operating point on its validation CT studies, when they are known (a fold of `vyolo cv` leaves
  // this to cv).
  if (!(result_file && *result_file) && !cfg.split.val_patients.empty())
    if (const auto studies = studies_dir(a.studies, cfg)) evaluate_fold(ea, cfg, r, *studies);
  std::cout << "vyolo: weights in " << (r.run_dir / "weights").string() << " (best: " << r.best.filename().string()
            << ", last: " << r.last.filename().string() << ")\n";
  return 0;
}

}  // namespace vyolo::cli
