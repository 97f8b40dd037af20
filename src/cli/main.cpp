// vyolo: one executable, Hydra-style flags and overrides for every sub-command (DESIGN.md §1).
// Every job's config is composed, checked and resolved before any command runs, so a bad key writes nothing.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include <unistd.h>

#include "common/allocator.h"
#include "common/console.h"
#include "cli/command.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "config/compose.h"
#include "config/hydra_files.h"
#include "config/interpolate.h"
#include "config/job.h"
#include "config/node.h"
#include "config/override.h"

using namespace vyolo;
namespace fs = std::filesystem;

namespace {

struct Flags {
  std::vector<std::string> config_dirs;  // -cd, in the order given
  std::string config_name = "config", cfg, package;
  bool resolve = false, multirun = false, help = false;
  std::vector<std::string> overrides;
};

const char* kFlagHelp =
    "Flags:\n"
    "  -cd, --config-dir DIR    add DIR to the config search path, before ./conf and the built-in tree\n"
    "                           (repeatable; the last one given is searched first)\n"
    "  -cn, --config-name NAME  the primary config in it (default: config)\n"
    "  --cfg job|hydra|all      print the composed config and exit (add --resolve to resolve ${...},\n"
    "                           -p/--package KEY to print one section)\n"
    "  -m, --multirun           run every combination of the sweeps (key=a,b,c), one after another\n"
    "  -h, --help               this help; `vyolo <command> --help` lists config groups and options\n"
    "Overrides: key=value (key must exist), +key=value (add), ++key=value (add or set), ~key (delete),\n"
    "  group=option (pick a config group option), key=[a,b], key={k: v}, key=\"a string\", key=null\n";

void print_usage(std::ostream& os) {
  os << "usage: vyolo <command> [flags] [overrides]\n\nCommands:\n";
  for (auto& spec : cli::commands()) {
    std::string name = spec.name;
    os << "  " << name << std::string(name.size() < 10 ? 10 - name.size() : 1, ' ') << spec.summary << "\n";
  }
  os << "\n" << kFlagHelp;
}

Flags parse_flags(const std::vector<std::string>& args) {
  Flags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& flag) -> std::string {
      auto eq = a.find('=');
      if (a.rfind("--", 0) == 0 && eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= args.size()) throw UsageError("flag " + flag + " needs a value");
      return args[++i];
    };
    auto is = [&](const char* s1, const char* s2) {
      return a == s1 || a == s2 || a.rfind(std::string(s2) + "=", 0) == 0;
    };
    if (is("-cd", "--config-dir") || is("-cp", "--config-path")) {
      f.config_dirs.push_back(value(a));
    } else if (is("-cn", "--config-name")) {
      f.config_name = value(a);
    } else if (is("-c", "--cfg")) {
      f.cfg = value(a);
      if (f.cfg != "job" && f.cfg != "hydra" && f.cfg != "all")
        throw UsageError("--cfg takes job, hydra or all (got '" + f.cfg + "')");
    } else if (is("-p", "--package")) {
      f.package = value(a);
    } else if (a == "--resolve") {
      f.resolve = true;
    } else if (a == "-m" || a == "--multirun") {
      f.multirun = true;
    } else if (a == "-h" || a == "--help") {
      f.help = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("unknown flag '" + a + "'\n" + kFlagHelp);
    } else {
      f.overrides.push_back(a);
    }
  }
  return f;
}

std::string format_now(const std::string& fmt) {
  std::time_t t = run_start_time();
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[256];
  return std::string(buf, std::strftime(buf, sizeof buf, fmt.c_str(), &tm));
}

