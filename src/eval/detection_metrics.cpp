#include "eval/detection_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "common/error.h"
#include "ops/box_iou.h"

namespace vyolo::eval {

namespace {

// numpy.interp for increasing xp (ties allowed): left/right outside, linear inside, fp[j] of the last xp[j] <= x.
double interp(double x, const std::vector<double>& xp, const std::vector<double>& fp, double left, double right) {
  const size_t n = xp.size();
  if (n == 0) return 0;
  if (x < xp[0]) return left;
  if (x > xp[n - 1]) return right;
  if (x == xp[n - 1]) return fp[n - 1];
  const size_t j = static_cast<size_t>(std::upper_bound(xp.begin(), xp.end(), x) - xp.begin()) - 1;
  if (xp[j] == x) return fp[j];  // as np.interp: no slope across repeated points
  const double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  return slope * (x - xp[j]) + fp[j];
}

std::vector<double> linspace(double a, double b, int n) {
  std::vector<double> v(n);
  const double step = (b - a) / (n - 1);
  for (int i = 0; i < n; ++i) v[i] = a + i * step;
  v[n - 1] = b;
  return v;
}

// Ultralytics' smooth(): box filter of fraction f with edge padding.
std::vector<double> smooth(const std::vector<double>& y, double f) {
  const int n = static_cast<int>(y.size());
  const int nf = static_cast<int>(std::lround(n * f * 2)) / 2 + 1;
  const int pad = nf / 2;
  std::vector<double> out(n);
  for (int i = 0; i < n; ++i) {
    double s = 0;
    for (int k = i - pad; k <= i + pad; ++k) s += y[std::clamp(k, 0, n - 1)];
    out[i] = s / nf;
  }
  return out;
}

// AP of one recall/precision curve (8.4.50's compute_ap): sentinels, precision envelope, 101-point interpolation, trapezoid rule.
double compute_ap(const std::vector<double>& recall, const std::vector<double>& precision,
                  std::vector<double>* mrec_out = nullptr, std::vector<double>* mpre_out = nullptr) {
  std::vector<double> mrec{0.0}, mpre{1.0};
  mrec.insert(mrec.end(), recall.begin(), recall.end());
  mpre.insert(mpre.end(), precision.begin(), precision.end());
  // 8.4's sentinels: precision drops to 0 right after the last recall reached, then (1, 0); 8.0-8.3 interpolated
  // linearly from the last point to (1, 0), which credits recall never reached (0.005 mAP50-95 on real X-rays).
  mrec.push_back(recall.empty() ? 1.0 : recall.back());
  mpre.push_back(0.0);
  mrec.push_back(1.0);
  mpre.push_back(0.0);
  for (size_t i = mpre.size() - 1; i-- > 0;) mpre[i] = std::max(mpre[i], mpre[i + 1]);
  const std::vector<double> x = linspace(0, 1, 101);
  double ap = 0, prev = interp(x[0], mrec, mpre, mpre.front(), mpre.back());
  for (size_t k = 1; k < x.size(); ++k) {
    const double cur = interp(x[k], mrec, mpre, mpre.front(), mpre.back());
    ap += (x[k] - x[k - 1]) * (prev + cur) / 2.0;
    prev = cur;
  }
  if (mrec_out) *mrec_out = std::move(mrec);
  if (mpre_out) *mpre_out = std::move(mpre);
  return ap;
}

void check_class(int cls, int nc, const char* what) {
  if (cls < 0 || cls >= nc)
    throw RuntimeError(std::string("metrics: ") + what + " class " + std::to_string(cls) + " outside 0.." +
                       std::to_string(nc - 1));
}

}  // namespace

const std::array<float, kNumIou>& iou_thresholds() {
  static const std::array<float, kNumIou> t = [] {
    std::array<float, kNumIou> v{};
    const float start = 0.5f, end = 0.95f;
    const float step = (end - start) / static_cast<float>(kNumIou - 1);
    for (int i = 0; i < kNumIou; ++i)
      v[i] = i < kNumIou / 2 ? start + step * static_cast<float>(i)
                             : end - step * static_cast<float>(kNumIou - i - 1);
    return v;
  }();
  return t;
}

std::vector<std::vector<float>> box_iou(const std::vector<GroundTruth>& gt, const std::vector<Detection>& det) {
  std::vector<std::vector<float>> iou(gt.size(), std::vector<float>(det.size(), 0.0f));
  for (size_t i = 0; i < gt.size(); ++i) {
    const auto& a = gt[i];
    for (size_t j = 0; j < det.size(); ++j) {
      const auto& b = det[j];
      iou[i][j] = ops::box_iou(a.x1, a.y1, a.x2, a.y2, b.x1, b.y1, b.x2, b.y2, 1e-7f);
    }
  }
  return iou;
}

std::vector<Correct> match_predictions(const std::vector<int>& pred_cls, const std::vector<int>& true_cls,
                                       const std::vector<std::vector<float>>& iou) {
  const size_t nd = pred_cls.size(), nl = true_cls.size();
  std::vector<Correct> correct(nd, Correct{});
  struct Pair {
    size_t l, d;
    float iou;
  };
  for (int t = 0; t < kNumIou; ++t) {
    const float thr = iou_thresholds()[t];
    std::vector<Pair> m;  // row-major order, as np.nonzero
    for (size_t l = 0; l < nl; ++l)
      for (size_t d = 0; d < nd; ++d) {
        const float v = true_cls[l] == pred_cls[d] ? iou[l][d] : 0.0f;
        if (v >= thr) m.push_back({l, d, v});
      }
    if (m.size() > 1) {
      // IoU descending (reverse of an ascending stable sort, as argsort()[::-1]); then the first pair of every
      // detection, ordered by detection; then the first pair of every label in that order.
      std::stable_sort(m.begin(), m.end(), [](const Pair& a, const Pair& b) { return a.iou < b.iou; });
      std::reverse(m.begin(), m.end());
      std::vector<Pair> by_det;
      std::vector<bool> seen_d(nd, false);
      for (const auto& p : m)
        if (!seen_d[p.d]) seen_d[p.d] = true, by_det.push_back(p);
      std::sort(by_det.begin(), by_det.end(), [](const Pair& a, const Pair& b) { return a.d < b.d; });
      std::vector<Pair> by_label;
      std::vector<bool> seen_l(nl, false);
      for (const auto& p : by_det)
        if (!seen_l[p.l]) seen_l[p.l] = true, by_label.push_back(p);
      m = std::move(by_label);
    }
    for (const auto& p : m) correct[p.d][t] = true;
  }
  return correct;
}

double ClassMetrics::ap50_95() const {
  return std::accumulate(ap.begin(), ap.end(), 0.0) / kNumIou;
}

DetectionMetrics ap_per_class(const std::vector<Correct>& tp, const std::vector<double>& conf,
                              const std::vector<int>& pred_cls, const std::vector<int>& target_cls) {
  if (tp.size() != conf.size() || tp.size() != pred_cls.size())
    throw RuntimeError("ap_per_class: tp, conf and pred_cls differ in length");
  constexpr int kPoints = 1000;
  constexpr double eps = 1e-16;
  DetectionMetrics out;
  out.x = linspace(0, 1, kPoints);
  out.n_pred = static_cast<int64_t>(tp.size());
  out.n_gt = static_cast<int64_t>(target_cls.size());

  std::vector<int> classes = target_cls;
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  const size_t nc = classes.size();
  out.per_class.resize(nc);
  out.pr_curve.assign(nc, std::vector<double>(kPoints, 0.0));
  out.p_curve.assign(nc, std::vector<double>(kPoints, 0.0));
  out.r_curve.assign(nc, std::vector<double>(kPoints, 0.0));
  out.f1_curve.assign(nc, std::vector<double>(kPoints, 0.0));
  for (size_t ci = 0; ci < nc; ++ci) {
    out.per_class[ci].cls = classes[ci];
    out.per_class[ci].n_gt = std::count(target_cls.begin(), target_cls.end(), classes[ci]);
  }
  if (nc == 0) return out;

  // Predictions by descending confidence (stable, so equal scores keep their order).
  std::vector<size_t> order(tp.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return conf[a] > conf[b]; });

