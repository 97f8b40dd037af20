#include "findings/clinical_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>
#include <sstream>
#include <utility>

#include "common/error.h"

namespace vyolo::findings {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_inputs(const std::vector<double>& scores, const std::vector<int>& labels) {
  if (scores.size() != labels.size())
    throw UsageError("metrics: " + std::to_string(scores.size()) + " scores but " + std::to_string(labels.size()) +
                     " labels");
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1)
      throw UsageError("metrics: label " + std::to_string(labels[i]) + " at index " + std::to_string(i) +
                       " is not 0 or 1");
    if (std::isnan(scores[i])) throw UsageError("metrics: score at index " + std::to_string(i) + " is NaN");
  }
}

double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

// Cumulative true/false positives at each distinct score, scores high to low (sklearn's _binary_clf_curve).
struct Steps {
  std::vector<double> tps, fps, thresholds;
};
Steps binary_steps(const std::vector<double>& scores, const std::vector<int>& labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  Steps s;
  double tp = 0, fp = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    size_t i = order[k];
    (labels[i] ? tp : fp) += 1;
    if (k + 1 == order.size() || scores[order[k + 1]] != scores[i]) {
      s.tps.push_back(tp);
      s.fps.push_back(fp);
      s.thresholds.push_back(scores[i]);
    }
  }
  return s;
}

std::string fmt(double v, int prec = 4) {
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

}  // namespace

Confusion confusion_at(const std::vector<double>& scores, const std::vector<int>& labels, double threshold) {
  check_inputs(scores, labels);
  Confusion cm;
  for (size_t i = 0; i < scores.size(); ++i) {
    bool pred = scores[i] >= threshold;
    if (labels[i]) (pred ? cm.tp : cm.fn)++;
    else (pred ? cm.fp : cm.tn)++;
  }
  return cm;
}

BinaryMetrics metrics_from_confusion(const Confusion& cm, double threshold) {
  BinaryMetrics m;
  m.threshold = threshold;
  m.cm = cm;
  double tp = double(cm.tp), fp = double(cm.fp), tn = double(cm.tn), fn = double(cm.fn);
  m.accuracy = ratio(tp + tn, tp + fp + tn + fn);
  m.precision = ratio(tp, tp + fp);
  m.recall = ratio(tp, tp + fn);
  m.specificity = ratio(tn, tn + fp);
  m.f1 = ratio(2 * tp, 2 * tp + fp + fn);  // equals 2PR/(P+R), and 0 where sklearn's zero_division=0 gives 0
  return m;
}

BinaryMetrics metrics_at(const std::vector<double>& scores, const std::vector<int>& labels, double threshold) {
  return metrics_from_confusion(confusion_at(scores, labels, threshold), threshold);
}

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs(scores, labels);
  Steps s = binary_steps(scores, labels);
  RocCurve r;
  double P = s.tps.empty() ? 0 : s.tps.back(), N = s.fps.empty() ? 0 : s.fps.back();
  r.fpr.push_back(N > 0 ? 0.0 : kNaN);
  r.tpr.push_back(P > 0 ? 0.0 : kNaN);
  r.thresholds.push_back(std::numeric_limits<double>::infinity());
  for (size_t i = 0; i < s.tps.size(); ++i) {
    r.fpr.push_back(N > 0 ? s.fps[i] / N : kNaN);
    r.tpr.push_back(P > 0 ? s.tps[i] / P : kNaN);
    r.thresholds.push_back(s.thresholds[i]);
  }
  return r;
}

double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  RocCurve r = roc_curve(scores, labels);
  if (r.fpr.size() < 2 || std::isnan(r.fpr.back()) || std::isnan(r.tpr.back())) return kNaN;
  double auc = 0;
  for (size_t i = 1; i < r.fpr.size(); ++i) auc += (r.fpr[i] - r.fpr[i - 1]) * (r.tpr[i] + r.tpr[i - 1]) / 2;
  return auc;
}

PrCurve pr_curve(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs(scores, labels);
  Steps s = binary_steps(scores, labels);
  PrCurve c;
  double P = s.tps.empty() ? 0 : s.tps.back();
  if (P <= 0) return c;
  for (size_t i = 0; i < s.tps.size(); ++i) {
    c.precision.push_back(s.tps[i] / (s.tps[i] + s.fps[i]));
    c.recall.push_back(s.tps[i] / P);
    c.thresholds.push_back(s.thresholds[i]);
  }
  return c;
}

double average_precision(const std::vector<double>& scores, const std::vector<int>& labels) {
  PrCurve c = pr_curve(scores, labels);
  if (c.recall.empty()) return kNaN;
  double ap = 0, prev_r = 0;
  for (size_t i = 0; i < c.recall.size(); ++i) {
    ap += (c.recall[i] - prev_r) * c.precision[i];
    prev_r = c.recall[i];
  }
  return ap;
}