void print_command_help(const cli::CommandSpec& spec, const SearchPath& dir, const Flags& f) {
  std::cout << "vyolo " << spec.name << ": " << spec.summary << "\n\nusage: vyolo " << spec.name
            << " [flags] [overrides]\n\n== Config search path (first match wins) ==\n";
  for (const auto& d : dir.dirs) std::cout << "  " << d.string() << "\n";
  std::cout << "\n== Configuration groups ==\n"
            << "Compose your configuration from these groups (group=option):\n\n";
  for (auto& [g, opts] : list_groups(dir)) {
    std::string line;
    for (auto& o : opts) line += (line.empty() ? "" : ", ") + o;
    std::cout << "  " << g << ": " << line << "\n";
  }
  if (!spec.keys.help.empty()) std::cout << "\n== Command keys ==\n" << spec.keys.help;
  std::cout << "\n" << kFlagHelp << "\n== Config ==\nOverride anything in the config (foo.bar=value)\n\n";
  ComposeOptions opts{dir, f.config_name, spec.keys.defaults_yaml};
  auto composed = compose(opts, f.multirun ? expand_sweeps(f.overrides).front() : f.overrides);
  std::cout << to_yaml_string(composed.tree);
}

// What `--cfg job` prints: the job config less the command keys that are still unset (null), which a Hydra app
// would not have, so the output compares key for key with Hydra's for the same conf tree and overrides.
Node printed_job_config(const Node& resolved, const cli::CommandSpec& spec) {
  Node out = resolved;
  Node keys = load_yaml_string(spec.keys.defaults_yaml, "command defaults");
  if (!keys.is_map() || !out.is_map()) return out;
  for (auto& [k, v] : keys.map) {
    const Node* now = out.find(k);
    if (v.is_null() && now && now->is_null()) out.erase(k);
  }
  return out;
}

int run_command(const cli::CommandSpec& spec, const std::vector<std::string>& args) {
  console::set_command(spec.name);
  Flags f = parse_flags(args);
  const SearchPath dir = make_search_path(f.config_dirs);
  if (f.help) {
    print_command_help(spec, dir, f);
    return 0;
  }

  std::string sweep_dir = format_now("multirun/%Y-%m-%d/%H-%M-%S");
  for (auto& o : f.overrides)
    if (o.rfind("hydra.sweep.dir=", 0) == 0) sweep_dir = parse_override(o).value().text;

  // Compose, check and resolve every job before any of them runs.
  auto job_overrides = f.multirun ? expand_sweeps(f.overrides) : std::vector<std::vector<std::string>>{f.overrides};
  std::vector<CommandContext> jobs;
  std::vector<Node> trees;  // what --cfg prints
  for (size_t i = 0; i < job_overrides.size(); ++i) {
    JobRequest r;
    r.config_dir = dir;
    r.config_name = f.config_name;
    r.command = spec.name;
    r.command_keys_yaml = spec.keys.defaults_yaml;
    r.overrides = job_overrides[i];
    r.mode = f.multirun ? "MULTIRUN" : "RUN";
    r.job_num = static_cast<int>(i);
    if (f.multirun) r.sweep_dir = sweep_dir;
    r.resolve = f.cfg.empty() || f.resolve;
    r.typed = f.cfg.empty();
    Job j = make_job(r);
    CommandContext ctx;
    ctx.command = spec.name;
    ctx.overrides = r.overrides;
    ctx.argv = args;
    ctx.argv.insert(ctx.argv.begin(), spec.name);
    ctx.config_dir = dir;
    ctx.cfg = std::move(j.cfg);
    jobs.push_back(std::move(ctx));
    trees.push_back(std::move(j.resolved));
  }
  if (f.cfg.empty())
    for (auto& k : jobs.front().cfg.ignored_keys)
      console::warn("config key " + k);
  for (auto& h : jobs.front().cfg.run.hydra_overrides)
    if (h.rfind("hydra.sweep.dir=", 0) != 0)
      console::note("'" + h + "' has no effect here (recorded in .hydra/hydra.yaml)");

  if (!f.cfg.empty()) {
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (jobs.size() > 1) std::cout << "# job " << i << ": " << override_dirname(jobs[i].overrides) << "\n";
      if (f.cfg != "job") std::cout << hydra_yaml({}, spec.name, jobs[i].overrides, jobs[i].cfg.run);
      if (f.cfg == "hydra") continue;
      Node printed = printed_job_config(trees[i], spec);
      if (f.package.empty() || f.package == "_global_") {
        std::cout << to_yaml_string(printed);
        continue;
      }
      const Node* section = find_path(printed, f.package);
      if (!section) throw UsageError("--package: no '" + f.package + "' in the config");
      std::cout << "# @package " << f.package << "\n" << to_yaml_string(*section);
    }
    return 0;
  }

  if (!f.multirun) return spec.run(jobs.front());

  std::cerr << "[vyolo] Launching " << jobs.size() << " job" << (jobs.size() == 1 ? "" : "s") << " locally in "
            << sweep_dir << "\n";
  write_file_atomic(fs::path(sweep_dir) / "multirun.yaml",
                    hydra_yaml({}, spec.name, f.overrides, jobs.front().cfg.run) + to_yaml_string(trees.front()));
  for (auto& ctx : jobs) {
    fs::path job_dir = fs::path(sweep_dir) / std::to_string(ctx.cfg.run.job_num);
    write_hydra_files(job_dir, ctx);
    std::string line;
    for (auto& o : ctx.overrides) line += (line.empty() ? "" : " ") + o;
    std::cerr << "[vyolo] \t#" << ctx.cfg.run.job_num << " : " << line << "\n";
    int rc = spec.run(ctx);
    if (rc != 0) {
      std::cerr << "[vyolo] job #" << ctx.cfg.run.job_num << " failed (exit " << rc << "); stopping the sweep\n";
      return rc;
    }
  }
  return 0;
}

}  // namespace

