// `vyolo cv [overrides]`: every fold (split/fold_K.yaml of the search path, or `folds=[...]`), each a full training run composed
// with `split=fold_K`, then cv_summary.csv and cv_summary.md in <log_dir>/<experiment_name>/.
// Vertebra-level findings: when the CT studies are known (`studies=DIR`, else the folder `vyolo prepare` recorded in
// <data_dir>/stats.json), each fold's best model is run on its validation patients' volumes (`vyolo evaluate` on
// those studies, into fold_K/vertebra_eval/), and cv_findings.json / cv_findings.md give slice-, vertebra- and
// patient-level metrics per fold and as mean ± sd. `studies=none` skips this.
// `cv.parallel=K` trains K folds at once, each a `vyolo train` process of its own (threads divided between them),
// their output prefixed with the fold; the evaluation and the summary follow as above.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "cli/command.h"
#include "common/console.h"
#include "cli/setup.h"
#include "common/child_process.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "config/override.h"
#include "dist/env.h"
#include "config/job.h"
#include "data/prepare.h"
#include "findings/report.h"
#include "infer/evaluate_studies.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace vyolo::cli {
namespace {

std::vector<std::string> fold_names(const CommandContext& ctx, const CvArgs& a) {
  std::vector<std::string> out = a.folds;
  if (!out.empty()) {
    for (auto& s : out)
      if (std::all_of(s.begin(), s.end(), ::isdigit)) s = "fold_" + s;  // folds=[0,1] means fold_0, fold_1
    return out;
  }
  // The folds of one split: those of the first search-path directory that has any (a user's two folds in
  // ./conf/split do not mix with the built-in tree's five).
  std::vector<std::pair<int, std::string>> found;
  const std::regex re("fold_(\\d+)");
  for (const auto& dir : ctx.config_dir.dirs) {
    for (const auto& n : SearchPath(dir).options("split")) {
      std::smatch m;
      if (std::regex_match(n, m, re)) found.push_back({std::stoi(m[1]), n});
    }
    if (!found.empty()) break;
  }
  if (found.empty()) throw UsageError("vyolo cv: no split/fold_K.yaml in " + ctx.config_dir.describe());
  std::sort(found.begin(), found.end());
  for (auto& [k, n] : found) out.push_back(n);
  return out;
}

// The folder of CT studies for vertebra-level evaluation, or nullopt (with the reason on stderr).
std::optional<fs::path> studies_dir(const CvArgs& a, const Config& c) {
  const auto& given = a.studies;
  if (given == "none" || given == "false") return std::nullopt;
  std::error_code ec;
  if (!given.empty()) {
    if (!fs::is_directory(given, ec)) throw UsageError("studies=" + given + ": not a folder");
    return fs::path(given);
  }
  const fs::path stats = fs::path(c.data.data_dir) / "stats.json";
  if (c.data.data_yaml.empty() && fs::exists(stats, ec)) {
    try {
      const std::string source = parse_stats_recipe(read_file(stats), stats.string()).source;
      if (!source.empty() && fs::is_directory(source, ec)) return fs::path(source);
    } catch (const std::exception&) {
    }
  }
  console::info("no vertebra-level evaluation: the CT studies are unknown (give studies=DIR)");
  return std::nullopt;
}

// Runs fold `r`'s best model on its validation patients' volumes; nullopt (with a warning) when that fails.
std::optional<findings::EvaluationResult> evaluate_fold(const CvArgs& a, const Config& c,
                                                        const train::TrainResult& r, const fs::path& studies) {
  try {
    std::error_code ec;
    const fs::path w = fs::exists(r.best, ec) ? r.best : r.last;
    auto models = load_volume_models({w.string()}, c, infer::ModelRequest{}, nms_options(a.conf, a.iou, a.max_det),
                                     setup_device(c.training.device, c.training.threads));
    infer::EvaluateOptions opt;
    const auto& md = models.front().spec.metadata;
    auto it = md.find("vertebra_labels");
    opt.label_scheme = !a.vertebra_labels.empty()                       ? a.vertebra_labels
                       : it != md.end() && !it->second.empty() ? it->second
                                                               : "verse";
    opt.eval.threshold = a.threshold;
    opt.predict.threshold = opt.eval.threshold;
    opt.only = c.split.val_patients;
    const fs::path out = r.run_dir / "vertebra_eval";
    std::cout << "vyolo cv: vertebra-level evaluation of " << w.filename().string() << " on "
              << opt.only.size() << " validation studies in " << studies.string() << "\n";
    auto sum = infer::evaluate_studies(models, studies, out, opt, &std::cout);
    std::cout << "vyolo cv: " << sum.evaluated << " of " << sum.studies << " studies evaluated; " << out.string()
              << "\n";
    return sum.result;
  } catch (const std::exception& e) {
    console::warn("no vertebra-level evaluation for " + r.run_dir.filename().string() + ": " + e.what());
    return std::nullopt;
  }
}

struct FoldRun {
  std::string fold;
  std::optional<train::TrainResult> result;  // empty: the fold failed
};

train::TrainOptions fold_options(const CommandContext& ctx, const std::string& fold) {
  train::TrainOptions opt;
  opt.overrides = ctx.overrides;
  opt.overrides.push_back("split=" + fold);
  opt.command = ctx.command;
  opt.job_type = "cv";
  opt.command_line = "vyolo cv";
  for (const auto& o : opt.overrides) opt.command_line += " " + o;
  opt.args = ctx.argv;
  return opt;
}

volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }

