// Detection validation metrics as Ultralytics computes them (8.4.x, detect/val.py + utils/metrics.py): greedy IoU
// matching at IoU 0.50:0.05:0.95, AP by 101-point interpolation of the precision envelope, P/R/F1 at the confidence
// that maximises the box-filtered mean F1, and the detection confusion matrix. No LibTorch: plain std::vector.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "ops/detection.h"

namespace vyolo::eval {

constexpr int kNumIou = 10;
using Correct = std::array<bool, kNumIou>;  // a prediction is a true positive at each IoU threshold

using ops::Detection;
struct GroundTruth {  // one labelled box, pixels (same frame as the detections)
  int cls;
  float x1, y1, x2, y2;
};

// 0.50, 0.55, ..., 0.95 as float32 (torch.linspace).
const std::array<float, kNumIou>& iou_thresholds();

// IoU matrix gt x det in float32 with Ultralytics' eps 1e-7 in the denominator.
std::vector<std::vector<float>> box_iou(const std::vector<GroundTruth>& gt, const std::vector<Detection>& det);

// Ultralytics' match_predictions (non-scipy): for each threshold, pairs with IoU >= t and equal class, sorted by IoU,
// one per detection, then one per label. iou is labels x detections. Returns one row per detection.
std::vector<Correct> match_predictions(const std::vector<int>& pred_cls, const std::vector<int>& true_cls,
                                       const std::vector<std::vector<float>>& iou);

struct ClassMetrics {
  int cls = 0;
  int64_t n_gt = 0;          // labels of this class
  double tp = 0, fp = 0;     // counts at the chosen confidence (rounded as Ultralytics)
  double p = 0, r = 0, f1 = 0;
  std::array<double, kNumIou> ap{};  // AP at each IoU threshold
  double ap50() const { return ap[0]; }
  double ap50_95() const;
};

struct DetectionMetrics {
  std::vector<ClassMetrics> per_class;  // every class that has labels, ascending
  double precision = 0, recall = 0, f1 = 0, map50 = 0, map75 = 0, map50_95 = 0;
  // Ultralytics 8.4 selects `best` by mAP50-95 alone (Metric.fitness weights [0, 0, 0, 1]); 8.0-8.3 used
  // 0.1 * mAP50 + 0.9 * mAP50-95, kept as fitness_v8 for comparison with older runs.
  double fitness = 0, fitness_v8 = 0;
  double best_conf = 0;  // confidence at which p/r/f1 are read
  int64_t n_pred = 0, n_gt = 0;
  // Curves for plots, one row per entry of per_class, 1000 points each on x = linspace(0, 1, 1000):
  std::vector<double> x;
  std::vector<std::vector<double>> pr_curve;  // precision envelope at recall x (IoU 0.5); zeros for classes
                                              // without predictions
  std::vector<std::vector<double>> p_curve, r_curve, f1_curve;  // at confidence x
};

// Ultralytics' ap_per_class. tp: one row per prediction; conf, pred_cls the same length; target_cls one entry per
// label. Predictions of classes without labels do not count; a labelled class without predictions has AP 0 and
// counts in the means. Equal confidences keep their input order (numpy's argsort may order ties differently).
DetectionMetrics ap_per_class(const std::vector<Correct>& tp, const std::vector<double>& conf,
                              const std::vector<int>& pred_cls, const std::vector<int>& target_cls);

// (nc + 1) x (nc + 1) counts, rows = predicted class, columns = true class, index nc = background. Detections above
// `conf` (strictly) are matched to labels with IoU > `iou` (highest IoU first, one to one).
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int nc, double conf = 0.25, double iou = 0.45);
  void process(const std::vector<Detection>& det, const std::vector<GroundTruth>& gt);
  const std::vector<std::vector<double>>& matrix() const { return m_; }
  int nc() const { return nc_; }

 private:
  int nc_;
  double conf_, iou_;
  std::vector<std::vector<double>> m_;
};

// Collects one image at a time (predictions and labels in the same pixel frame) and computes the metrics at the end.
// Class ids must be in [0, nc); a box with another id throws vyolo::RuntimeError.
class MetricsAccumulator {
 public:
  explicit MetricsAccumulator(int nc, double cm_conf = 0.25, double cm_iou = 0.45);
  void add_image(const std::vector<Detection>& det, const std::vector<GroundTruth>& gt);
  DetectionMetrics compute() const;
  const ConfusionMatrix& confusion() const { return cm_; }
  int64_t images() const { return images_; }
  int64_t instances() const { return static_cast<int64_t>(target_cls_.size()); }

 private:
  int nc_;
  ConfusionMatrix cm_;
  std::vector<Correct> tp_;
  std::vector<double> conf_;
  std::vector<int> pred_cls_, target_cls_;
  int64_t images_ = 0;
};

}  // namespace vyolo::eval
