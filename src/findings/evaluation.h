// Accumulates predicted findings and ground truth over a set of studies into slice-, vertebra- and patient-level
// metrics and FROC (what `vyolo evaluate` reports).
#pragma once
#include <string>
#include <vector>

#include "findings/calibration.h"
#include "findings/clinical_metrics.h"
#include "findings/ground_truth.h"
#include "findings/vertebra_assign.h"

namespace vyolo::findings {

struct EvalOptions {
  double threshold = 0.5;  // operating point of the confusion matrices (on the detector score)
  std::string calibration = "none";  // the method that made the findings' probabilities, for the report
  std::vector<double> sweep = default_sweep_thresholds();
  std::vector<double> froc_rates = default_froc_rates();
};

// One scored unit (a slice, a vertebra or a patient) with its label; kept for the per-vertebra CSV.
struct ScoredUnit {
  std::string case_id, unit;  // unit: slice index, vertebra name, or "" for the patient
  double score = 0;        // the detector's score (metrics and calls)
  int label = 0;
  double probability = 0;  // the calibrated probability (= score without calibration)
};

// How well the vertebra probabilities are calibrated (Brier score and reliability table of `probability`, beside
// the Brier score the uncalibrated scores would have).
struct CalibrationFigures {
  std::string method = "none";
  double brier = 0, brier_uncalibrated = 0;
  std::vector<ReliabilityBin> reliability;
};

struct EvaluationResult {
  int studies = 0;
  LevelMetrics slice, vertebra, patient;
  bool has_slice = false, has_vertebra = false, has_froc = false;
  FrocResult froc;
  int lesions = 0, froc_volumes = 0;
  std::vector<ScoredUnit> vertebra_units, patient_units;
  CalibrationFigures calibration;  // of the vertebra level (patient level when there is none)
  std::vector<std::string> warnings;  // e.g. a graded vertebra missing from the prediction's mask
};

class FindingsEvaluator {
 public:
  explicit FindingsEvaluator(EvalOptions opt = {}) : opt_(std::move(opt)) {}

  // Slice level (when truth.slice_labels is set): a slice's score is the highest score of the candidates whose 3D box
  // spans it along truth.view's axis (0 when none). Vertebra level (when both sides list vertebrae): joined by name;
  // a truth vertebra missing from the prediction scores 0 (with a warning), a predicted vertebra without truth is
  // skipped (not graded). Patient level: always. FROC (when truth comes from masks): `lesion_of_candidate` from
  // match_lesions, one entry per pred.candidates.
  void add(const StudyFindings& pred, const StudyTruth& truth, const std::vector<int>& lesion_of_candidate = {});

  EvaluationResult result() const;

 private:
  EvalOptions opt_;
  int studies_ = 0;
  std::vector<double> slice_s_;
  std::vector<int> slice_l_;
  std::vector<ScoredUnit> vert_, patient_;
  std::vector<FrocCandidate> froc_;
  int lesions_ = 0, froc_volumes_ = 0;
  std::vector<std::string> warnings_;
};

}  // namespace vyolo::findings
