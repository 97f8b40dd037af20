// The `vyolo` sub-commands. Each command lives in its own cmd_<name>.cpp; the table is in commands.cpp.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/config.h"
#include "config/tree_key.h"

namespace vyolo::cli {

struct CommandContext {
  std::string command;                  // e.g. "predict"
  Config cfg;                           // composed, resolved, typed (cfg.tree holds command keys too)
  std::vector<std::string> overrides;   // as typed on the command line
  std::vector<std::string> argv;        // every argument after the program name, as typed
  std::filesystem::path config_dir;     // the conf/ tree used
};

using CommandFn = int (*)(const CommandContext&);

struct CommandSpec {
  const char* name;
  const char* summary;
  // Command-level keys merged at the top of the composed tree before overrides apply (so `weights=...` passes
  // struct checking for `predict` but is unknown to `train`).
  const char* defaults_yaml;
  CommandFn run;
};

const std::vector<CommandSpec>& commands();

int cmd_train(const CommandContext&);
int cmd_cv(const CommandContext&);
int cmd_val(const CommandContext&);
int cmd_predict(const CommandContext&);
int cmd_evaluate(const CommandContext&);
int cmd_prepare(const CommandContext&);
int cmd_split(const CommandContext&);
int cmd_synth(const CommandContext&);
int cmd_export(const CommandContext&);

}  // namespace vyolo::cli
