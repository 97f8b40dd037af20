#include "findings/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.h"

namespace vyolo::findings {

using json = nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double logit(double s) {
  s = std::min(std::max(s, 1e-6), 1 - 1e-6);
  return std::log(s / (1 - s));
}

void check(const std::vector<double>& scores, const std::vector<int>& labels, const char* what) {
  if (scores.size() != labels.size())
    throw UsageError(std::string(what) + ": " + std::to_string(scores.size()) + " scores but " +
                     std::to_string(labels.size()) + " labels");
  for (size_t i = 0; i < scores.size(); ++i)
    if (!std::isfinite(scores[i]) || (labels[i] != 0 && labels[i] != 1))
      throw UsageError(std::string(what) + ": bad score or label at index " + std::to_string(i));
}

}  // namespace

double Calibration::apply(double s) const {
  if (method == "platt") return 1 / (1 + std::exp(-(a * logit(s) + b)));
  if (method == "isotonic" && !x.empty()) {
    if (s <= x.front()) return y.front();
    if (s >= x.back()) return y.back();
    const size_t i = std::upper_bound(x.begin(), x.end(), s) - x.begin();  // x[i-1] <= s < x[i]
    const double t = (s - x[i - 1]) / (x[i] - x[i - 1]);
    return y[i - 1] + t * (y[i] - y[i - 1]);
  }
  return s;
}

void calibrate_findings(StudyFindings& f, const Calibration& c) {
  for (auto& v : f.vertebrae) v.probability = c.apply(v.score);
  f.patient_probability = c.apply(f.patient_score);
}

Calibration fit_platt(const std::vector<double>& scores, const std::vector<int>& labels) {
  check(scores, labels, "platt");
  double np = 0, nn = 0;
  for (int l : labels) (l ? np : nn) += 1;
  if (np == 0 || nn == 0) throw RuntimeError("platt: the validation set needs fractured and intact vertebrae");
  const double tp = (np + 1) / (np + 2), tn = 1 / (nn + 2);
  std::vector<double> f(scores.size()), t(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    f[i] = logit(scores[i]);
    t[i] = labels[i] ? tp : tn;
  }
  // Newton's method with backtracking on the log loss of p = sigmoid(a f + b) (Lin, Lin & Weng's formulation).
  auto loss = [&](double a, double b) {
    double L = 0;
    for (size_t i = 0; i < f.size(); ++i) {
      const double z = a * f[i] + b;  // log(1 + e^z) - t z, stable
      L += (z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z))) - t[i] * z;
    }
    return L;
  };
  double a = 1, b = 0, L = loss(a, b);
  for (int it = 0; it < 100; ++it) {
    double ga = 0, gb = 0, haa = 1e-12, hab = 0, hbb = 1e-12;
    for (size_t i = 0; i < f.size(); ++i) {
      const double p = 1 / (1 + std::exp(-(a * f[i] + b))), d = p - t[i], w = p * (1 - p);
      ga += d * f[i];
      gb += d;
      haa += w * f[i] * f[i];
      hab += w * f[i];
      hbb += w;
    }
    if (std::abs(ga) < 1e-9 && std::abs(gb) < 1e-9) break;
    const double det = haa * hbb - hab * hab;
    double da = -(hbb * ga - hab * gb) / det, db = -(haa * gb - hab * ga) / det;
    double step = 1;
    for (; step > 1e-10; step /= 2) {
      const double Ln = loss(a + step * da, b + step * db);
      if (Ln < L + 1e-4 * step * (ga * da + gb * db)) {
        a += step * da;
        b += step * db;
        L = Ln;
        break;
      }
    }
    if (step <= 1e-10) break;
  }
  if (!(a > 0) || !std::isfinite(b))
    throw RuntimeError("platt: the fit reverses the ranking of the scores (a = " + std::to_string(a) +
                       "); the validation scores do not separate fractured from intact vertebrae");
  Calibration c;
  c.method = "platt";
  c.a = a;
  c.b = b;
  return c;
}

