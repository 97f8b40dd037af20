#include "config/job.h"

#include "config/command_context.h"
#include "config/hydra_files.h"
#include "config/interpolate.h"

namespace vyolo {

Job make_job(const JobRequest& r) {
  Job j;
  j.composed = compose({r.config_dir, r.config_name, r.command_keys_yaml}, r.overrides);
  ComposeInfo run;
  run.config_dir = r.config_dir.primary().string();
  for (const auto& d : r.config_dir.dirs) run.search_path.push_back(d.string());
  run.config_name = r.config_name;
  run.command_keys_yaml = r.command_keys_yaml;
  run.mode = r.mode;
  run.job_num = r.job_num;
  run.sweep_dir = r.sweep_dir;
  run.choices = j.composed.choices;
  run.hydra_overrides = j.composed.hydra_overrides;
  j.resolved = j.composed.tree;
  if (r.resolve) resolve_interpolations(j.resolved, hydra_values(r.command, r.overrides, run));
  if (r.typed) j.cfg = load_config(to_yaml(j.resolved), r.config_dir);
  j.cfg.run = run;
  j.cfg.user_keys = j.composed.user_keys;
  return j;
}

Config recompose(const CommandContext& ctx, const std::vector<std::string>& extra_overrides) {
  JobRequest r;
  r.config_dir = ctx.config_dir;
  r.config_name = ctx.cfg.run.config_name;
  r.command = ctx.command;
  r.command_keys_yaml = ctx.cfg.run.command_keys_yaml;
  r.overrides = ctx.overrides;
  r.overrides.insert(r.overrides.end(), extra_overrides.begin(), extra_overrides.end());
  r.mode = ctx.cfg.run.mode;
  r.job_num = ctx.cfg.run.job_num;
  r.sweep_dir = ctx.cfg.run.sweep_dir;
  return make_job(r).cfg;
}

}  // namespace vyolo