  for (size_t ci = 0; ci < nc; ++ci) {
    ClassMetrics& cm = out.per_class[ci];
    std::vector<size_t> idx;
    for (size_t k : order)
      if (pred_cls[k] == cm.cls) idx.push_back(k);
    const double n_l = static_cast<double>(cm.n_gt);
    if (idx.empty()) continue;

    std::vector<double> neg_conf(idx.size());
    for (size_t k = 0; k < idx.size(); ++k) neg_conf[k] = -conf[idx[k]];
    for (int t = 0; t < kNumIou; ++t) {
      std::vector<double> recall(idx.size()), precision(idx.size());
      double tpc = 0, fpc = 0;
      for (size_t k = 0; k < idx.size(); ++k) {
        if (tp[idx[k]][t]) tpc += 1; else fpc += 1;
        recall[k] = tpc / (n_l + eps);
        precision[k] = tpc / (tpc + fpc);
      }
      if (t == 0) {
        for (int i = 0; i < kPoints; ++i) {
          out.r_curve[ci][i] = interp(-out.x[i], neg_conf, recall, 0.0, recall.back());
          out.p_curve[ci][i] = interp(-out.x[i], neg_conf, precision, 1.0, precision.back());
        }
        std::vector<double> mrec, mpre;
        cm.ap[0] = compute_ap(recall, precision, &mrec, &mpre);
        for (int i = 0; i < kPoints; ++i) out.pr_curve[ci][i] = interp(out.x[i], mrec, mpre, mpre.front(), mpre.back());
      } else {
        cm.ap[t] = compute_ap(recall, precision);
      }
    }
  }

