#include "findings/operating_point.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/error.h"

namespace vyolo::findings {

using json = nlohmann::json;

OperatingRule parse_operating_rule(const std::string& s) {
  const std::string forms = "f1 | youden | sensitivity@X | specificity@X with X in (0, 1]";
  if (s == "f1") return {OperatingRule::F1, 0};
  if (s == "youden") return {OperatingRule::Youden, 0};
  const auto at = s.find('@');
  if (at != std::string::npos) {
    const std::string kind = s.substr(0, at), x = s.substr(at + 1);
    char* end = nullptr;
    const double v = std::strtod(x.c_str(), &end);
    const bool number = !x.empty() && end && *end == '\0' && v > 0 && v <= 1;
    if (number && (kind == "sensitivity" || kind == "sens"))
      return {OperatingRule::Sensitivity, v};
    if (number && (kind == "specificity" || kind == "spec"))
      return {OperatingRule::Specificity, v};
  }
  throw UsageError("operating_point=" + s + ": expected " + forms);
}

std::string rule_name(const OperatingRule& r) {
  char buf[48];
  switch (r.kind) {
    case OperatingRule::F1: return "f1";
    case OperatingRule::Youden: return "youden";
    case OperatingRule::Sensitivity: std::snprintf(buf, sizeof buf, "sensitivity@%g", r.target); return buf;
    case OperatingRule::Specificity: std::snprintf(buf, sizeof buf, "specificity@%g", r.target); return buf;
  }
  return "f1";
}

OperatingPoint choose_operating_point(const std::vector<double>& scores, const std::vector<int>& labels,
                                      const OperatingRule& rule) {
  OperatingPoint p;
  p.rule = rule_name(rule);
  p.n = static_cast<int64_t>(labels.size());
  for (int l : labels) p.positives += l != 0;
  const RocCurve roc = roc_curve(scores, labels);  // checks the inputs; point 0 is (0, 0) at +inf
  if (p.positives == 0 || p.positives == p.n) {
    p.validation = metrics_at(scores, labels, p.threshold);
    return p;
  }
  p.defined = true;
  const double P = double(p.positives), N = double(p.n - p.positives);
  // Candidate k (1..K) is distinct score roc.thresholds[k], high to low.
  const size_t K = roc.thresholds.size() - 1;
  size_t pick = 0;  // 0: above every score (nothing called)
  double best = -1;
  for (size_t k = 1; k <= K; ++k) {
    const double tpr = roc.tpr[k], fpr = roc.fpr[k];
    const double tp = tpr * P, fp = fpr * N;
    double value;
    switch (rule.kind) {
      case OperatingRule::F1: value = 2 * tp / (2 * tp + fp + (P - tp)); break;
      case OperatingRule::Youden: value = tpr - fpr; break;
      case OperatingRule::Sensitivity: value = tpr >= rule.target - 1e-12 ? 1 : -1; break;
      case OperatingRule::Specificity: value = 1 - fpr >= rule.target - 1e-12 ? 1 : -1; break;
    }
    if (rule.kind == OperatingRule::Sensitivity) {
      if (value > 0) { pick = k; break; }  // the first (highest) threshold reaching the sensitivity
      continue;
    }
    if (rule.kind == OperatingRule::Specificity) {
      if (value > 0) pick = k;  // the last (lowest) threshold keeping the specificity
      else break;               // specificity only falls as the threshold falls
      continue;
    }
    if (value > best + 1e-12) {  // strict: ties keep the higher threshold
      best = value;
      pick = k;
    }
  }
  const double top = roc.thresholds[1];
  if (pick == 0) {
    // No distinct score keeps the required specificity: call nothing (a threshold above every validation score).
    p.target_met = false;
    p.threshold = top < 1 ? top + (1 - top) / 2 : std::nextafter(top, INFINITY);
  } else {
    const double s = roc.thresholds[pick];
    p.threshold = pick < K ? (s + roc.thresholds[pick + 1]) / 2 : s;
  }
  p.validation = metrics_at(scores, labels, p.threshold);
  return p;
}

std::string format_threshold(double t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", t);
  return buf;
}

json operating_point_json(const OperatingPoint& p) {
  const auto& v = p.validation;
  return {{"rule", p.rule},
          {"level", "vertebra"},
          {"threshold", p.threshold},
          {"target_met", p.target_met},
          {"calibration", p.calibration},
          {"validation",
           {{"n", p.n},
            {"positives", p.positives},
            {"tp", v.cm.tp},
            {"fp", v.cm.fp},
            {"tn", v.cm.tn},
            {"fn", v.cm.fn},
            {"sensitivity", v.recall},
            {"specificity", v.specificity},
            {"precision", v.precision},
            {"f1", v.f1},
            {"studies", p.studies}}}};
}

OperatingPoint operating_point_from_json(const json& j, const std::string& origin) {
  try {
    OperatingPoint p;
    p.defined = true;
    p.rule = j.at("rule").get<std::string>();
    parse_operating_rule(p.rule);
    p.threshold = j.at("threshold").get<double>();
    if (!std::isfinite(p.threshold)) throw std::runtime_error("threshold is not finite");
    p.target_met = j.value("target_met", true);
    p.calibration = j.value("calibration", std::string("none"));
    const json& v = j.at("validation");
    p.n = v.at("n").get<int64_t>();
    p.positives = v.at("positives").get<int64_t>();
    p.validation.threshold = p.threshold;
    p.validation.cm = {v.at("tp").get<int64_t>(), v.at("fp").get<int64_t>(), v.at("tn").get<int64_t>(),
                       v.at("fn").get<int64_t>()};
    p.validation = metrics_from_confusion(p.validation.cm, p.threshold);
    p.studies = v.value("studies", std::vector<std::string>{});
    return p;
  } catch (const UsageError& e) {
    throw RuntimeError(origin + ": operating_point metadata: " + e.what());
  } catch (const std::exception& e) {
    throw RuntimeError(origin + ": operating_point metadata is malformed (" + e.what() + ")");
  }
}

}  // namespace vyolo::findings
