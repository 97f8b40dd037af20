// What `vyolo predict` (on a volume) and `vyolo evaluate` write. Every file is written atomically; NaN metrics are
// JSON null and empty CSV cells.
//
// predict:  findings.json, findings.csv (one row per candidate), findings_vertebrae.csv (one row per vertebra; only
//           with a vertebra mask). The NIfTI label volume and the montage are written by write_candidate_labels
//           (label_volume.h) and write_png(overlay_montage(...)) (plots.h), because they need the CT.
// evaluate: metrics.json, sweep_<level>.csv, sweep.md (all levels), per_vertebra.csv, per_patient.csv,
//           plots/{roc,pr,f1,confusion}_<level>.png and plots/froc.png.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "findings/evaluation.h"
#include "findings/vertebra_assign.h"

namespace vyolo::findings {

struct ReportInfo {
  std::string source;                 // the input volume (file or DICOM folder)
  std::vector<std::string> weights;   // checkpoint(s)
  std::string mask;                   // vertebra mask path, "" if none
  std::string label_scheme = "verse";
  std::vector<std::string> views;     // views of the models
  double threshold = 0.5;             // a candidate / vertebra / patient is called fractured at score >= threshold
  std::string threshold_source = "default";  // "threshold=", "checkpoint (f1 on 2 validation studies)", ...
  nlohmann::json calibration = {{"method", "none"}};  // how probability was made from score
  std::string score_note;             // how Candidate::score was formed (link/fuse options), for the reader
};

nlohmann::json findings_json(const StudyFindings& f, const ReportInfo& info);
std::string candidates_csv(const StudyFindings& f);
std::string vertebrae_csv(const StudyFindings& f, double threshold);
void write_findings(const std::filesystem::path& out_dir, const StudyFindings& f, const ReportInfo& info);

nlohmann::json metrics_json(const EvaluationResult& r, const EvalOptions& opt);
void write_evaluation(const std::filesystem::path& out_dir, const EvaluationResult& r, const EvalOptions& opt);

// Cross-validation summary (end of `vyolo cv`): per fold and level (slice, vertebra, patient) accuracy, precision,
// recall, specificity, f1 at the evaluation threshold, auc and ap; then mean and sd over folds (sample sd, n-1;
// folds where a value is undefined are left out; null when no fold defines it, sd null below two folds).
nlohmann::json fold_summary_json(const std::vector<std::string>& fold_names,
                                 const std::vector<EvaluationResult>& folds);
// The same as a Markdown table per level ("0.912 ± 0.031").
std::string fold_summary_markdown(const std::vector<std::string>& fold_names,
                                  const std::vector<EvaluationResult>& folds);

}  // namespace vyolo::findings
