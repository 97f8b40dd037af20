#include "findings/report.h"

#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <sstream>

#include "common/fs_util.h"
#include "common/json_text.h"
#include "findings/plots.h"

namespace vyolo::findings {

namespace {

using nlohmann::json;

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json nums(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(num(x));
  return a;
}

std::string cell(double v, int prec = 4) {
  if (!std::isfinite(v)) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

// CSV field: quoted when it holds a separator, quote or newline.
std::string field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

json triple(const std::array<double, 3>& a) { return json::array({num(a[0]), num(a[1]), num(a[2])}); }
json triple(const std::array<int, 3>& a) { return json::array({a[0], a[1], a[2]}); }

json metrics_row(const BinaryMetrics& m) {
  return {{"threshold", num(m.threshold)},
          {"tp", m.cm.tp},
          {"fp", m.cm.fp},
          {"tn", m.cm.tn},
          {"fn", m.cm.fn},
          {"accuracy", num(m.accuracy)},
          {"precision", num(m.precision)},
          {"recall", num(m.recall)},
          {"sensitivity", num(m.recall)},
          {"specificity", num(m.specificity)},
          {"f1", num(m.f1)},
          {"best_f1", m.best_f1}};
}

json level_json(const LevelMetrics& l) {
  json sweep = json::array();
  for (const auto& r : l.sweep) sweep.push_back(metrics_row(r));
  json j = metrics_row(l.at_threshold);
  j.erase("best_f1");
  j["n"] = l.n;
  j["positives"] = l.positives;
  j["auc"] = num(l.auc);
  j["average_precision"] = num(l.ap);
  j["sweep"] = sweep;
  j["roc"] = {{"fpr", nums(l.roc.fpr)}, {"tpr", nums(l.roc.tpr)}, {"thresholds", nums(l.roc.thresholds)}};
  j["pr"] = {{"precision", nums(l.pr.precision)}, {"recall", nums(l.pr.recall)},
             {"thresholds", nums(l.pr.thresholds)}};
  return j;
}

void write_level_outputs(const std::filesystem::path& dir, const LevelMetrics& l, std::string& md) {
  write_file_atomic(dir / ("sweep_" + l.level + ".csv"), sweep_csv(l.sweep));
  md += sweep_markdown(l.sweep, l.level + " level (n = " + std::to_string(l.n) + ", positives = " +
                                    std::to_string(l.positives) + ", AUC = " + (std::isfinite(l.auc) ? cell(l.auc, 3) : "n/a") +
                                    ", AP = " + (std::isfinite(l.ap) ? cell(l.ap, 3) : "n/a") + ")");
  md += "\n";
  const auto plots = dir / "plots";
  write_png(plots / ("roc_" + l.level + ".png"), roc_plot(l.roc, l.auc, "ROC, " + l.level + " level"));
  write_png(plots / ("pr_" + l.level + ".png"), pr_plot(l.pr, l.ap, "Precision-recall, " + l.level + " level"));
  write_png(plots / ("f1_" + l.level + ".png"),
            f1_threshold_plot(l.scores, l.labels, "F1 vs threshold, " + l.level + " level"));
  write_png(plots / ("confusion_" + l.level + ".png"),
            confusion_plot(l.at_threshold.cm, l.at_threshold.threshold, "Confusion matrix, " + l.level + " level"));
}

std::string units_csv(const std::vector<ScoredUnit>& u, const char* unit_name) {
  std::ostringstream o;
  o << "case," << unit_name << ",score,label,probability\n";
  for (const auto& x : u)
    o << field(x.case_id) << ',' << field(x.unit) << ',' << cell(x.score, 6) << ',' << x.label << ','
      << cell(x.probability, 6) << '\n';
  return o.str();
}

const char* const kSummaryKeys[] = {"accuracy", "precision", "recall", "specificity", "f1", "auc", "ap"};

double summary_value(const LevelMetrics& l, const std::string& key) {
  const BinaryMetrics& m = l.at_threshold;
  if (key == "accuracy") return m.accuracy;
  if (key == "precision") return m.precision;
  if (key == "recall") return m.recall;
  if (key == "specificity") return m.specificity;
  if (key == "f1") return m.f1;
  if (key == "auc") return l.auc;
  return l.ap;
}

// The level's metrics of each fold (nullptr where the fold has no such level).
std::vector<const LevelMetrics*> level_of(const std::vector<EvaluationResult>& folds, const std::string& level) {
  std::vector<const LevelMetrics*> out;
  for (const auto& f : folds) {
    if (level == "slice") out.push_back(f.has_slice ? &f.slice : nullptr);
    else if (level == "vertebra") out.push_back(f.has_vertebra ? &f.vertebra : nullptr);
    else out.push_back(&f.patient);
  }
  return out;
}

std::pair<double, double> mean_sd(const std::vector<double>& v) {
  std::vector<double> x;
  for (double a : v)
    if (std::isfinite(a)) x.push_back(a);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (x.empty()) return {nan, nan};
  double m = 0;
  for (double a : x) m += a;
  m /= double(x.size());
  if (x.size() < 2) return {m, nan};
  double ss = 0;
  for (double a : x) ss += (a - m) * (a - m);
  return {m, std::sqrt(ss / double(x.size() - 1))};
}

}  // namespace

json findings_json(const StudyFindings& f, const ReportInfo& info) {
  json cands = json::array();
  for (const auto& c : f.candidates) {
    json boxes = json::array();
    for (const auto& m : c.members)
      boxes.push_back({{"slice", m.slice},
                       {"x1", num(m.box.x1)},
                       {"y1", num(m.box.y1)},
                       {"x2", num(m.box.x2)},
                       {"y2", num(m.box.y2)},
                       {"score", num(m.box.score)}});
    VoxelBox vb = c.voxel_box(f.dims);
    auto mlo = c.mm_lo(f.spacing), mhi = c.mm_hi(f.spacing);
    cands.push_back({{"id", c.id},
                     {"view", view_name(c.view)},
                     {"source", c.source},
                     {"slice_first", c.slice_first},
                     {"slice_last", c.slice_last},
                     {"n_slices", c.n_slices},
                     {"n_sources", c.n_sources},
                     {"score", num(c.score)},
                     {"score_max", num(c.score_max)},
                     {"score_mean", num(c.score_mean)},
                     {"fractured", c.score >= info.threshold},
                     {"vertebra", c.vertebra.empty() ? json(nullptr) : json(c.vertebra)},
                     {"vertebra_label", c.vertebra_label},
                     {"box_voxels", {{"lo", triple(vb.lo)}, {"hi", triple(vb.hi)}}},
                     {"box_mm", {{"lo", triple(mlo)}, {"hi", triple(mhi)}}},
                     {"size_mm", triple(std::array<double, 3>{mhi[0] - mlo[0], mhi[1] - mlo[1], mhi[2] - mlo[2]})},
                     {"boxes", boxes}});
  }
  json verts = json::array();
  for (const auto& v : f.vertebrae)
    verts.push_back({{"name", v.name},
                     {"label", v.label},
                     {"score", num(v.score)},
                     {"probability", num(v.probability)},
                     {"fractured", v.score >= info.threshold},
                     {"candidates", v.candidate_ids},
                     {"voxels", v.voxels},
                     {"extent_voxels", {{"lo", triple(v.extent.lo)}, {"hi", triple(v.extent.hi)}}}});
  json j;
  j["case_id"] = f.case_id;
  j["source"] = info.source;
  j["weights"] = info.weights;
  j["views"] = info.views;
  j["mask"] = info.mask.empty() ? json(nullptr) : json(info.mask);
  j["vertebra_labels"] = info.label_scheme;
  j["threshold"] = info.threshold;
  j["threshold_source"] = info.threshold_source;
  j["calibration"] = info.calibration;
  j["grid"] = {{"dims", triple(f.dims)}, {"spacing_mm", triple(f.spacing)},
               {"note", "canonical voxel grid (x, y, z); box_voxels inclusive; box_mm from the corner of voxel 0"}};
  j["patient"] = {{"score", num(f.patient_score)},
                  {"probability", num(f.patient_probability)},
                  {"fractured", f.patient_score >= info.threshold},
                  {"definition", f.has_mask ? "max over vertebrae" : "max over candidates (no vertebra mask)"}};
  j["has_vertebra_mask"] = f.has_mask;
  j["vertebrae"] = verts;
  j["candidates"] = cands;
  j["score_note"] = info.score_note;
  return j;
}

std::string candidates_csv(const StudyFindings& f) {
  std::ostringstream o;
  o << "case,id,view,source,slice_first,slice_last,n_slices,n_sources,score,score_max,score_mean,vertebra,"
       "x0_vox,y0_vox,z0_vox,x1_vox,y1_vox,z1_vox,x0_mm,y0_mm,z0_mm,x1_mm,y1_mm,z1_mm\n";
  for (const auto& c : f.candidates) {
    VoxelBox vb = c.voxel_box(f.dims);
    auto lo = c.mm_lo(f.spacing), hi = c.mm_hi(f.spacing);
    o << field(f.case_id) << ',' << c.id << ',' << view_name(c.view) << ',' << field(c.source) << ','
      << c.slice_first << ',' << c.slice_last << ',' << c.n_slices << ',' << c.n_sources << ',' << cell(c.score, 6)
      << ',' << cell(c.score_max, 6) << ',' << cell(c.score_mean, 6) << ',' << c.vertebra;
    for (int a = 0; a < 3; ++a) o << ',' << vb.lo[size_t(a)];
    for (int a = 0; a < 3; ++a) o << ',' << vb.hi[size_t(a)];
    for (int a = 0; a < 3; ++a) o << ',' << cell(lo[size_t(a)], 2);
    for (int a = 0; a < 3; ++a) o << ',' << cell(hi[size_t(a)], 2);
    o << '\n';
  }
  return o.str();
}

std::string vertebrae_csv(const StudyFindings& f, double threshold) {
  std::ostringstream o;
  o << "case,vertebra,label,probability,fractured,n_candidates,candidate_ids,voxels,score\n";
  for (const auto& v : f.vertebrae) {
    std::string ids;
    for (int id : v.candidate_ids) ids += (ids.empty() ? "" : " ") + std::to_string(id);
    o << field(f.case_id) << ',' << v.name << ',' << v.label << ',' << cell(v.probability, 6) << ','
      << (v.score >= threshold ? 1 : 0) << ',' << v.candidate_ids.size() << ',' << ids << ',' << v.voxels << ','
      << cell(v.score, 6) << '\n';
  }
  return o.str();
}

void write_findings(const std::filesystem::path& out_dir, const StudyFindings& f, const ReportInfo& info) {
  write_file_atomic(out_dir / "findings.json", json_text(findings_json(f, info), 2) + "\n");
  write_file_atomic(out_dir / "findings.csv", candidates_csv(f));
  if (f.has_mask) write_file_atomic(out_dir / "findings_vertebrae.csv", vertebrae_csv(f, info.threshold));
}

json metrics_json(const EvaluationResult& r, const EvalOptions& opt) {
  json j;
  j["studies"] = r.studies;
  j["threshold"] = opt.threshold;
  j["sweep_thresholds"] = opt.sweep;
  j["conventions"] =
      "score >= threshold is positive; precision/recall/specificity/F1 are 0 on a zero denominator; AUC and AP are "
      "null when a level has no positives (AUC also when it has no negatives)";
  json levels;
  if (r.has_slice) levels["slice"] = level_json(r.slice);
  if (r.has_vertebra) levels["vertebra"] = level_json(r.vertebra);
  levels["patient"] = level_json(r.patient);
  j["levels"] = levels;
  if (r.has_froc) {
    json pts = json::array();
    for (size_t i = 0; i < r.froc.fp_rates.size(); ++i)
      pts.push_back({{"fp_per_volume", r.froc.fp_rates[i]}, {"sensitivity", num(r.froc.sensitivities[i])}});
    j["froc"] = {{"lesions", r.lesions},
                 {"volumes", r.froc_volumes},
                 {"points", pts},
                 {"mean_sensitivity", num(r.froc.mean_sensitivity)},
                 {"curve", {{"fp_per_volume", nums(r.froc.curve_fppv)},
                            {"sensitivity", nums(r.froc.curve_sens)},
                            {"thresholds", nums(r.froc.curve_thresholds)}}}};
  } else {
    j["froc"] = nullptr;
  }
  json bins = json::array();
  for (const auto& b : r.calibration.reliability)
    bins.push_back({{"lo", b.lo}, {"hi", b.hi}, {"n", b.n}, {"mean_probability", num(b.mean_probability)},
                    {"fraction_fractured", num(b.fraction_positive)}});
  j["calibration"] = {{"method", r.calibration.method},
                      {"level", r.has_vertebra ? "vertebra" : "patient"},
                      {"brier", num(r.calibration.brier)},
                      {"brier_uncalibrated", num(r.calibration.brier_uncalibrated)},
                      {"reliability", bins}};
  j["warnings"] = r.warnings;
  return j;
}

void write_evaluation(const std::filesystem::path& out_dir, const EvaluationResult& r, const EvalOptions& opt) {
  std::string md = "## Threshold sweep\n\n";
  if (r.has_slice) write_level_outputs(out_dir, r.slice, md);
  if (r.has_vertebra) write_level_outputs(out_dir, r.vertebra, md);
  write_level_outputs(out_dir, r.patient, md);
  if (r.has_froc) {
    write_png(out_dir / "plots" / "froc.png", froc_plot(r.froc, "FROC, candidates"));
    md += "### FROC (" + std::to_string(r.lesions) + " lesions, " + std::to_string(r.froc_volumes) +
          " volumes)\n\n| FP / volume | sensitivity |\n|---:|---:|\n";
    for (size_t i = 0; i < r.froc.fp_rates.size(); ++i)
      md += "| " + cell(r.froc.fp_rates[i], 3) + " | " +
            (std::isfinite(r.froc.sensitivities[i]) ? cell(r.froc.sensitivities[i], 3) : "n/a") + " |\n";
    md += "| mean | " + (std::isfinite(r.froc.mean_sensitivity) ? cell(r.froc.mean_sensitivity, 3) : "n/a") + " |\n";
  }
  write_png(out_dir / "plots" / "reliability.png",
            reliability_plot(r.calibration.reliability,
                             "Reliability, " + std::string(r.has_vertebra ? "vertebra" : "patient") + " level (" +
                                 r.calibration.method + ", Brier " + cell(r.calibration.brier, 3) + ")"));
  md += "### Calibration (" + r.calibration.method + ")\n\nBrier score " + cell(r.calibration.brier, 4) +
        " (uncalibrated scores: " + cell(r.calibration.brier_uncalibrated, 4) + ")\n\n";
  write_file_atomic(out_dir / "sweep.md", md);
  if (!r.vertebra_units.empty()) write_file_atomic(out_dir / "per_vertebra.csv", units_csv(r.vertebra_units, "vertebra"));
  write_file_atomic(out_dir / "per_patient.csv", units_csv(r.patient_units, "unit"));
  // metrics.json last: its presence says the evaluation finished.
  write_file_atomic(out_dir / "metrics.json", json_text(metrics_json(r, opt), 2) + "\n");
}

json fold_summary_json(const std::vector<std::string>& fold_names, const std::vector<EvaluationResult>& folds) {
  json out;
  for (const char* level : {"slice", "vertebra", "patient"}) {
    auto ls = level_of(folds, level);
    bool any = false;
    for (auto* l : ls) any = any || l;
    if (!any) continue;
    json per_fold = json::array();
    json summary;
    for (const char* key : kSummaryKeys) {
      std::vector<double> v;
      for (auto* l : ls) v.push_back(l ? summary_value(*l, key) : std::numeric_limits<double>::quiet_NaN());
      auto [m, sd] = mean_sd(v);
      summary[key] = {{"mean", num(m)}, {"sd", num(sd)}};
    }
    for (size_t i = 0; i < ls.size(); ++i) {
      json row;
      row["fold"] = i < fold_names.size() ? fold_names[i] : std::to_string(i);
      for (const char* key : kSummaryKeys)
        row[key] = ls[i] ? num(summary_value(*ls[i], key)) : json(nullptr);
      per_fold.push_back(row);
    }
    out[level] = {{"folds", per_fold}, {"summary", summary}};
  }
  return out;
}

std::string fold_summary_markdown(const std::vector<std::string>& fold_names,
                                  const std::vector<EvaluationResult>& folds) {
  std::string md;
  json j = fold_summary_json(fold_names, folds);
  auto show = [](const json& v) { return v.is_null() ? std::string("n/a") : cell(v.get<double>(), 3); };
  for (const char* level : {"slice", "vertebra", "patient"}) {
    if (!j.contains(level)) continue;
    md += std::string("### ") + level + " level\n\n| fold |";
    for (const char* key : kSummaryKeys) md += std::string(" ") + key + " |";
    md += "\n|---|";
    for (size_t i = 0; i < std::size(kSummaryKeys); ++i) md += "---:|";
    md += "\n";
    for (const auto& row : j[level]["folds"]) {
      md += "| " + row["fold"].get<std::string>() + " |";
      for (const char* key : kSummaryKeys) md += " " + show(row[key]) + " |";
      md += "\n";
    }
    md += "| mean ± sd |";
    for (const char* key : kSummaryKeys) {
      const auto& s = j[level]["summary"][key];
      md += " " + show(s["mean"]) + (s["sd"].is_null() ? std::string() : " ± " + show(s["sd"])) + " |";
    }
    md += "\n\n";
  }
  return md;
}

}  // namespace vyolo::findings