  std::vector<double> mean_f1(kPoints, 0.0);
  for (size_t ci = 0; ci < nc; ++ci)
    for (int i = 0; i < kPoints; ++i) {
      const double p = out.p_curve[ci][i], r = out.r_curve[ci][i];
      out.f1_curve[ci][i] = 2 * p * r / (p + r + eps);
      mean_f1[i] += out.f1_curve[ci][i] / static_cast<double>(nc);
    }
  const std::vector<double> sm = smooth(mean_f1, 0.1);
  const int best = static_cast<int>(std::max_element(sm.begin(), sm.end()) - sm.begin());
  out.best_conf = out.x[best];

  for (size_t ci = 0; ci < nc; ++ci) {
    ClassMetrics& cm = out.per_class[ci];
    cm.p = out.p_curve[ci][best];
    cm.r = out.r_curve[ci][best];
    cm.f1 = out.f1_curve[ci][best];
    cm.tp = std::round(cm.r * static_cast<double>(cm.n_gt));
    cm.fp = std::round(cm.tp / (cm.p + eps) - cm.tp);
    out.precision += cm.p / nc;
    out.recall += cm.r / nc;
    out.f1 += cm.f1 / nc;
    out.map50 += cm.ap[0] / nc;
    out.map75 += cm.ap[5] / nc;
    out.map50_95 += cm.ap50_95() / nc;
  }
  out.fitness = out.map50_95;
  out.fitness_v8 = 0.1 * out.map50 + 0.9 * out.map50_95;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------

ConfusionMatrix::ConfusionMatrix(int nc, double conf, double iou)
    : nc_(nc), conf_(conf), iou_(iou), m_(nc + 1, std::vector<double>(nc + 1, 0.0)) {
  if (nc < 1) throw RuntimeError("ConfusionMatrix: nc must be >= 1");
}

void ConfusionMatrix::process(const std::vector<Detection>& det_all, const std::vector<GroundTruth>& gt) {
  std::vector<Detection> det;
  for (const auto& d : det_all)
    if (d.conf > conf_) det.push_back(d);
  for (const auto& d : det) check_class(d.cls, nc_, "detection");
  for (const auto& g : gt) check_class(g.cls, nc_, "label");
  if (gt.empty()) {
    for (const auto& d : det) m_[d.cls][nc_] += 1;  // false positive
    return;
  }
  struct Pair {
    size_t g, d;
    float iou;
  };
  const auto iou = box_iou(gt, det);
  std::vector<Pair> m;
  for (size_t g = 0; g < gt.size(); ++g)
    for (size_t d = 0; d < det.size(); ++d)
      if (iou[g][d] > iou_) m.push_back({g, d, iou[g][d]});
  if (m.size() > 1) {
    auto by_iou_desc = [](std::vector<Pair>& v) {
      std::stable_sort(v.begin(), v.end(), [](const Pair& a, const Pair& b) { return a.iou < b.iou; });
      std::reverse(v.begin(), v.end());
    };
    by_iou_desc(m);
    std::vector<Pair> u;
    std::vector<bool> seen_d(det.size(), false);
    for (const auto& p : m)
      if (!seen_d[p.d]) seen_d[p.d] = true, u.push_back(p);
    std::sort(u.begin(), u.end(), [](const Pair& a, const Pair& b) { return a.d < b.d; });
    by_iou_desc(u);
    std::vector<Pair> v;
    std::vector<bool> seen_g(gt.size(), false);
    for (const auto& p : u)
      if (!seen_g[p.g]) seen_g[p.g] = true, v.push_back(p);
    m = std::move(v);
  }
  std::vector<int> det_of_gt(gt.size(), -1);
  std::vector<bool> det_matched(det.size(), false);
  for (const auto& p : m) {
    det_of_gt[p.g] = static_cast<int>(p.d);
    det_matched[p.d] = true;
  }
  for (size_t g = 0; g < gt.size(); ++g) {
    if (det_of_gt[g] >= 0)
      m_[det[det_of_gt[g]].cls][gt[g].cls] += 1;  // matched (right or wrong class)
    else
      m_[nc_][gt[g].cls] += 1;  // missed: background
  }
  for (size_t d = 0; d < det.size(); ++d)
    if (!det_matched[d]) m_[det[d].cls][nc_] += 1;  // unmatched detection: background false positive
}

// ---------------------------------------------------------------------------------------------------------------------

MetricsAccumulator::MetricsAccumulator(int nc, double cm_conf, double cm_iou) : nc_(nc), cm_(nc, cm_conf, cm_iou) {}

void MetricsAccumulator::add_image(const std::vector<Detection>& det, const std::vector<GroundTruth>& gt) {
  for (const auto& d : det) check_class(d.cls, nc_, "detection");
  for (const auto& g : gt) check_class(g.cls, nc_, "label");
  ++images_;
  cm_.process(det, gt);
  for (const auto& g : gt) target_cls_.push_back(g.cls);
  if (det.empty()) return;
  std::vector<int> pc, tc;
  for (const auto& d : det) pc.push_back(d.cls);
  for (const auto& g : gt) tc.push_back(g.cls);
  std::vector<Correct> correct =
      gt.empty() ? std::vector<Correct>(det.size(), Correct{}) : match_predictions(pc, tc, box_iou(gt, det));
  for (size_t k = 0; k < det.size(); ++k) {
    tp_.push_back(correct[k]);
    conf_.push_back(det[k].conf);
    pred_cls_.push_back(det[k].cls);
  }
}

DetectionMetrics MetricsAccumulator::compute() const { return ap_per_class(tp_, conf_, pred_cls_, target_cls_); }

}  // namespace vyolo::eval
