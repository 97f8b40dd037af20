// Validation metrics on hand-computed cases: matching, AP (101-point interpolation), best-F1 pick, confusion matrix.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include <filesystem>

#include "common/error.h"
#include "eval/detection_metrics.h"
#include "eval/plots.h"

using namespace vyolo;
using namespace vyolo::eval;

namespace {
GroundTruth gt(int cls, float x1, float y1, float x2, float y2) { return {cls, x1, y1, x2, y2}; }
Detection det(float x1, float y1, float x2, float y2, float conf, int cls) { return {x1, y1, x2, y2, conf, cls}; }
int count_true(const Correct& c) { return static_cast<int>(std::count(c.begin(), c.end(), true)); }
}  // namespace

TEST(IouThresholds, FiftyToNinetyFive) {
  const auto& t = iou_thresholds();
  EXPECT_FLOAT_EQ(t[0], 0.5f);
  EXPECT_NEAR(t[5], 0.75f, 1e-6);
  EXPECT_FLOAT_EQ(t[9], 0.95f);
}

TEST(Matching, IouDecidesHowManyThresholdsAreMet) {
  // IoU 77/100: a true positive at 0.50 ... 0.75 (6 thresholds), not from 0.80 on.
  auto iou = box_iou({gt(0, 0, 0, 10, 10)}, {det(0, 0, 10, 7.7f, 0.9f, 0)});
  EXPECT_NEAR(iou[0][0], 0.77, 1e-6);
  auto c = match_predictions({0}, {0}, iou);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(count_true(c[0]), 6);
  EXPECT_TRUE(c[0][5]);
  EXPECT_FALSE(c[0][6]);
  // Another class never matches.
  EXPECT_EQ(count_true(match_predictions({1}, {0}, iou)[0]), 0);
}

TEST(Matching, OneToOneGreedyByIou) {
  // Labels x detections. A overlaps g1 0.9 and g2 0.6; B overlaps g2 0.7.
  std::vector<std::vector<float>> iou{{0.9f, 0.0f}, {0.6f, 0.7f}};
  auto c = match_predictions({0, 0}, {0, 0}, iou);
  EXPECT_TRUE(c[0][0]);   // A -> g1 at 0.5
  EXPECT_TRUE(c[1][0]);   // B -> g2 at 0.5
  EXPECT_TRUE(c[0][5]);   // 0.75: only A -> g1
  EXPECT_FALSE(c[1][5]);
  EXPECT_TRUE(c[0][8]);   // 0.9
  EXPECT_FALSE(c[0][9]);  // 0.95
}

TEST(Matching, LabelKeepsItsEarliestDetectionAsUltralytics) {
  // One label, detection 0 (higher confidence, as NMS output is sorted) at IoU 0.6 and detection 1 at 0.9: Ultralytics
  // keeps, per label, the first detection in detection order among the pairs above the threshold.
  std::vector<std::vector<float>> iou{{0.6f, 0.9f}};
  auto c = match_predictions({0, 0}, {0}, iou);
  EXPECT_TRUE(c[0][0]);
  EXPECT_FALSE(c[1][0]);
  EXPECT_FALSE(c[0][5]);  // at 0.75 only detection 1 qualifies
  EXPECT_TRUE(c[1][5]);
}

TEST(Ap, PerfectDetectionsGiveUltralyticsMaximum) {
  // Recall reaches 1 with precision 1; the sentinel (recall 1, precision 0) makes the last of the 101 points 0, so a
  // perfect detector scores 0.995, as in Ultralytics.
  MetricsAccumulator acc(1);
  acc.add_image({det(10, 10, 50, 50, 0.9f, 0)}, {gt(0, 10, 10, 50, 50)});
  acc.add_image({det(0, 0, 20, 30, 0.8f, 0)}, {gt(0, 0, 0, 20, 30)});
  auto m = acc.compute();
  ASSERT_EQ(m.per_class.size(), 1u);
  EXPECT_NEAR(m.map50, 0.995, 1e-9);
  EXPECT_NEAR(m.map50_95, 0.995, 1e-9);
  EXPECT_NEAR(m.precision, 1.0, 1e-9);
  EXPECT_NEAR(m.recall, 1.0, 1e-9);
  EXPECT_NEAR(m.fitness, 0.995, 1e-9);
  EXPECT_NEAR(m.fitness_v8, 0.995, 1e-9);
  EXPECT_EQ(m.per_class[0].tp, 2);
  EXPECT_EQ(m.per_class[0].fp, 0);
  EXPECT_EQ(acc.instances(), 2);
  EXPECT_EQ(acc.images(), 2);
}

