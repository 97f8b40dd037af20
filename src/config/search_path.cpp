#include "config/search_path.h"

#include <algorithm>
#include <set>

namespace vyolo {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> yaml_stems(const fs::path& folder) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(folder, ec)) {
    auto ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) out.push_back(e.path().stem().string());
  }
  return out;
}

}  // namespace

fs::path SearchPath::find(const std::string& rel) const {
  std::error_code ec;
  for (const auto& d : dirs)
    for (const char* ext : {".yaml", ".yml"})
      if (fs::is_regular_file(d / (rel + ext), ec)) return d / (rel + ext);
  return {};
}

bool SearchPath::has_group(const std::string& group) const {
  std::error_code ec;
  return std::any_of(dirs.begin(), dirs.end(), [&](const fs::path& d) { return fs::is_directory(d / group, ec); });
}

std::vector<std::string> SearchPath::options(const std::string& group) const {
  std::set<std::string> names;
  for (const auto& d : dirs)
    for (auto& n : yaml_stems(d / group)) names.insert(n);
  return {names.begin(), names.end()};
}

std::string SearchPath::describe() const {
  std::string out;
  for (const auto& d : dirs) out += (out.empty() ? "" : ", ") + d.string();
  return out;
}

fs::path builtin_config_dir() {
  // An installed program finds its tree at <prefix>/share/vyolo/conf (<prefix>/bin/vyolo).
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "vyolo" / "conf";
    if (fs::is_regular_file(installed / "config.yaml", ec)) return installed.lexically_normal();
  }
  return (fs::path(VYOLO_SOURCE_DIR) / "conf").lexically_normal();
}

SearchPath make_search_path(const std::vector<std::string>& cd_flags) {
  SearchPath p;
  for (auto it = cd_flags.rbegin(); it != cd_flags.rend(); ++it) p.dirs.push_back(fs::absolute(*it).lexically_normal());
  std::error_code ec;
  if (fs::is_directory("conf", ec)) p.dirs.push_back(fs::absolute("conf").lexically_normal());
  const fs::path builtin = builtin_config_dir();
  if (std::find(p.dirs.begin(), p.dirs.end(), builtin) == p.dirs.end()) p.dirs.push_back(builtin);
  return p;
}

SearchPath find_config_dir(const std::string& cd_flag) {
  return make_search_path(cd_flag.empty() ? std::vector<std::string>{} : std::vector<std::string>{cd_flag});
}

}  // namespace vyolo
