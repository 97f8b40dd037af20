// `vyolo cv [overrides]`: every fold (split/fold_K.yaml of the search path, or `folds=[...]`), each a full training run composed
// with `split=fold_K`, then cv_summary.csv and cv_summary.md in <log_dir>/<experiment_name>/.
// Vertebra-level findings: when the CT studies are known (`studies=DIR`, else the folder `vyolo prepare` recorded in
// <data_dir>/stats.json), each fold's best model is run on its validation patients' volumes (`vyolo evaluate` on
// those studies, into fold_K/vertebra_eval/), and cv_findings.json / cv_findings.md give slice-, vertebra- and
// patient-level metrics per fold and as mean ± sd. `studies=none` skips this.
#include <algorithm>
#include <cmath>
#include <optional>
#include <iostream>
#include <regex>

#include "cli/command.h"
#include "common/console.h"
#include "cli/setup.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "config/job.h"
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
      const auto j = nlohmann::json::parse(read_file(stats));
      if (j.contains("source") && j["source"].is_string() && fs::is_directory(j["source"].get<std::string>(), ec))
        return fs::path(j["source"].get<std::string>());
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
  for (size_t i = 0; i < folds.size(); ++i) {
    std::cout << "vyolo cv: " << folds[i] << " (" << i + 1 << "/" << folds.size() << ")\n";
    train::TrainOptions opt;
    opt.overrides = ctx.overrides;
    opt.overrides.push_back("split=" + folds[i]);
    opt.command = ctx.command;
    opt.job_type = "cv";
    opt.command_line = "vyolo cv";
    for (const auto& o : opt.overrides) opt.command_line += " " + o;
    opt.args = ctx.argv;
    auto r = train::train(cfgs[i], opt);
    if (r.interrupted) {
      console::info("interrupted in " + folds[i] + "; no summary written");
      return 130;
    }
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
  return 0;
}

}  // namespace vyolo::cli
