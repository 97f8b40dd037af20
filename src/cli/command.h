// The `vyolo` sub-commands. Each command lives in its own cmd_<name>.cpp and reads its keys with
// read_args<NameArgs>(ctx.cfg) (config/command_args.h); the table is in commands.cpp.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/command_args.h"
#include "config/command_context.h"

namespace vyolo::cli {

using CommandFn = int (*)(const CommandContext&);

struct CommandSpec {
  const char* name;
  const char* summary;
  // The command's own keys, merged at the top of the composed tree before the overrides apply (so `weights=...`
  // passes struct checking for `predict` but is unknown to `train`).
  CommandKeys keys;
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

// `vyolo predict` on a CT volume (source= a NIfTI file or DICOM folder): computes everything, then creates the
// numbered run folder (.hydra files first) and writes the findings. Returns the run folder.
std::filesystem::path predict_volume(const CommandContext& ctx);

}  // namespace vyolo::cli
