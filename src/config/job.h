// One job from a command line: compose the conf tree with the command's keys and the overrides, resolve the
// interpolations and fill the typed Config. The CLI front end runs this for every job before any command starts;
// a command that needs a sibling config (`cv` composing each `split=fold_K`) calls recompose.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "config/compose.h"
#include "config/config.h"

namespace vyolo {

struct CommandContext;

struct JobRequest {
  SearchPath config_dir;
  std::string config_name = "config";
  std::string command;
  std::string command_keys_yaml;       // CommandKeys::defaults_yaml
  std::vector<std::string> overrides;  // no sweeps: expand them first (expand_sweeps)
  std::string mode = "RUN";            // RUN|MULTIRUN
  int job_num = 0;
  std::string sweep_dir;
  bool resolve = true;                 // false: keep ${...} (what `--cfg job` prints, as Hydra does)
  bool typed = true;                   // false: skip load_config (only the tree is wanted)
};

struct Job {
  Composed composed;  // unresolved tree, group choices
  Node resolved;      // the tree after interpolation (== composed.tree when resolve is false)
  Config cfg;               // typed view, with cfg.run filled; cfg.tree is `resolved`
};

// Throws UsageError for any config problem (unknown key, bad value, missing option, interpolation error).
Job make_job(const JobRequest& request);

// The context's config composed again with extra overrides appended (they win over the typed ones).
Config recompose(const CommandContext& ctx, const std::vector<std::string>& extra_overrides);

}  // namespace vyolo