// The overrides a fold's `vyolo train` takes: cv's own keys (folds, studies, ...) stay with cv.
std::vector<std::string> train_overrides(const CommandContext& ctx, const std::string& fold, int threads) {
  std::vector<std::string> cv_keys;
  std::stringstream keys(command_keys<CvArgs>().defaults_yaml);
  for (std::string line; std::getline(keys, line);)
    if (auto c = line.find(':'); c != std::string::npos && !line.empty() && line[0] != ' ') cv_keys.push_back(line.substr(0, c));
  std::vector<std::string> out;
  for (const auto& o : ctx.overrides) {
    const std::string key = parse_override(o).key;
    if (key == "split" || std::find(cv_keys.begin(), cv_keys.end(), key) != cv_keys.end()) continue;
    out.push_back(o);
  }
  out.push_back("split=" + fold);
  if (!ctx.cfg.given("training.threads")) out.push_back("training.threads=" + std::to_string(threads));
  return out;
}

// K folds at a time, each `vyolo train` in a child process; Ctrl-C reaches every fold (each saves `last`).
std::vector<FoldRun> train_parallel(const CommandContext& ctx, const std::vector<std::string>& folds, int k,
                                    bool& interrupted) {
  const int cores = ctx.cfg.training.threads > 0 ? ctx.cfg.training.threads
                                                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = std::max(1, cores / k);
  std::cout << "vyolo cv: " << folds.size() << " folds, " << k << " at a time (" << threads << " thread"
            << (threads == 1 ? "" : "s") << " each)\n";
  std::mutex out_m;
  struct Running {
    size_t index;
    fs::path result_file;
    std::unique_ptr<ChildProcess> child;
  };
  std::vector<Running> running;
  std::vector<FoldRun> runs;
  for (const auto& f : folds) runs.push_back({f, std::nullopt});
  g_signal = 0;
  auto old_int = std::signal(SIGINT, on_signal);
  auto old_term = std::signal(SIGTERM, on_signal);
  size_t next = 0;
  while (next < folds.size() || !running.empty()) {
    if (g_signal) {
      interrupted = true;
      for (auto& r : running) r.child->signal(g_signal);
      g_signal = 0;
    }
    while (!interrupted && running.size() < static_cast<size_t>(k) && next < folds.size()) {
      const size_t i = next++;
      const fs::path result = fs::temp_directory_path() /
                              ("vyolo-cv-" + std::to_string(::getpid()) + "-" + folds[i] + ".json");
      std::error_code ec;
      fs::remove(result, ec);
      const std::string prefix = "[" + folds[i] + "] ";
      auto sink = [&out_m, prefix](const std::string& line) {
        std::lock_guard<std::mutex> lk(out_m);
        std::cout << prefix << line << "\n" << std::flush;
      };
      auto argv = child_args(ctx, "train", train_overrides(ctx, folds[i], threads));
      argv.insert(argv.begin(), "/proc/self/exe");
      {
        std::lock_guard<std::mutex> lk(out_m);
        std::cout << "vyolo cv: " << folds[i] << " (" << i + 1 << "/" << folds.size() << ") started\n";
      }
      running.push_back({i, result, std::make_unique<ChildProcess>(argv, sink,
                                                                   std::vector<std::string>{"VYOLO_CV_RESULT=" +
                                                                                            result.string()})});
    }
    for (auto it = running.begin(); it != running.end();) {
      if (it->child->running()) {
        ++it;
        continue;
      }
      const ChildStatus st = it->child->wait_for(0);
      const std::string& f = folds[it->index];
      std::error_code ec;
      if (st.ok() && fs::exists(it->result_file, ec)) {
        runs[it->index].result = train::read_result(it->result_file);
      } else if (st.exited && st.code == 130) {
        interrupted = true;
      } else {
        std::lock_guard<std::mutex> lk(out_m);
        console::warn(f + " failed (" + st.describe() + "); the other folds go on, the summary leaves it out");
      }
      fs::remove(it->result_file, ec);
      it = running.erase(it);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  return runs;
}

}  // namespace

int cmd_cv(const CommandContext& ctx) {
  const auto a = read_args<CvArgs>(ctx.cfg);
  const auto folds = fold_names(ctx, a);
  // Compose every fold first, so a bad fold file fails before any training.
  std::vector<Config> cfgs;
  for (const auto& f : folds) cfgs.push_back(recompose(ctx, {"split=" + f}));
  const std::vector<std::pair<std::string, std::string>> cols{{"val/map_50", "mAP50"},
                                                              {"val/map_50_95", "mAP50-95"},
                                                              {"val/precision", "precision"},
                                                              {"val/recall", "recall"},
                                                              {"val/f1", "F1"}};
  std::vector<std::vector<double>> vals;
  std::vector<std::string> done, evaluated;
  std::vector<findings::EvaluationResult> fold_findings;
  const auto studies = studies_dir(a, cfgs.front());
  const int parallel = std::max(1, std::min<int>(ctx.cfg.cv.parallel, static_cast<int>(folds.size())));
  const auto env = dist::env_from_environment();
  std::vector<FoldRun> runs;
  bool interrupted = false;
  // Folds as child processes when several run at once, or when each fold starts its own ranks (training.nproc).
  if (parallel > 1 || (!env.active() && ctx.cfg.training.nproc > 1)) {
    runs = train_parallel(ctx, folds, parallel, interrupted);
  } else {
    for (size_t i = 0; i < folds.size() && !interrupted; ++i) {
      std::cout << "vyolo cv: " << folds[i] << " (" << i + 1 << "/" << folds.size() << ")\n";
      auto r = train::train(cfgs[i], fold_options(ctx, folds[i]));
      interrupted = r.interrupted;
      runs.push_back({folds[i], r});
    }
  }
  if (interrupted) {
    console::info("interrupted; no summary written (each fold's `last` resumes with training.resume=true)");
    return 130;
  }
  if (env.rank > 0) return 0;  // a rank of a launcher's group (torchrun): rank 0 evaluates and summarises
  int failed = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].result) {
      ++failed;
      continue;
    }
    const auto& r = *runs[i].result;
    std::vector<double> v;
    for (auto& [k, label] : cols) v.push_back(r.final_metrics.count(k) ? r.final_metrics.at(k) : std::nan(""));
    vals.push_back(v);
    done.push_back(folds[i]);
    if (studies) {
      if (auto fr = evaluate_fold(a, cfgs[i], r, *studies)) {
        fold_findings.push_back(std::move(*fr));
        evaluated.push_back(folds[i]);
      }
    }
  }
  if (vals.empty()) throw RuntimeError("vyolo cv: every fold failed");
  const auto& c0 = cfgs.front();
  const fs::path dir = fs::path(c0.logging.log_dir) / c0.logging.experiment_name;
  std::vector<double> mean(cols.size(), 0), sd(cols.size(), 0);
  for (size_t c = 0; c < cols.size(); ++c) {
    for (auto& v : vals) mean[c] += v[c];
    mean[c] /= vals.size();
    for (auto& v : vals) sd[c] += (v[c] - mean[c]) * (v[c] - mean[c]);
    sd[c] = vals.size() > 1 ? std::sqrt(sd[c] / (vals.size() - 1)) : 0.0;  // sample std (n - 1)
  }
  auto f4 = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4f", x);
    return std::string(b);
  };
  std::string csv = "fold";
  for (auto& [k, label] : cols) csv += "," + label;
  csv += "\n";
  std::string md = "| fold |";
  for (auto& [k, label] : cols) md += " " + label + " |";
  md += "\n|---|";
  for (size_t c = 0; c < cols.size(); ++c) md += "---|";
  md += "\n";
  for (size_t i = 0; i < vals.size(); ++i) {
    csv += done[i];
    md += "| " + done[i] + " |";
    for (double x : vals[i]) csv += "," + f4(x), md += " " + f4(x) + " |";
    csv += "\n", md += "\n";
  }
  csv += "mean";
  md += "| mean ± std |";
  for (size_t c = 0; c < cols.size(); ++c) csv += "," + f4(mean[c]), md += " " + f4(mean[c]) + " ± " + f4(sd[c]) + " |";
  csv += "\nstd";
  for (size_t c = 0; c < cols.size(); ++c) csv += "," + f4(sd[c]);
  csv += "\n";
  write_file_atomic(dir / "cv_summary.csv", csv);
  write_file_atomic(dir / "cv_summary.md", md);
  std::cout << "\n" << md << "\nvyolo cv: summary in " << (dir / "cv_summary.csv").string() << " and cv_summary.md\n";
  if (!fold_findings.empty()) {
    const auto fmd = findings::fold_summary_markdown(evaluated, fold_findings);
    write_file_atomic(dir / "cv_findings.json", findings::fold_summary_json(evaluated, fold_findings).dump(2) + "\n");
    write_file_atomic(dir / "cv_findings.md", fmd);
    std::cout << "\n" << fmd << "\nvyolo cv: vertebra- and patient-level summary in "
              << (dir / "cv_findings.json").string() << " and cv_findings.md\n";
  }
  if (failed > 0) {
    console::warn(std::to_string(failed) + " of " + std::to_string(runs.size()) + " folds failed (see above); the "
                  "summary has the other " + std::to_string(vals.size()));
    return 1;
  }
  return 0;
}

}  // namespace vyolo::cli
