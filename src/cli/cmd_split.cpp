#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "config/search_path.h"
#include "data/split.h"

namespace fs = std::filesystem;

namespace vyolo::cli {

int cmd_split(const CommandContext& ctx) {
  const auto a = read_args<SplitArgs>(ctx.cfg);
  const fs::path data = a.data.empty() ? ctx.cfg.data.data_dir : a.data;
  const int folds = a.folds;
  // The user's project folder, never the built-in tree: ./conf joins the search path of later commands.
  const fs::path out = a.out.empty() ? fs::absolute("conf") / "split" : fs::path(a.out);
  std::error_code ec;
  if (a.out.empty() && fs::weakly_canonical(out.parent_path(), ec) == fs::weakly_canonical(builtin_config_dir(), ec))
    throw UsageError("./conf here is vyolo's built-in config tree (" + builtin_config_dir().string() +
                     "): run `vyolo split` in your project folder, or give out=DIR");
  if (folds < 2) throw UsageError("folds must be >= 2, got " + std::to_string(folds));
  const auto patients = scan_patients(data);
  int fractured = 0;
  for (auto& [p, f] : patients) fractured += f;
  const auto result = make_folds(patients, folds, static_cast<uint64_t>(ctx.cfg.seed));
  const auto paths = write_folds(result, out, a.overwrite);
  std::cout << "split: " << patients.size() << " patients (" << fractured << " with fractures) into " << folds
            << " folds, seed " << ctx.cfg.seed << "\n";
  for (size_t i = 0; i < result.size(); ++i) {
    int fr = 0;
    for (auto& p : result[i].val_patients) fr += patients.at(p);
    std::cout << "  " << paths[i].string() << ": val " << result[i].val_patients.size() << " (" << fr
              << " with fractures), train " << result[i].train_patients.size() << "\n";
  }
  return 0;
}

}  // namespace vyolo::cli
