// Calibrated vertebra probabilities: a monotone map from the detector's vertebra score to an estimated probability of
// fracture, fitted on validation data (Platt scaling or isotonic regression), with the Brier score and a reliability
// table to judge it. Calibration changes the reported probabilities, never the calls: a monotone map keeps the
// ranking, and the operating threshold stays on the detector score (operating_point.h).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "findings/vertebra_assign.h"

namespace vyolo::findings {

struct Calibration {
  std::string method = "none";  // none | platt | isotonic
  // platt: p = 1 / (1 + exp(-(a * logit(s) + b))), s clamped to [1e-6, 1 - 1e-6] (Platt on the score's logit, so
  // a = 1, b = 0 is the identity).
  double a = 1, b = 0;
  // isotonic: knots (score, probability), increasing in score; linear between knots, constant outside.
  std::vector<double> x, y;

  bool identity() const { return method == "none"; }
  double apply(double score) const;
};

// Sets every vertebra's probability to c.apply(score), and the patient's (a monotone map keeps max over vertebrae).
void calibrate_findings(StudyFindings& f, const Calibration& c);

// Platt scaling with Platt's smoothed targets ((N+ + 1) / (N+ + 2), 1 / (N- + 2)), fitted by Newton's method on the
// log loss. Needs both classes; a fit that would reverse the ranking (a <= 0) is a RuntimeError.
Calibration fit_platt(const std::vector<double>& scores, const std::vector<int>& labels);
// Isotonic regression (pool adjacent violators; tied scores pooled first): the monotone fit of least squared error.
Calibration fit_isotonic(const std::vector<double>& scores, const std::vector<int>& labels);
// method: "none" | "platt" | "isotonic" (UsageError otherwise).
Calibration fit_calibration(const std::string& method, const std::vector<double>& scores,
                            const std::vector<int>& labels);

// Mean squared difference between probability and outcome; NaN for an empty set.
double brier_score(const std::vector<double>& probs, const std::vector<int>& labels);

struct ReliabilityBin {
  double lo = 0, hi = 0;             // [lo, hi) (the last bin includes 1)
  int n = 0;
  double mean_probability = 0, fraction_positive = 0;  // NaN when n == 0
};
std::vector<ReliabilityBin> reliability_table(const std::vector<double>& probs, const std::vector<int>& labels,
                                              int bins = 10);

nlohmann::json calibration_json(const Calibration& c);
// Throws RuntimeError naming `origin` for a malformed calibration.
Calibration calibration_from_json(const nlohmann::json& j, const std::string& origin);

}  // namespace vyolo::findings
