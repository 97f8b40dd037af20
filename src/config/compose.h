// Hydra composition: a primary config with a `defaults` list, config groups as sub-folders of the config dir,
// group overrides (`split=fold_1`, `+g=o`, `~g`), then config overrides in struct mode (an unknown key or a value of
// the wrong type is a UsageError that names the dotted key and the nearest existing keys).
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "config/node.h"
#include "config/search_path.h"

namespace vyolo {

struct ComposeOptions {
  SearchPath config_dir;
  std::string config_name = "config";  // with or without ".yaml"
  // The command's own top-level keys (CommandKeys::defaults_yaml): merged over the composed tree before the
  // overrides, and a key named here is a value even when a config group has the same name (`vyolo split data=DIR`).
  std::string command_defaults_yaml;
};

struct Composed {
  Node tree;                                                 // unresolved (interpolations kept)
  std::vector<std::pair<std::string, std::string>> choices;  // config group -> selected option(s)
  std::vector<std::string> overrides;                        // as given
  std::vector<std::string> hydra_overrides;                  // `hydra.*` / `hydra/...` ones, set aside
  std::vector<std::string> user_keys;                        // the dotted keys of the config overrides
};

// Composes one job. A sweep among the overrides is an error here ("use --multirun"); expand them first.
Composed compose(const ComposeOptions& opts, const std::vector<std::string>& overrides);

// Applies one config override (not a group override) to a tree in struct mode.
void apply_config_override(Node& tree, const struct Override& o);

// Config groups of the search path (relative paths, '/'-separated) with their options, sorted.
std::vector<std::pair<std::string, std::vector<std::string>>> list_groups(const SearchPath& path);



}  // namespace vyolo
