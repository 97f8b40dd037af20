#include "cli/command.h"
#include "config/hydra_files.h"
#include "infer/evaluate_studies.h"

namespace vyolo::cli {

int cmd_evaluate(const CommandContext& ctx) {
  auto sum = infer::evaluate_command(ctx.cfg, ctx.overrides,
                                     [&](const std::filesystem::path& dir) { write_hydra_files(dir, ctx); });
  return sum.evaluated > 0 ? 0 : 1;
}

}  // namespace vyolo::cli
