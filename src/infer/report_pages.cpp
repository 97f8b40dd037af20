#include "infer/report_pages.h"

#include <cmath>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>

namespace vyolo::infer {

namespace fs = std::filesystem;

namespace {

std::string num(double v, int prec = 3) {
  if (!std::isfinite(v)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

std::vector<std::string> level_row(const findings::LevelMetrics& l) {
  const auto& m = l.at_threshold;
  return {l.level,         std::to_string(l.n),   std::to_string(l.positives), num(m.recall), num(m.specificity),
          num(m.precision), num(m.f1),            num(l.auc),                  num(l.ap),
          std::to_string(m.cm.tp) + " / " + std::to_string(m.cm.fp) + " / " + std::to_string(m.cm.tn) + " / " +
              std::to_string(m.cm.fn)};
}

}  // namespace

findings::HtmlStudy html_study(const StudyPage& s, double threshold) {
  findings::HtmlStudy h;
  h.id = s.id;
  h.source = s.source;
  h.patient_probability = s.f.patient_probability;
  h.patient_called = s.f.patient_score >= threshold;
  if (s.truth) h.patient_truth = s.truth->patient_fractured ? 1 : 0;
  std::map<std::string, int> truth;
  if (s.truth)
    for (const auto& v : s.truth->vertebrae) truth[v.name] = v.fractured ? 1 : 0;
  for (const auto& v : s.f.vertebrae) {
    findings::HtmlVertebra row;
    row.name = v.name;
    row.label = v.label;
    row.probability = v.probability;
    row.called = v.score >= threshold;
    auto it = truth.find(v.name);
    row.truth = it == truth.end() ? -1 : it->second;
    h.vertebrae.push_back(row);
    if (row.called)
      if (auto img = s.slices.find(v.name); img != s.slices.end())
        h.slices.push_back({v.name + ", called fractured (probability " + num(v.probability) + ")", img->second});
  }
  if (!s.f.has_mask)
    h.notes.push_back("no vertebra mask: " + std::to_string(s.f.candidates.size()) +
                      " candidate(s) and a patient score only");
  h.notes.insert(h.notes.end(), s.notes.begin(), s.notes.end());
  return h;
}

void add_evaluation(findings::HtmlReport& r, const findings::EvaluationResult& e, const findings::EvalOptions& opt,
                    const fs::path& out_dir) {
  findings::HtmlTable levels;
  levels.title = "Metrics at threshold " + num(opt.threshold, 4);
  levels.header = {"level", "n", "fractured", "sensitivity", "specificity", "precision", "F1", "AUC", "AP",
                   "TP / FP / TN / FN"};
  if (e.has_slice) levels.rows.push_back(level_row(e.slice));
  if (e.has_vertebra) levels.rows.push_back(level_row(e.vertebra));
  levels.rows.push_back(level_row(e.patient));
  levels.note = "a unit is called fractured when its score is >= the threshold; AUC and AP do not depend on it";
  r.tables.push_back(levels);

  const findings::LevelMetrics& main = e.has_vertebra ? e.vertebra : e.patient;
  findings::HtmlTable sweep;
  sweep.title = "Threshold sweep, " + main.level + " level";
  sweep.header = {"threshold", "sensitivity", "specificity", "precision", "F1", "TP / FP / TN / FN"};
  for (const auto& m : main.sweep)
    sweep.rows.push_back({num(m.threshold, 4) + (m.best_f1 ? " (best F1)" : ""), num(m.recall), num(m.specificity),
                          num(m.precision), num(m.f1),
                          std::to_string(m.cm.tp) + " / " + std::to_string(m.cm.fp) + " / " +
                              std::to_string(m.cm.tn) + " / " + std::to_string(m.cm.fn)});
  r.tables.push_back(sweep);

  if (e.has_froc) {
    findings::HtmlTable froc;
    froc.title = "FROC (" + std::to_string(e.lesions) + " lesions in " + std::to_string(e.froc_volumes) + " volumes)";
    froc.header = {"false positives per volume", "sensitivity"};
    for (size_t i = 0; i < e.froc.fp_rates.size(); ++i)
      froc.rows.push_back({num(e.froc.fp_rates[i]), num(e.froc.sensitivities[i])});
    froc.rows.push_back({"mean", num(e.froc.mean_sensitivity)});
    r.tables.push_back(froc);
  }

  findings::HtmlTable cal;
  cal.title = "Calibration (" + e.calibration.method + "), " + main.level + " level";
  cal.header = {"bin", "n", "mean probability", "fraction fractured"};
  for (const auto& b : e.calibration.reliability)
    if (b.n > 0)
      cal.rows.push_back({num(b.lo, 1) + " - " + num(b.hi, 1), std::to_string(b.n), num(b.mean_probability),
                          num(b.fraction_positive)});
  cal.note = "Brier score " + num(e.calibration.brier, 4) + " (the detector's uncalibrated scores: " +
             num(e.calibration.brier_uncalibrated, 4) + ")";
  r.tables.push_back(cal);

  // The plots write_evaluation drew, in reading order.
  std::vector<std::pair<std::string, std::string>> plots;
  for (const char* level : {"vertebra", "patient", "slice"})
    for (const char* kind : {"roc", "pr", "f1", "confusion"})
      plots.push_back({std::string(kind) + "_" + level + ".png", std::string(kind) + ", " + level + " level"});
  plots.push_back({"froc.png", "FROC"});
  plots.push_back({"reliability.png", "reliability"});
  for (const auto& [file, caption] : plots) {
    std::error_code ec;
    const fs::path p = out_dir / "plots" / file;
    if (!fs::exists(p, ec)) continue;
    cv::Mat img = cv::imread(p.string(), cv::IMREAD_COLOR);
    if (!img.empty()) r.plots.push_back({caption, img});
  }
}

}  // namespace vyolo::infer
