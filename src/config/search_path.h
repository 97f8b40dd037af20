// Hydra's config search path, and where the built-in config tree is.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace vyolo {

// Hydra's config search path: directories in priority order. A config file (`config`, `split/fold_0`) comes from
// the first directory that has it; a group's options are those of every directory. A folder holding only
// `split/fold_K.yaml` is a valid entry.
struct SearchPath {
  std::vector<std::filesystem::path> dirs;

  SearchPath() = default;
  SearchPath(std::filesystem::path dir) : dirs{std::move(dir)} {}  // NOLINT: one directory is a search path
  SearchPath(const std::string& dir) : SearchPath(std::filesystem::path(dir)) {}
  SearchPath(const char* dir) : SearchPath(std::filesystem::path(dir)) {}

  bool empty() const { return dirs.empty(); }
  std::filesystem::path primary() const { return dirs.empty() ? std::filesystem::path() : dirs.front(); }
  // `rel` + .yaml (or .yml) in the first directory that has it; empty when none has.
  std::filesystem::path find(const std::string& rel) const;
  bool has_group(const std::string& group) const;
  std::vector<std::string> options(const std::string& group) const;  // sorted, each name once
  std::string describe() const;  // "a, b, c"
};

// The search path `vyolo` composes from, highest priority first: the -cd directories (the last one given first),
// ./conf when it exists, then the built-in tree (installed beside the program, else the source tree's conf/).
SearchPath make_search_path(const std::vector<std::string>& cd_flags);

// The built-in config tree: <prefix>/share/vyolo/conf beside an installed program, else <source>/conf.
std::filesystem::path builtin_config_dir();

// make_search_path with at most one -cd directory (empty = none).
SearchPath find_config_dir(const std::string& cd_flag);

}  // namespace vyolo
