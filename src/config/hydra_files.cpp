#include "config/hydra_files.h"

#include <algorithm>
#include <ctime>

#include "config/command_context.h"
#include "common/fs_util.h"
#include "config/node.h"

namespace vyolo {

namespace {

std::string format_time(const char* fmt) {
  std::time_t t = run_start_time();
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, fmt, &tm));
}

Node str_list(const std::vector<std::string>& items) {
  Node n = Node::empty_seq();
  for (auto& s : items) n.seq.push_back(Node::string(s));
  return n;
}

Node str(const std::string& s) { return Node::string(s); }

}  // namespace

std::string override_dirname(const std::vector<std::string>& overrides) {
  auto sorted = overrides;
  std::sort(sorted.begin(), sorted.end());
  std::string r;
  for (auto& o : sorted) r += (r.empty() ? "" : ",") + o;
  return r;
}

HydraValues hydra_values(const std::string& command, const std::vector<std::string>& overrides,
                               const ComposeInfo& run) {
  HydraValues v;
  v["runtime.cwd"] = std::filesystem::current_path().string();
  v["runtime.version"] = VYOLO_VERSION;
  v["runtime.config_dir"] = run.config_dir;
  v["job.name"] = command;
  v["job.num"] = std::to_string(run.job_num);
  v["job.config_name"] = run.config_name;
  v["job.override_dirname"] = override_dirname(overrides);
  v["mode"] = run.mode;
  if (!run.sweep_dir.empty()) {
    v["sweep.dir"] = run.sweep_dir;
    v["sweep.subdir"] = std::to_string(run.job_num);
    v["runtime.output_dir"] = run.sweep_dir + "/" + std::to_string(run.job_num);
  }
  for (auto& [g, o] : run.choices) v["runtime.choices." + g] = o;
  return v;
}

std::string hydra_yaml(const std::filesystem::path& run_dir, const std::string& command,
                       const std::vector<std::string>& overrides, const ComposeInfo& run) {

  Node h = Node::empty_map();
  h.get_or_add("run").get_or_add("dir") = run_dir.empty() ? Node::null() : str(run_dir.string());
  Node& sweep = h.get_or_add("sweep");
  sweep.get_or_add("dir") = run.sweep_dir.empty() ? Node::null() : str(run.sweep_dir);
  sweep.get_or_add("subdir") = run.sweep_dir.empty() ? Node::null() : str(std::to_string(run.job_num));
  h.get_or_add("mode") = str(run.mode);
  Node& ov = h.get_or_add("overrides");
  ov.get_or_add("hydra") = str_list(run.hydra_overrides);
  ov.get_or_add("task") = str_list(overrides);
  Node& job = h.get_or_add("job");
  job.get_or_add("name") = str(command);
  job.get_or_add("override_dirname") = str(override_dirname(overrides));
  job.get_or_add("id") = str(run.mode == "MULTIRUN" ? std::to_string(run.job_num) : "???");
  job.get_or_add("num") = Node::plain(std::to_string(run.job_num));
  job.get_or_add("config_name") = str(run.config_name);
  Node& rt = h.get_or_add("runtime");
  rt.get_or_add("version") = str(VYOLO_VERSION);
  rt.get_or_add("cwd") = str(std::filesystem::current_path().string());
  // The search path in priority order; the built-in tree (the last entry) is the application's own ("main").
  rt.get_or_add("config_sources") = Node::empty_seq();
  const std::vector<std::string> dirs = run.search_path.empty() ? std::vector<std::string>{run.config_dir} : run.search_path;
  for (size_t i = 0; i < dirs.size(); ++i) {
    Node source = Node::empty_map();
    source.get_or_add("path") = str(dirs[i]);
    source.get_or_add("schema") = str("file");
    source.get_or_add("provider") = str(i + 1 == dirs.size() ? "main" : "search-path");
    rt.get_or_add("config_sources").seq.push_back(source);
  }
  rt.get_or_add("output_dir") = run_dir.empty() ? Node::null() : str(run_dir.string());
  Node& choices = rt.get_or_add("choices");
  choices = Node::empty_map();
  for (auto& [g, o] : run.choices) choices.get_or_add(g) = str(o);
  h.get_or_add("time") = str(format_time("%Y-%m-%dT%H:%M:%S"));
  Node root = Node::empty_map();
  root.get_or_add("hydra") = h;
  return to_yaml_string(root);
}

void write_hydra_files(const std::filesystem::path& run_dir, const YAML::Node& resolved, const std::string& command,
                       const std::vector<std::string>& overrides, const ComposeInfo& run) {
  auto dir = run_dir / ".hydra";
  write_file_atomic(dir / "config.yaml", to_yaml_string(from_yaml(resolved)));
  write_file_atomic(dir / "overrides.yaml", to_yaml_string(str_list(overrides)));
  write_file_atomic(dir / "hydra.yaml", hydra_yaml(std::filesystem::absolute(run_dir), command, overrides, run));
}

void write_hydra_files(const std::filesystem::path& run_dir, const CommandContext& ctx) {
  write_hydra_files(run_dir, ctx.cfg.tree, ctx.command, ctx.overrides, ctx.cfg.run);
}

}  // namespace vyolo
