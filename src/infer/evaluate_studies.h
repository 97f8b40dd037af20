// `vyolo evaluate`: the volume predictor on every study of a folder with ground truth, then slice-, vertebra- and
// patient-level metrics, threshold sweeps, FROC and plots (findings::write_evaluation).
//
// Studies (DESIGN.md §5): <source>/<case>/ with the CT as ct.nii.gz | ct.nii | ct/ | dicom/, the fracture instance
// mask fracture.nii.gz | fracture.nii and the vertebra mask vertebrae.nii.gz | vertebrae.nii | vertebrae_mask.nii.gz |
// multilabel_mask.nii.gz. Truth comes from the fracture mask (+ vertebra mask), or, with `grades=FILE`, from a
// per-vertebra grade file (grade >= min_grade = fractured; the vertebra mask then names the predicted vertebrae).
// A study that cannot be read or has no truth is reported, skipped and counted; the run goes on.
#pragma once
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "findings/evaluation.h"
#include "infer/predict_volume.h"

namespace vyolo::infer {

struct StudyInputs {
  std::string id;  // the folder name
  std::filesystem::path dir, ct, fracture, vertebrae;  // empty when absent
};

// Sub-folders of `root` in name order (root itself when it holds a CT). Throws RuntimeError when root is missing.
std::vector<StudyInputs> find_studies(const std::filesystem::path& root);

struct EvaluateOptions {
  VolumePredictOptions predict;
  findings::EvalOptions eval;
  std::string label_scheme = "verse";
  std::string grades;   // grade file; empty = truth from fracture masks
  int min_grade = 1;
  bool save_case_findings = true;  // <out>/cases/<id>/findings.json, .csv
  std::vector<std::string> only;   // evaluate just these study ids (a fold's validation patients); empty = all
};

struct EvaluateSummary {
  int studies = 0, evaluated = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // study, reason
  findings::EvaluationResult result;
};

// Runs the models on every study and writes metrics.json, sweeps, plots, per_vertebra/per_patient CSVs and
// studies.json (evaluated and skipped studies) into `out`. Throws RuntimeError when no study could be evaluated
// (nothing but studies.json is written then).
EvaluateSummary evaluate_studies(std::vector<VolumeModel>& models, const std::filesystem::path& source,
                                 const std::filesystem::path& out, const EvaluateOptions& opt,
                                 std::ostream* log = nullptr);

// `vyolo evaluate`: reads weights, source, out, studies, conf, iou, max_det, batch, device, threshold, grades,
// min_grade, vertebra_labels, crop, margin from the tree; on_run_dir(out) is called once `out` exists.
EvaluateSummary evaluate_command(const Config& cfg, const std::vector<std::string>& overrides,
                                 const std::function<void(const std::filesystem::path&)>& on_run_dir);

}  // namespace vyolo::infer
