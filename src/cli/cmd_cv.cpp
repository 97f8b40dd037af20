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

#include <opencv2/imgcodecs.hpp>

#include "cli/command.h"
#include "cli/fold_eval.h"
#include "cli/setup.h"
#include "common/console.h"
#include "common/child_process.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "config/override.h"
#include "dist/env.h"
#include "config/job.h"
#include "findings/html_report.h"
#include "findings/report.h"
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

std::string f3(double x) {
  if (!std::isfinite(x)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", x);
  return b;
}

// cv_report.html: the detection metrics per fold, each fold's operating point and vertebra-level results at it, and
// the folds' vertebra ROC and reliability plots; each fold's own report (per study) is <fold>/vertebra_eval/report.html.
void write_cv_report(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& cols,
                     const std::vector<std::string>& done, const std::vector<std::vector<double>>& vals,
                     const std::vector<double>& mean, const std::vector<double>& sd,
                     const std::vector<std::string>& evaluated,
                     const std::vector<findings::EvaluationResult>& results,
                     const std::vector<std::optional<findings::OperatingPoint>>& points) {
  findings::HtmlReport page;
  page.title = "vyolo cv: " + std::to_string(done.size()) + " folds";
  page.facts = {{"folder", path.parent_path().string()},
                {"per-study reports", evaluated.empty() ? "none (no CT studies)" : "<fold>/vertebra_eval/report.html"}};
  findings::HtmlTable det;
  det.title = "Detection (validation images, last epoch)";
  det.header = {"fold"};
  for (const auto& c : cols) det.header.push_back(c.second);
  for (size_t i = 0; i < done.size(); ++i) {
    std::vector<std::string> row{done[i]};
    for (double x : vals[i]) row.push_back(f3(x));
    det.rows.push_back(row);
  }
  std::vector<std::string> m{"mean ± sd"};
  for (size_t c = 0; c < mean.size(); ++c) m.push_back(f3(mean[c]) + " ± " + f3(sd[c]));
  det.rows.push_back(m);
  page.tables.push_back(det);
  if (!evaluated.empty()) {
    findings::HtmlTable op;
    op.title = "Vertebra level at each fold's operating point (chosen on that fold's validation studies)";
    op.header = {"fold", "rule", "threshold", "sensitivity", "specificity", "F1", "AUC", "Brier", "calibration"};
    for (size_t i = 0; i < evaluated.size(); ++i) {
      const auto& r = results[i];
      const auto& l = r.has_vertebra ? r.vertebra : r.patient;
      const auto& p = points[i];
      const bool def = p && p->defined;
      op.rows.push_back({evaluated[i], def ? p->rule : "-", def ? findings::format_threshold(p->threshold) : "-",
                         f3(l.at_threshold.recall), f3(l.at_threshold.specificity), f3(l.at_threshold.f1), f3(l.auc),
                         f3(r.calibration.brier), r.calibration.method});
    }
    op.note = "figures on the studies the threshold was chosen on (optimistic); evaluate unseen studies with "
              "`vyolo evaluate`, which uses the checkpoint's operating point";
    page.tables.push_back(op);
    for (const auto& fold : evaluated)
      for (const char* plot : {"roc_vertebra.png", "reliability.png"}) {
        std::error_code ec;
        const fs::path p = path.parent_path() / fold / "vertebra_eval" / "plots" / plot;
        if (!fs::exists(p, ec)) continue;
        cv::Mat img = cv::imread(p.string(), cv::IMREAD_COLOR);
        if (!img.empty()) page.plots.push_back({fold + ": " + plot, img});
      }
  }
  findings::write_html(path, page);
}

FoldEvalArgs fold_eval_args(const CvArgs& a) {
  FoldEvalArgs f;
  f.studies = a.studies;
  f.threshold = a.threshold;
  f.operating_point = a.operating_point;
  f.calibration = a.calibration;
  f.vertebra_labels = a.vertebra_labels;
  f.conf = a.conf;
  f.iou = a.iou;
  f.max_det = a.max_det;
  return f;
}

}  // namespace

int cmd_cv(const CommandContext& ctx) {
  const auto a = read_args<CvArgs>(ctx.cfg);
  const FoldEvalArgs ea = fold_eval_args(a);
  check_fold_eval_args(ea);
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
  std::vector<std::optional<findings::OperatingPoint>> fold_points;
  const auto studies = studies_dir(a.studies, cfgs.front());
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
      if (auto fr = evaluate_fold(ea, cfgs[i], r, *studies)) {
        fold_findings.push_back(std::move(fr->result));
        fold_points.push_back(fr->point);
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
    auto fmd = findings::fold_summary_markdown(evaluated, fold_findings);
    auto fj = findings::fold_summary_json(evaluated, fold_findings);
    // Each fold's operating point, chosen on its validation studies (the metrics above are at that point).
    nlohmann::json pts = nlohmann::json::array();
    fmd += "\n### Operating points (chosen on each fold's validation studies)\n\n"
           "| fold | rule | threshold | sensitivity | specificity | calibration |\n|---|---|---:|---:|---:|---|\n";
    for (size_t i = 0; i < evaluated.size(); ++i) {
      const auto& p = fold_points[i];
      if (!p || !p->defined) {
        pts.push_back({{"fold", evaluated[i]}, {"operating_point", nullptr}});
        fmd += "| " + evaluated[i] + " | - | - | - | - | - |\n";
        continue;
      }
      nlohmann::json j = findings::operating_point_json(*p);
      j["fold"] = evaluated[i];
      pts.push_back(j);
      char row[200];
      std::snprintf(row, sizeof row, "| %s | %s | %s | %.3f | %.3f | %s |\n", evaluated[i].c_str(), p->rule.c_str(),
                    findings::format_threshold(p->threshold).c_str(), p->validation.recall,
                    p->validation.specificity, p->calibration.c_str());
      fmd += row;
    }
    fj["operating_points"] = pts;
    write_file_atomic(dir / "cv_findings.json", fj.dump(2) + "\n");
    write_file_atomic(dir / "cv_findings.md", fmd);
    std::cout << "\n" << fmd << "\nvyolo cv: vertebra- and patient-level summary in "
              << (dir / "cv_findings.json").string() << " and cv_findings.md\n";
  }
  write_cv_report(dir / "cv_report.html", cols, done, vals, mean, sd, evaluated, fold_findings, fold_points);
  std::cout << "vyolo cv: report in " << (dir / "cv_report.html").string() << "\n";
  if (failed > 0) {
    console::warn(std::to_string(failed) + " of " + std::to_string(runs.size()) + " folds failed (see above); the "
                  "summary has the other " + std::to_string(vals.size()));
    return 1;
  }
  return 0;
}

}  // namespace vyolo::cli
