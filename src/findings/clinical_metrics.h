// Binary classification metrics for slice-, vertebra- and patient-level evaluation, and FROC for 3D candidates.
//
// Conventions (chosen to match scikit-learn, so numbers compare with the upstream Python tool):
// - A sample is predicted positive when score >= threshold.
// - precision, recall (= sensitivity), specificity and F1 are 0 when their denominator is 0 (sklearn's
//   zero_division=0); accuracy is 0 for an empty set.
// - ROC: tied scores form one step; AUC by the trapezoid rule (roc_curve / roc_auc_score). AUC is NaN when the set has
//   no positives or no negatives; AP is NaN when it has no positives. NaN is serialised as JSON null.
// - AP is sklearn's step sum: AP = sum_n (R_n - R_{n-1}) P_n over distinct thresholds, high to low.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace vyolo::findings {

struct Confusion {
  int64_t tp = 0, fp = 0, tn = 0, fn = 0;
};

struct BinaryMetrics {
  double threshold = 0;
  Confusion cm;
  double accuracy = 0, precision = 0, recall = 0, specificity = 0, f1 = 0;  // recall == sensitivity
  bool best_f1 = false;  // the row of a sweep that maximises F1
};

// Throws UsageError when the sizes differ or a label is not 0/1.
Confusion confusion_at(const std::vector<double>& scores, const std::vector<int>& labels, double threshold);
BinaryMetrics metrics_from_confusion(const Confusion& cm, double threshold);
BinaryMetrics metrics_at(const std::vector<double>& scores, const std::vector<int>& labels, double threshold);

// One point per distinct score (high to low), preceded by (0, 0) at threshold +inf, as sklearn's roc_curve with
// drop_intermediate=False. fpr (tpr) is NaN throughout when there are no negatives (positives).
struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;
};
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels);
double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels);

// One point per distinct score, high to low (recall rising). Empty when there are no positives.
struct PrCurve {
  std::vector<double> precision, recall, thresholds;
};
PrCurve pr_curve(const std::vector<double>& scores, const std::vector<int>& labels);
double average_precision(const std::vector<double>& scores, const std::vector<int>& labels);

// The threshold (a distinct score) with the highest F1; ties go to the higher threshold. 0.5 when no score exists.
BinaryMetrics best_f1_point(const std::vector<double>& scores, const std::vector<int>& labels);

inline const std::vector<double>& default_sweep_thresholds() {
  static const std::vector<double> t{0.01, 0.05, 0.1, 0.25, 0.5};
  return t;
}
// Metrics at each threshold (ascending) plus the best-F1 point, which is flagged (and merged into an equal row).
std::vector<BinaryMetrics> threshold_sweep(const std::vector<double>& scores, const std::vector<int>& labels,
                                           const std::vector<double>& thresholds = default_sweep_thresholds());
std::string sweep_csv(const std::vector<BinaryMetrics>& rows);
std::string sweep_markdown(const std::vector<BinaryMetrics>& rows, const std::string& title = "");

// All metrics of one level (slice, vertebra or patient) at one operating threshold.
struct LevelMetrics {
  std::string level;
  int64_t n = 0, positives = 0;
  BinaryMetrics at_threshold;
  double auc = std::numeric_limits<double>::quiet_NaN();
  double ap = std::numeric_limits<double>::quiet_NaN();
  std::vector<BinaryMetrics> sweep;
  RocCurve roc;
  PrCurve pr;
  std::vector<double> scores;  // the inputs, for plots
  std::vector<int> labels;
};
LevelMetrics evaluate_level(const std::string& level, const std::vector<double>& scores,
                            const std::vector<int>& labels, double threshold = 0.5,
                            const std::vector<double>& sweep_thresholds = default_sweep_thresholds());

// FROC over 3D candidates. A candidate with lesion_id >= 0 is a true positive on lesion (volume_id, lesion_id); several
// candidates on one lesion count it once (at their highest score). Candidates with lesion_id < 0 are false positives.
struct FrocCandidate {
  double score = 0;
  int volume_id = 0;
  int lesion_id = -1;
};
inline const std::vector<double>& default_froc_rates() {
  static const std::vector<double> r{0.125, 0.25, 0.5, 1, 2, 4, 8};
  return r;
}
struct FrocResult {
  std::vector<double> fp_rates, sensitivities;  // sensitivity at each requested FP-per-volume rate
  double mean_sensitivity = 0;                  // mean over the requested rates (the CPM of LUNA16)
  std::vector<double> curve_fppv, curve_sens, curve_thresholds;  // one point per distinct score, high to low
};
// Sensitivity at rate r = the highest sensitivity among thresholds whose FPs per volume are <= r (0 when none).
// Throws UsageError when n_volumes <= 0 or n_lesions < 0; with n_lesions == 0 every sensitivity is NaN.
FrocResult froc(const std::vector<FrocCandidate>& candidates, int n_lesions, int n_volumes,
                const std::vector<double>& rates = default_froc_rates());

}  // namespace vyolo::findings
