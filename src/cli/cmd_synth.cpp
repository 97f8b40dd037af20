#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "data/phantom.h"

namespace vyolo::cli {

int cmd_synth(const CommandContext& ctx) {
  const auto a = read_args<SynthArgs>(ctx.cfg);
  const std::string& out = a.out;
  if (out.empty()) throw UsageError("synth needs out=DIR");
  const int cases = a.cases;
  if (cases < 1 || cases > 10000) throw UsageError("cases must be 1..10000, got " + std::to_string(cases));
  PhantomOptions opt;
  opt.vertebrae = a.vertebrae;
  opt.noise_hu = a.noise;
  if (opt.vertebrae < 1 || opt.vertebrae > 12) throw UsageError("vertebrae must be 1..12");
  const auto s = write_phantoms(out, cases, static_cast<uint64_t>(ctx.cfg.seed), opt);
  std::cout << "synth: " << s.cases << " phantom case(s) in " << out << ", " << s.fractured_cases
            << " with fractures (" << s.fractures << " fracture instances), seed " << ctx.cfg.seed << "\n";
  return 0;
}

}  // namespace vyolo::cli
