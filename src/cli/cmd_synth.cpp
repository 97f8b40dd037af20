#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "data/phantom.h"

namespace vyolo::cli {

int cmd_synth(const CommandContext& ctx) {
  const auto& t = ctx.cfg.tree;
  const std::string out = key_or<std::string>(t, "out", "");
  if (out.empty()) throw UsageError("synth needs out=DIR");
  const int cases = key_or<int>(t, "cases", 8);
  if (cases < 1 || cases > 10000) throw UsageError("cases must be 1..10000, got " + std::to_string(cases));
  PhantomOptions opt;
  opt.vertebrae = key_or<int>(t, "vertebrae", opt.vertebrae);
  opt.noise_hu = key_or<double>(t, "noise", opt.noise_hu);
  if (opt.vertebrae < 1 || opt.vertebrae > 12) throw UsageError("vertebrae must be 1..12");
  const auto s = write_phantoms(out, cases, static_cast<uint64_t>(ctx.cfg.seed), opt);
  std::cout << "synth: " << s.cases << " phantom case(s) in " << out << ", " << s.fractured_cases
            << " with fractures (" << s.fractures << " fracture instances), seed " << ctx.cfg.seed << "\n";
  return 0;
}

}  // namespace vyolo::cli