TEST(Ap, FalsePositiveAboveTheTruePositiveHalvesPrecision) {
  // Precision 0 then 0.5 at recall 1: envelope 0.5 over [0, 1), 0 at 1 -> 0.99 * 0.5 + 0.01 * 0.25 = 0.4975.
  MetricsAccumulator acc(1);
  acc.add_image({det(100, 100, 120, 120, 0.9f, 0), det(10, 10, 50, 50, 0.8f, 0)}, {gt(0, 10, 10, 50, 50)});
  auto m = acc.compute();
  EXPECT_NEAR(m.map50, 0.4975, 1e-9);
  EXPECT_NEAR(m.per_class[0].ap[9], 0.4975, 1e-9);
}

TEST(Ap, PrecisionDropsToZeroAfterTheLastRecallReached) {
  // One of two labels found, precision 1: 8.4.50 puts (recall 0.5, precision 0) right after the curve, and np.interp
  // takes the last of the repeated points, so the 101 points are 1 below 0.50 and 0 from 0.50 on:
  // AP = 0.49 + 0.01 / 2 = 0.495 (numpy gives the same). 8.0-8.3 interpolated on to (1, 0): 0.75.
  MetricsAccumulator acc(1);
  acc.add_image({det(10, 10, 50, 50, 0.9f, 0)}, {gt(0, 10, 10, 50, 50), gt(0, 100, 100, 140, 140)});
  auto m = acc.compute();
  EXPECT_NEAR(m.map50, 0.495, 1e-9);
  EXPECT_NEAR(m.recall, 0.5, 1e-6);
}

TEST(Ap, NoPredictionsGiveZero) {
  MetricsAccumulator acc(2);
  acc.add_image({}, {gt(0, 0, 0, 10, 10), gt(1, 5, 5, 20, 20)});
  acc.add_image({}, {});
  auto m = acc.compute();
  EXPECT_EQ(m.per_class.size(), 2u);
  EXPECT_EQ(m.map50, 0.0);
  EXPECT_EQ(m.map50_95, 0.0);
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_EQ(m.recall, 0.0);
  EXPECT_EQ(m.per_class[1].n_gt, 1);
}

TEST(Ap, OnlyFalsePositivesGiveZero) {
  MetricsAccumulator acc(1);
  acc.add_image({det(100, 100, 120, 120, 0.9f, 0), det(0, 0, 10, 4, 0.5f, 0)}, {gt(0, 0, 0, 10, 10)});  // IoU 0.4
  acc.add_image({det(0, 0, 10, 10, 0.7f, 0)}, {});
  auto m = acc.compute();
  EXPECT_EQ(m.n_pred, 3);
  EXPECT_EQ(m.map50, 0.0);
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_EQ(m.recall, 0.0);
  EXPECT_EQ(m.per_class[0].tp, 0);
}

TEST(Ap, ClassesWithoutLabelsDoNotCountAndMissedClassesDo) {
  MetricsAccumulator acc(3);
  // Class 0 perfect; class 1 only predicted (no labels: ignored); class 2 labelled, never predicted (AP 0).
  acc.add_image({det(10, 10, 50, 50, 0.9f, 0), det(60, 60, 90, 90, 0.95f, 1)},
                {gt(0, 10, 10, 50, 50), gt(2, 100, 100, 140, 140)});
  auto m = acc.compute();
  ASSERT_EQ(m.per_class.size(), 2u);
  EXPECT_EQ(m.per_class[0].cls, 0);
  EXPECT_EQ(m.per_class[1].cls, 2);
  EXPECT_NEAR(m.per_class[0].ap50(), 0.995, 1e-9);
  EXPECT_EQ(m.per_class[1].ap50(), 0.0);
  EXPECT_NEAR(m.map50, 0.4975, 1e-9);
}

