#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "data/prepare.h"

namespace vyolo::cli {

int cmd_prepare(const CommandContext& ctx) {
  const auto& t = ctx.cfg.tree;
  PrepareOptions o;
  o.source = key_or<std::string>(t, "source", "");
  o.out = key_or<std::string>(t, "out", "");
  if (o.source.empty()) throw UsageError("prepare needs source=DIR (a folder of CT cases)");
  if (o.out.empty()) throw UsageError("prepare needs out=DIR (the dataset folder to write)");
  o.view = key_or<std::string>(t, "view", ctx.cfg.data.view);
  o.image_size = key_or<int>(t, "image_size", ctx.cfg.data.image_size);
  o.mode = key_or<std::string>(t, "mode", o.mode);
  o.slab_window = key_or<std::string>(t, "slab_window", o.slab_window);
  o.crop = key_or<std::string>(t, "crop", o.crop);
  o.margin = key_or<int>(t, "margin", o.margin);
  o.keep = key_or<std::string>(t, "keep", o.keep);
  o.max_negatives = key_or<int>(t, "max_negatives", o.max_negatives);
  o.vertebra_labels = key_or<std::string>(t, "vertebra_labels", o.vertebra_labels);
  o.allow_unlabeled = key_or<bool>(t, "allow_unlabeled", o.allow_unlabeled);
  o.workers = key_or<int>(t, "workers", o.workers);
  o.png_compression = key_or<int>(t, "png_compression", o.png_compression);
  o.seed = static_cast<uint64_t>(ctx.cfg.seed);
  o.hu_windows = ctx.cfg.data.hu_windows;
  validate(o);
  PrepareStats s = prepare_dataset(o, &std::cerr);
  std::cout << summary_text(s);
  std::cout << "dataset written to " << o.out.string() << " (data.yaml, stats.json)\n";
  if (!s.failures.empty()) {
    std::cerr << "vyolo prepare: " << s.failures.size() << " of " << s.cases << " case(s) failed\n";
    return 1;
  }
  return 0;
}

}  // namespace vyolo::cli
