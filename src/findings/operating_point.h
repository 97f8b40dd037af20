// The clinical operating point: the vertebra-level decision threshold chosen on validation data by a stated rule,
// instead of a fixed 0.5 on an uncalibrated detector score.
//
// Rules (config `operating_point`): f1 (highest F1), youden (highest sensitivity + specificity - 1),
// sensitivity@X (the highest threshold whose sensitivity is >= X, i.e. the best specificity at that sensitivity),
// specificity@X (the lowest threshold whose specificity is >= X). Ties go to the higher threshold.
// The rule picks one of the distinct validation scores s_i (called positive at score >= s_i); the threshold stored
// is the midpoint between s_i and the next lower distinct score, which gives the same validation confusion matrix but
// does not put the boundary exactly on a validation case (a test vertebra scoring just below the lowest validated
// fracture is still called). Validation sets without positives or negatives define no operating point.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "findings/clinical_metrics.h"

namespace vyolo::findings {

struct OperatingRule {
  enum Kind { F1, Youden, Sensitivity, Specificity } kind = F1;
  double target = 0;  // Sensitivity / Specificity: the minimum required
};
// Throws UsageError naming the accepted forms.
OperatingRule parse_operating_rule(const std::string& s);
std::string rule_name(const OperatingRule& r);

struct OperatingPoint {
  bool defined = false;       // false: the validation set lacked positives or negatives (threshold stays 0.5)
  std::string rule;           // e.g. "sensitivity@0.9"
  double threshold = 0.5;     // on the detector's vertebra score
  BinaryMetrics validation;   // confusion and rates at `threshold` on the validation set
  int64_t n = 0, positives = 0;
  bool target_met = true;     // specificity@X: false when no threshold reaches X (then: above every score)
  std::vector<std::string> studies;  // the validation studies it was chosen on
  std::string calibration = "none";  // the method fitted beside it (calibration.h)
};

OperatingPoint choose_operating_point(const std::vector<double>& scores, const std::vector<int>& labels,
                                      const OperatingRule& rule);

// "0.1834" (4 significant digits), for messages and reports.
std::string format_threshold(double t);

nlohmann::json operating_point_json(const OperatingPoint& p);
// Throws RuntimeError naming `origin` when the JSON is not one operating_point_json wrote.
OperatingPoint operating_point_from_json(const nlohmann::json& j, const std::string& origin);

}  // namespace vyolo::findings
