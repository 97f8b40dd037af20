// `vyolo train [overrides]`: one fold, run directory <log_dir>/<experiment_name>/fold_<K>/ (DESIGN.md §3).
#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "train/trainer.h"

namespace vyolo::cli {

int cmd_train(const CommandContext& ctx) {
  Config cfg = ctx.cfg;
  // `weights=W` starts from a checkpoint, as Ultralytics' `model=` (same as model.pretrained).
  if (const auto a = read_args<TrainArgs>(cfg); !a.weights.empty()) cfg.model.pretrained = a.weights;
  train::TrainOptions opt;
  opt.overrides = ctx.overrides;
  opt.command = ctx.command;
  opt.command_line = "vyolo " + ctx.command;
  for (const auto& o : ctx.overrides) opt.command_line += " " + o;
  opt.args = ctx.argv;
  auto r = train::train(cfg, opt);
  if (r.interrupted) return 130;
  std::cout << "vyolo: weights in " << (r.run_dir / "weights").string() << " (best: " << r.best.filename().string()
            << ", last: " << r.last.filename().string() << ")\n";
  return 0;
}

}  // namespace vyolo::cli