TEST(Ap, BestF1ConfidenceSitsAtTheLastTruePositive) {
  // Two labels found at 0.9 and 0.8, a false positive at 0.1. F1 peaks at confidence 0.8; recall falls fast above it,
  // precision slowly below it, so the box-filtered maximum lies a little below 0.8 with recall 1.
  MetricsAccumulator acc(1);
  acc.add_image({det(0, 0, 10, 10, 0.9f, 0), det(20, 20, 30, 30, 0.8f, 0), det(50, 50, 60, 60, 0.1f, 0)},
                {gt(0, 0, 0, 10, 10), gt(0, 20, 20, 30, 30)});
  auto m = acc.compute();
  EXPECT_GT(m.best_conf, 0.7);
  EXPECT_LE(m.best_conf, 0.8);
  EXPECT_NEAR(m.recall, 1.0, 1e-9);
  EXPECT_GT(m.precision, 0.95);
  // Precision interpolates linearly between (0.8, 1) and (0.1, 2/3).
  EXPECT_NEAR(m.precision, 1.0 - (1.0 / 3) * (0.8 - m.best_conf) / 0.7, 1e-6);
  EXPECT_EQ(m.per_class[0].tp, 2);
  EXPECT_EQ(m.per_class[0].fp, 0);
  ASSERT_EQ(m.f1_curve.size(), 1u);
  EXPECT_EQ(m.f1_curve[0].size(), 1000u);
  EXPECT_EQ(m.x.size(), 1000u);
}

TEST(ConfusionMatrixTest, CountsMatchesConfusionsAndBackground) {
  ConfusionMatrix cm(2);
  cm.process({det(0, 0, 10, 10, 0.9f, 0),      // matches label 0: correct
              det(20, 20, 30, 30, 0.8f, 0),    // on the class-1 label: confused
              det(50, 50, 60, 60, 0.7f, 1),    // nothing there: background false positive
              det(0, 0, 10, 10, 0.1f, 1)},     // below conf 0.25: ignored
             {gt(0, 0, 0, 10, 10), gt(1, 20, 20, 30, 30)});
  cm.process({}, {gt(1, 0, 0, 10, 10)});        // missed
  cm.process({det(0, 0, 5, 5, 0.5f, 0)}, {});   // image without labels
  const auto& m = cm.matrix();
  EXPECT_EQ(m[0][0], 1);
  EXPECT_EQ(m[0][1], 1);
  EXPECT_EQ(m[1][2], 1);
  EXPECT_EQ(m[2][1], 1);
  EXPECT_EQ(m[0][2], 1);
  double total = 0;
  for (auto& r : m)
    for (double v : r) total += v;
  EXPECT_EQ(total, 5);
}

TEST(Accumulator, RejectsClassOutOfRange) {
  MetricsAccumulator acc(1);
  EXPECT_THROW(acc.add_image({det(0, 0, 1, 1, 0.5f, 3)}, {}), RuntimeError);
  EXPECT_THROW(acc.add_image({}, {gt(-1, 0, 0, 1, 1)}), RuntimeError);
}

TEST(Plots, WritePngs) {
  MetricsAccumulator acc(2);
  acc.add_image({det(0, 0, 10, 10, 0.9f, 0), det(20, 20, 30, 30, 0.6f, 1), det(40, 40, 50, 50, 0.3f, 1)},
                {gt(0, 0, 0, 10, 10), gt(1, 20, 20, 30, 30)});
  auto m = acc.compute();
  auto dir = std::filesystem::temp_directory_path() / "vyolo_eval_plots";
  std::filesystem::remove_all(dir);
  plot_pr_curve(m, {"fracture", "other"}, (dir / "PR_curve.png").string());
  plot_f1_curve(m, {"fracture", "other"}, (dir / "F1_curve.png").string());
  plot_confusion_matrix(acc.confusion(), {"fracture", "other"}, (dir / "confusion_matrix_normalized.png").string());
  for (const char* f : {"PR_curve.png", "F1_curve.png", "confusion_matrix_normalized.png"}) {
    cv::Mat img = cv::imread((dir / f).string());
    ASSERT_FALSE(img.empty()) << f;
    EXPECT_GT(img.cols, 300);
    // Not a blank canvas.
    cv::Mat grey;
    cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
    double lo, hi;
    cv::minMaxLoc(grey, &lo, &hi);
    EXPECT_LT(lo, 100) << f;
  }
  std::filesystem::remove_all(dir);
}
