// The `.hydra/` folder Hydra leaves in every run directory: config.yaml (the resolved config), overrides.yaml (the
// overrides as typed) and hydra.yaml (runtime: cwd, command, version, time, group choices). Each file is written
// atomically. Commands call write_hydra_files once they know their output directory.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/interpolate.h"

namespace vyolo {

struct CommandContext;

void write_hydra_files(const std::filesystem::path& run_dir, const CommandContext& ctx);
void write_hydra_files(const std::filesystem::path& run_dir, const YAML::Node& resolved, const std::string& command,
                       const std::vector<std::string>& overrides, const ComposeInfo& run);

// The hydra.yaml text (also what `--cfg hydra` prints); run_dir may be empty when not known yet.
std::string hydra_yaml(const std::filesystem::path& run_dir, const std::string& command,
                       const std::vector<std::string>& overrides, const ComposeInfo& run);

// What `${hydra:KEY}` resolves to for this run (runtime.cwd, runtime.version, job.name, job.num, ...).
HydraValues hydra_values(const std::string& command, const std::vector<std::string>& overrides,
                               const ComposeInfo& run);

// Hydra's job.override_dirname: the overrides sorted and joined with ','.
std::string override_dirname(const std::vector<std::string>& overrides);

}  // namespace vyolo
