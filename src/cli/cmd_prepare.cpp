#include <iostream>

#include "cli/command.h"
#include "common/console.h"
#include "common/error.h"
#include "data/prepare.h"

namespace vyolo::cli {

int cmd_prepare(const CommandContext& ctx) {
  const auto a = read_args<PrepareArgs>(ctx.cfg);
  PrepareOptions o;
  o.source = a.source;
  o.out = a.out;
  if (o.source.empty()) throw UsageError("prepare needs source=DIR (a folder of CT cases)");
  if (o.out.empty()) throw UsageError("prepare needs out=DIR (the dataset folder to write)");
  o.view = a.view.empty() ? ctx.cfg.data.view : a.view;
  o.image_size = a.image_size.value_or(ctx.cfg.data.image_size);
  static_cast<PrepareKeys&>(o) = a;
  o.seed = static_cast<uint64_t>(ctx.cfg.seed);
  o.hu_windows = ctx.cfg.data.hu_windows;
  validate(o);
  PrepareStats s = prepare_dataset(o, &std::cerr);
  std::cout << summary_text(s);
  std::cout << "dataset written to " << o.out.string() << " (data.yaml, stats.json)\n";
  if (!s.failures.empty()) {
    console::info(std::to_string(s.failures.size()) + " of " + std::to_string(s.cases) + " case(s) failed");
    return 1;
  }
  return 0;
}

}  // namespace vyolo::cli
