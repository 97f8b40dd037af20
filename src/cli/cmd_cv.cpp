// `vyolo cv [overrides]`: every fold (conf/split/fold_K.yaml, or `folds=[...]`), each a full training run composed
// with `split=fold_K`, then cv_summary.csv and cv_summary.md in <log_dir>/<experiment_name>/.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <regex>
#include <sstream>

#include "cli/command.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "config/job.h"
#include "train/trainer.h"

namespace vyolo::cli {
namespace {

std::vector<std::string> fold_names(const CommandContext& ctx) {
  std::vector<std::string> out;
  auto f = ctx.cfg.tree["folds"];
  if (f && !f.IsNull()) {
    if (f.IsSequence()) {
      for (const auto& e : f) out.push_back(e.as<std::string>());
    } else if (f.IsScalar()) {
      std::stringstream ss(f.as<std::string>());
      for (std::string s; std::getline(ss, s, ',');)
        if (!s.empty()) out.push_back(s);
    }
    for (auto& s : out)
      if (std::all_of(s.begin(), s.end(), ::isdigit)) s = "fold_" + s;  // folds=[0,1] means fold_0, fold_1
    if (out.empty()) throw UsageError("folds: empty list");
    return out;
  }
  std::vector<std::pair<int, std::string>> found;
  const std::regex re("fold_(\\d+)\\.yaml");
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(ctx.config_dir / "split", ec)) {
    std::smatch m;
    const std::string n = e.path().filename().string();
    if (std::regex_match(n, m, re)) found.push_back({std::stoi(m[1]), "fold_" + m[1].str()});
  }
  if (found.empty()) throw UsageError("vyolo cv: no fold_K.yaml in " + (ctx.config_dir / "split").string());
  std::sort(found.begin(), found.end());
  for (auto& [k, n] : found) out.push_back(n);
  return out;
}

}  // namespace

int cmd_cv(const CommandContext& ctx) {
  const auto folds = fold_names(ctx);
  // Compose every fold first, so a bad fold file fails before any training.
  std::vector<Config> cfgs;
  for (const auto& f : folds) cfgs.push_back(recompose(ctx, {"split=" + f}));
  const std::vector<std::pair<std::string, std::string>> cols{{"val/map_50", "mAP50"},
                                                              {"val/map_50_95", "mAP50-95"},
                                                              {"val/precision", "precision"},
                                                              {"val/recall", "recall"},
                                                              {"val/f1", "F1"}};
  std::vector<std::vector<double>> vals;
  std::vector<std::string> done;
  for (size_t i = 0; i < folds.size(); ++i) {
    std::cout << "vyolo cv: " << folds[i] << " (" << i + 1 << "/" << folds.size() << ")\n";
    train::TrainOptions opt;
    opt.overrides = ctx.overrides;
    opt.overrides.push_back("split=" + folds[i]);
    opt.command = ctx.command;
    opt.job_type = "cv";
    opt.command_line = "vyolo cv";
    for (const auto& o : opt.overrides) opt.command_line += " " + o;
    auto r = train::train(cfgs[i], opt);
    if (r.interrupted) {
      std::cerr << "vyolo cv: interrupted in " << folds[i] << "; no summary written\n";
      return 130;
    }
    std::vector<double> v;
    for (auto& [k, label] : cols) v.push_back(r.final_metrics.count(k) ? r.final_metrics.at(k) : std::nan(""));
    vals.push_back(v);
    done.push_back(folds[i]);
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
  return 0;
}

}  // namespace vyolo::cli