BinaryMetrics best_f1_point(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs(scores, labels);
  Steps s = binary_steps(scores, labels);
  if (s.thresholds.empty()) return metrics_from_confusion(Confusion{}, 0.5);
  double P = s.tps.back(), N = s.fps.back();
  BinaryMetrics best;
  bool have = false;
  for (size_t i = 0; i < s.thresholds.size(); ++i) {  // thresholds high to low: strict '>' keeps the higher one
    Confusion cm;
    cm.tp = int64_t(s.tps[i]);
    cm.fp = int64_t(s.fps[i]);
    cm.fn = int64_t(P - s.tps[i]);
    cm.tn = int64_t(N - s.fps[i]);
    BinaryMetrics m = metrics_from_confusion(cm, s.thresholds[i]);
    if (!have || m.f1 > best.f1) {
      best = m;
      have = true;
    }
  }
  best.best_f1 = true;
  return best;
}

std::vector<BinaryMetrics> threshold_sweep(const std::vector<double>& scores, const std::vector<int>& labels,
                                           const std::vector<double>& thresholds) {
  std::vector<BinaryMetrics> rows;
  for (double t : thresholds) rows.push_back(metrics_at(scores, labels, t));
  BinaryMetrics best = best_f1_point(scores, labels);
  bool merged = false;
  for (auto& r : rows)
    if (r.threshold == best.threshold) r.best_f1 = merged = true;
  if (!merged) rows.push_back(best);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const BinaryMetrics& a, const BinaryMetrics& b) { return a.threshold < b.threshold; });
  return rows;
}

std::string sweep_csv(const std::vector<BinaryMetrics>& rows) {
  std::ostringstream o;
  o << "threshold,tp,fp,tn,fn,accuracy,precision,recall,sensitivity,specificity,f1,best_f1\n";
  for (const auto& r : rows)
    o << fmt(r.threshold, 6) << ',' << r.cm.tp << ',' << r.cm.fp << ',' << r.cm.tn << ',' << r.cm.fn << ','
      << fmt(r.accuracy) << ',' << fmt(r.precision) << ',' << fmt(r.recall) << ',' << fmt(r.recall) << ','
      << fmt(r.specificity) << ',' << fmt(r.f1) << ',' << (r.best_f1 ? 1 : 0) << '\n';
  return o.str();
}

std::string sweep_markdown(const std::vector<BinaryMetrics>& rows, const std::string& title) {
  std::ostringstream o;
  if (!title.empty()) o << "### " << title << "\n\n";
  o << "| threshold | TP | FP | TN | FN | accuracy | precision | sensitivity | specificity | F1 |\n"
    << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rows)
    o << "| " << fmt(r.threshold, 4) << (r.best_f1 ? " (best F1)" : "") << " | " << r.cm.tp << " | " << r.cm.fp
      << " | " << r.cm.tn << " | " << r.cm.fn << " | " << fmt(r.accuracy, 3) << " | " << fmt(r.precision, 3) << " | "
      << fmt(r.recall, 3) << " | " << fmt(r.specificity, 3) << " | " << fmt(r.f1, 3) << " |\n";
  return o.str();
}

LevelMetrics evaluate_level(const std::string& level, const std::vector<double>& scores,
                            const std::vector<int>& labels, double threshold,
                            const std::vector<double>& sweep_thresholds) {
  LevelMetrics m;
  m.level = level;
  m.at_threshold = metrics_at(scores, labels, threshold);
  m.n = int64_t(scores.size());
  m.positives = m.at_threshold.cm.tp + m.at_threshold.cm.fn;
  m.auc = roc_auc(scores, labels);
  m.ap = average_precision(scores, labels);
  m.sweep = threshold_sweep(scores, labels, sweep_thresholds);
  m.roc = roc_curve(scores, labels);
  m.pr = pr_curve(scores, labels);
  m.scores = scores;
  m.labels = labels;
  return m;
}

FrocResult froc(const std::vector<FrocCandidate>& candidates, int n_lesions, int n_volumes,
                const std::vector<double>& rates) {
  if (n_volumes <= 0) throw UsageError("froc: the number of volumes must be positive, got " + std::to_string(n_volumes));
  if (n_lesions < 0) throw UsageError("froc: negative number of lesions");
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return candidates[a].score > candidates[b].score; });
  FrocResult r;
  std::set<std::pair<int, int>> hit;
  double fp = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& c = candidates[order[k]];
    if (std::isnan(c.score)) throw UsageError("froc: candidate score is NaN");
    if (c.lesion_id >= 0) hit.insert({c.volume_id, c.lesion_id});
    else fp += 1;
    if (k + 1 == order.size() || candidates[order[k + 1]].score != c.score) {
      if (int(hit.size()) > n_lesions)
        throw UsageError("froc: candidates hit " + std::to_string(hit.size()) + " distinct lesions but n_lesions is " +
                         std::to_string(n_lesions));
      r.curve_fppv.push_back(fp / n_volumes);
      r.curve_sens.push_back(n_lesions > 0 ? double(hit.size()) / n_lesions : kNaN);
      r.curve_thresholds.push_back(c.score);
    }
  }
  double sum = 0;
  for (double rate : rates) {
    double s = n_lesions > 0 ? 0.0 : kNaN;
    for (size_t i = 0; i < r.curve_fppv.size(); ++i)
      if (r.curve_fppv[i] <= rate && r.curve_sens[i] > s) s = r.curve_sens[i];
    r.fp_rates.push_back(rate);
    r.sensitivities.push_back(s);
    sum += s;
  }
  r.mean_sensitivity = rates.empty() ? kNaN : sum / double(rates.size());
  return r;
}

}  // namespace vyolo::findings
