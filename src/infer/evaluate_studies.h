// `vyolo evaluate`: the volume predictor on every study of a folder with ground truth, then slice-, vertebra- and
// patient-level metrics, threshold sweeps, FROC and plots (findings::write_evaluation).
//
// Studies: folders as data/study_folder.h describes them. Truth comes from the fracture mask (+ vertebra mask), or, with `grades=FILE`, from a
// per-vertebra grade file (grade >= min_grade = fractured; the vertebra mask then names the predicted vertebrae).
// A study that cannot be read or has no truth is reported, skipped and counted; the run goes on.
#pragma once
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "data/study_folder.h"
#include "findings/evaluation.h"
#include "infer/predict_volume.h"

namespace vyolo::infer {

// find_study_folders, with a RuntimeError when root is not a folder.
std::vector<StudyFiles> find_studies(const std::filesystem::path& root);

struct EvaluateOptions {
  VolumePredictOptions predict;
  findings::EvalOptions eval;
  std::string label_scheme = "verse";
  std::string grades;   // grade file; empty = truth from fracture masks
  int min_grade = 1;
  bool save_case_findings = true;  // <out>/cases/<id>/findings.json, .csv
  std::vector<std::string> only;   // evaluate just these study ids (a fold's validation patients); empty = all
  // Validation use (a fold's validation studies): choose the operating point on these studies by `choose` and fit
  // `fit_calibration` on them; with `report_at_chosen` the outputs use the chosen threshold and the fitted
  // calibration instead of eval.threshold / predict.calibration.
  std::optional<findings::OperatingRule> choose;
  std::string fit_calibration = "none";
  bool report_at_chosen = true;
};

struct EvaluateSummary {
  int studies = 0, evaluated = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // study, reason
  findings::EvaluationResult result;
  std::optional<findings::OperatingPoint> point;  // with opt.choose: chosen on these studies (point->defined may be false)
  findings::Calibration calibration;              // with opt.fit_calibration: fitted on these studies
};

// Runs the models on every study (all predictions first, so that a threshold chosen on them applies to every output),
// then writes metrics.json, sweeps, plots, per_vertebra/per_patient CSVs and
// studies.json (evaluated and skipped studies) into `out`. Throws RuntimeError when no study could be evaluated
// (nothing but studies.json is written then).
EvaluateSummary evaluate_studies(std::vector<VolumeModel>& models, const std::filesystem::path& source,
                                 const std::filesystem::path& out, const EvaluateOptions& opt,
                                 std::ostream* log = nullptr);

}  // namespace vyolo::infer