// OpenMP waiting: libgomp's default spins 300k iterations before an idle thread sleeps, so two trainings on the
// 2-core machine (or one beside any busy process) take the cores from each other: measured (Zen 5, 2 cores, 256 px
// phantom, 2 epochs each) two at once took 106-119 s with the default and 38 s with a 1000-iteration spin, while one
// alone took 17-19 s either way (passive waiting: 24 s). libgomp reads its environment when it loads, before main,
// so the program sets GOMP_SPINCOUNT and starts itself again; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
void choose_omp_wait(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  // Help, version and config printing run no OpenMP work: not worth a second start (~0.7 s of loading LibTorch).
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help" || a == "--version" || a == "-c" || a.rfind("--cfg", 0) == 0) return;
  }
  if (setenv("GOMP_SPINCOUNT", "1000", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: carry on with libgomp's default
}

int main(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write fails with EFBIG and vyolo reports which file, instead of SIGXFSZ
  // ending the process without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  choose_omp_wait(argc, argv);
  vyolo::tune_allocator();  // before any tensor is allocated
  run_start_time();  // one timestamp for ${now:...}, multirun folders and hydra.yaml
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_usage(std::cerr);
    return 2;
  }
  if (args[0] == "-h" || args[0] == "--help") {
    print_usage(std::cout);
    return 0;
  }
  if (args[0] == "--version") {
    std::cout << "vyolo " << VYOLO_VERSION << "\n";
    return 0;
  }
  const std::string& name = args[0];
  for (auto& spec : cli::commands()) {
    if (name != spec.name) continue;
    try {
      return run_command(spec, std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const UsageError& e) {
      std::cerr << "vyolo " << name << ": " << e.what() << "\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "vyolo " << name << ": error: " << e.what() << "\n";
      return 1;
    }
  }
  std::vector<std::string> names;
  for (auto& spec : cli::commands()) names.push_back(spec.name);
  auto near = closest(name, names, 1);
  std::cerr << "vyolo: unknown command '" << name << "'" << (near.empty() ? "" : "; did you mean " + near[0] + "?")
            << "\n\n";
  print_usage(std::cerr);
  return 2;
}
