// Config composition with overrides (src/config: compose, interpolation, the typed Config): the built-in config tree
// of the source (conf/) with the `train` command's keys and one override per input line, composed, resolved and
// read as `vyolo train` does; then written back as `--cfg job` prints it. Every config problem must be a UsageError.
#include "config/command_args.h"
#include "config/job.h"
#include "config/search_path.h"
#include "fuzz_util.h"

using namespace vyolo;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string keys = command_keys<TrainArgs>().defaults_yaml;
  static const SearchPath conf(builtin_config_dir());
  JobRequest r;
  r.config_dir = conf;
  r.command = "train";
  r.command_keys_yaml = keys;
  for (const auto& line : fuzz::split(fuzz::as_text(data, size), "\n"))
    if (!line.empty()) r.overrides.push_back(line);
  if (r.overrides.size() > 64) return 0;
  fuzz::expect_errors_naming("", [&] {
    Job j = make_job(r);
    (void)to_yaml_string(j.resolved);
  });
  // The unresolved tree as `--cfg job` prints it (interpolations kept).
  r.resolve = false;
  r.typed = false;
  fuzz::expect_errors_naming("", [&] { (void)to_yaml_string(make_job(r).resolved); });
  return 0;
}