Calibration fit_isotonic(const std::vector<double>& scores, const std::vector<int>& labels) {
  check(scores, labels, "isotonic");
  if (scores.empty()) throw RuntimeError("isotonic: no validation scores");
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return scores[i] < scores[j]; });
  struct Block {
    double x_lo, x_hi, sum, n;
  };
  std::vector<Block> blocks;
  for (size_t k = 0; k < order.size(); ++k) {
    const double s = scores[order[k]], l = labels[order[k]];
    if (!blocks.empty() && blocks.back().x_hi == s) {  // tied scores form one block
      blocks.back().sum += l;
      blocks.back().n += 1;
    } else {
      blocks.push_back({s, s, l, 1});
    }
    while (blocks.size() > 1) {  // pool adjacent violators
      Block& q = blocks[blocks.size() - 2];
      const Block& r = blocks.back();
      if (q.sum / q.n < r.sum / r.n) break;
      q = {q.x_lo, r.x_hi, q.sum + r.sum, q.n + r.n};
      blocks.pop_back();
    }
  }
  Calibration c;
  c.method = "isotonic";
  for (const Block& bl : blocks) {  // each block a flat segment from its lowest to its highest score
    c.x.push_back(bl.x_lo);
    c.y.push_back(bl.sum / bl.n);
    if (bl.x_hi > bl.x_lo) {
      c.x.push_back(bl.x_hi);
      c.y.push_back(bl.sum / bl.n);
    }
  }
  return c;
}

Calibration fit_calibration(const std::string& method, const std::vector<double>& scores,
                            const std::vector<int>& labels) {
  if (method == "none") return {};
  if (method == "platt") return fit_platt(scores, labels);
  if (method == "isotonic") return fit_isotonic(scores, labels);
  throw UsageError("calibration=" + method + ": expected none | platt | isotonic");
}

double brier_score(const std::vector<double>& probs, const std::vector<int>& labels) {
  check(probs, labels, "brier");
  if (probs.empty()) return kNaN;
  double s = 0;
  for (size_t i = 0; i < probs.size(); ++i) s += (probs[i] - labels[i]) * (probs[i] - labels[i]);
  return s / double(probs.size());
}

std::vector<ReliabilityBin> reliability_table(const std::vector<double>& probs, const std::vector<int>& labels,
                                              int bins) {
  check(probs, labels, "reliability");
  bins = std::max(1, bins);
  std::vector<ReliabilityBin> out(bins);
  std::vector<double> sp(bins, 0), sl(bins, 0);
  for (int k = 0; k < bins; ++k) out[k].lo = double(k) / bins, out[k].hi = double(k + 1) / bins;
  for (size_t i = 0; i < probs.size(); ++i) {
    const int k = std::min(bins - 1, std::max(0, int(probs[i] * bins)));
    ++out[k].n;
    sp[k] += probs[i];
    sl[k] += labels[i];
  }
  for (int k = 0; k < bins; ++k) {
    out[k].mean_probability = out[k].n ? sp[k] / out[k].n : kNaN;
    out[k].fraction_positive = out[k].n ? sl[k] / out[k].n : kNaN;
  }
  return out;
}

json calibration_json(const Calibration& c) {
  json j = {{"method", c.method}};
  if (c.method == "platt") j["a"] = c.a, j["b"] = c.b;
  if (c.method == "isotonic") j["x"] = c.x, j["y"] = c.y;
  return j;
}

Calibration calibration_from_json(const json& j, const std::string& origin) {
  try {
    Calibration c;
    c.method = j.at("method").get<std::string>();
    if (c.method == "platt") {
      c.a = j.at("a").get<double>();
      c.b = j.at("b").get<double>();
      if (!(c.a > 0) || !std::isfinite(c.a) || !std::isfinite(c.b)) throw std::runtime_error("bad a or b");
    } else if (c.method == "isotonic") {
      c.x = j.at("x").get<std::vector<double>>();
      c.y = j.at("y").get<std::vector<double>>();
      if (c.x.empty() || c.x.size() != c.y.size()) throw std::runtime_error("x and y differ in length");
      for (size_t i = 0; i < c.x.size(); ++i)
        if (!std::isfinite(c.x[i]) || !std::isfinite(c.y[i]) || (i && (c.x[i] < c.x[i - 1] || c.y[i] < c.y[i - 1])))
          throw std::runtime_error("knots are not increasing");
    } else if (c.method != "none") {
      throw std::runtime_error("unknown method '" + c.method + "'");
    }
    return c;
  } catch (const std::exception& e) {
    throw RuntimeError(origin + ": calibration metadata is malformed (" + e.what() + ")");
  }
}

}  // namespace vyolo::findings
