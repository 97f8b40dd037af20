// What a command receives from the front end: its composed, typed config and the command line as typed.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"

namespace vyolo {

struct CommandContext {
  std::string command;                  // e.g. "predict"
  Config cfg;                           // composed, resolved, typed; the command's keys: read_args(cfg)
  std::vector<std::string> overrides;   // as typed on the command line
  std::vector<std::string> argv;        // every argument after the program name, as typed
  SearchPath config_dir;                // the config search path (conf/ trees) used
};

}  // namespace vyolo
