// Metric functions against hand-computed confusion matrices, ROC curves (ties), AP, degenerate sets and FROC.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "findings/clinical_metrics.h"

using namespace vyolo::findings;

TEST(ClinicalMetrics, ConfusionAndRatiosByHand) {
  const std::vector<double> s{0.9, 0.8, 0.7, 0.6, 0.55, 0.4};
  const std::vector<int> y{1, 0, 1, 1, 0, 0};
  BinaryMetrics m = metrics_at(s, y, 0.6);  // >= 0.6 positive: 0.9(1) 0.8(0) 0.7(1) 0.6(1)
  EXPECT_EQ(m.cm.tp, 3);
  EXPECT_EQ(m.cm.fp, 1);
  EXPECT_EQ(m.cm.tn, 2);
  EXPECT_EQ(m.cm.fn, 0);
  EXPECT_DOUBLE_EQ(m.accuracy, 5.0 / 6);
  EXPECT_DOUBLE_EQ(m.precision, 0.75);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_DOUBLE_EQ(m.specificity, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.f1, 6.0 / 7);
  m = metrics_at(s, y, 0.75);  // 0.9(1) 0.8(0): TP 1 FP 1 FN 2 TN 2
  EXPECT_EQ(m.cm.tp, 1);
  EXPECT_EQ(m.cm.fn, 2);
  EXPECT_DOUBLE_EQ(m.f1, 2.0 / (2 + 1 + 2));
}

TEST(ClinicalMetrics, RocMatchesSklearnExample) {
  // sklearn's roc_curve docstring example: y = [0, 0, 1, 1], scores = [0.1, 0.4, 0.35, 0.8] -> AUC 0.75.
  RocCurve r = roc_curve({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1});
  const std::vector<double> fpr{0, 0, 0.5, 0.5, 1}, tpr{0, 0.5, 0.5, 1, 1};
  ASSERT_EQ(r.fpr.size(), fpr.size());
  for (size_t i = 0; i < fpr.size(); ++i) {
    EXPECT_DOUBLE_EQ(r.fpr[i], fpr[i]) << i;
    EXPECT_DOUBLE_EQ(r.tpr[i], tpr[i]) << i;
  }
  EXPECT_TRUE(std::isinf(r.thresholds[0]));
  EXPECT_DOUBLE_EQ(r.thresholds[1], 0.8);
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}), 0.75);
}

TEST(ClinicalMetrics, TiedScoresFormOneStep) {
  // P = 3, N = 2. Groups: 0.9 {1}, 0.6 {1, 0}, 0.3 {0, 1}.
  const std::vector<double> s{0.9, 0.6, 0.6, 0.3, 0.3};
  const std::vector<int> y{1, 1, 0, 0, 1};
  RocCurve r = roc_curve(s, y);
  const std::vector<double> fpr{0, 0, 0.5, 1}, tpr{0, 1.0 / 3, 2.0 / 3, 1};
  ASSERT_EQ(r.fpr.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(r.fpr[i], fpr[i]);
    EXPECT_DOUBLE_EQ(r.tpr[i], tpr[i]);
  }
  // Trapezoids: 0 + 0.5*(1/3+2/3)/2 + 0.5*(2/3+1)/2 = 2/3 (= Mann-Whitney with ties counted 1/2: 4 of 6 pairs).
  EXPECT_NEAR(roc_auc(s, y), 2.0 / 3, 1e-12);
  // AP = (1/3)*1 + (1/3)*(2/3) + (1/3)*(3/5).
  EXPECT_NEAR(average_precision(s, y), 1.0 / 3 + 2.0 / 9 + 1.0 / 5, 1e-12);
  // All scores tied: one step from (0,0) to (1,1).
  EXPECT_DOUBLE_EQ(roc_auc({0.5, 0.5, 0.5, 0.5}, {1, 0, 1, 0}), 0.5);
  EXPECT_EQ(roc_curve({0.5, 0.5, 0.5, 0.5}, {1, 0, 1, 0}).fpr.size(), 2u);
}

TEST(ClinicalMetrics, PerfectAndInvertedRankings) {
  EXPECT_DOUBLE_EQ(roc_auc({0.9, 0.8, 0.2, 0.1}, {1, 1, 0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.2, 0.8, 0.9}, {1, 1, 0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(average_precision({0.9, 0.8, 0.2, 0.1}, {1, 1, 0, 0}), 1.0);
}

TEST(ClinicalMetrics, AllNegativeSetIsDefined) {
  const std::vector<double> s{0.2, 0.7, 0.1};
  const std::vector<int> y{0, 0, 0};
  EXPECT_TRUE(std::isnan(roc_auc(s, y)));
  EXPECT_TRUE(std::isnan(average_precision(s, y)));
  BinaryMetrics m = metrics_at(s, y, 0.5);
  EXPECT_EQ(m.cm.fp, 1);
  EXPECT_EQ(m.cm.tn, 2);
  EXPECT_DOUBLE_EQ(m.recall, 0.0);  // zero_division = 0
  EXPECT_DOUBLE_EQ(m.precision, 0.0);
  EXPECT_DOUBLE_EQ(m.specificity, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.accuracy, 2.0 / 3);
  LevelMetrics l = evaluate_level("vertebra", s, y);
  EXPECT_EQ(l.positives, 0);
  EXPECT_TRUE(l.pr.recall.empty());
  EXPECT_FALSE(l.sweep.empty());
}

TEST(ClinicalMetrics, AllPositiveSetIsDefined) {
  const std::vector<double> s{0.2, 0.7, 0.9};
  const std::vector<int> y{1, 1, 1};
  EXPECT_TRUE(std::isnan(roc_auc(s, y)));
  EXPECT_DOUBLE_EQ(average_precision(s, y), 1.0);
  BinaryMetrics m = metrics_at(s, y, 0.5);
  EXPECT_EQ(m.cm.tp, 2);
  EXPECT_EQ(m.cm.fn, 1);
  EXPECT_DOUBLE_EQ(m.specificity, 0.0);
  EXPECT_DOUBLE_EQ(m.recall, 2.0 / 3);
}

TEST(ClinicalMetrics, EmptySetAndBadInput) {
  EXPECT_TRUE(std::isnan(roc_auc({}, {})));
  EXPECT_EQ(metrics_at({}, {}, 0.5).accuracy, 0.0);
  EXPECT_NO_THROW(threshold_sweep({}, {}));
  EXPECT_THROW(metrics_at({0.1, 0.2}, {1}, 0.5), vyolo::UsageError);
  EXPECT_THROW(metrics_at({0.1}, {2}, 0.5), vyolo::UsageError);
}

TEST(ClinicalMetrics, SweepAddsBestF1Point) {
  const std::vector<double> s{0.9, 0.8, 0.7, 0.6, 0.55, 0.4};
  const std::vector<int> y{1, 0, 1, 1, 0, 0};
  BinaryMetrics best = best_f1_point(s, y);
  EXPECT_DOUBLE_EQ(best.threshold, 0.6);  // F1 6/7, the highest of all cuts
  EXPECT_DOUBLE_EQ(best.f1, 6.0 / 7);
  auto rows = threshold_sweep(s, y);
  ASSERT_EQ(rows.size(), 6u);  // 5 defaults + best
  int flagged = 0;
  for (size_t i = 0; i + 1 < rows.size(); ++i) EXPECT_LT(rows[i].threshold, rows[i + 1].threshold);
  for (const auto& r : rows) flagged += r.best_f1;
  EXPECT_EQ(flagged, 1);
  // A best point equal to a default threshold is merged into that row.
  auto merged = threshold_sweep({0.5, 0.1}, {1, 0});
  EXPECT_EQ(merged.size(), 5u);
  std::string csv = sweep_csv(rows);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7);
  EXPECT_NE(csv.find("0.600000,3,1,2,0,0.8333,0.7500,1.0000,1.0000,0.6667,0.8571,1"), std::string::npos) << csv;
  std::string md = sweep_markdown(rows, "vertebra");
  EXPECT_NE(md.find("(best F1)"), std::string::npos);
  EXPECT_NE(md.find("|---:|"), std::string::npos);
}

TEST(ClinicalMetrics, FrocOnConstructedCase) {
  // 2 volumes, 3 lesions. Volume 0: lesion 1 hit twice, lesion 2 once, one FP. Volume 1: lesion 1 (another one), 3 FPs.
  std::vector<FrocCandidate> c{{0.9, 0, 1}, {0.8, 0, -1}, {0.7, 0, 1}, {0.6, 0, 2},
                               {0.95, 1, -1}, {0.5, 1, 1}, {0.4, 1, -1}, {0.3, 1, -1}};
  FrocResult r = froc(c, 3, 2);
  // Cumulative (FP/vol, sens): .95 (.5,0) .9 (.5,1/3) .8 (1,1/3) .7 (1,1/3) .6 (1,2/3) .5 (1,1) .4 (1.5,1) .3 (2,1)
  ASSERT_EQ(r.curve_fppv.size(), 8u);
  EXPECT_DOUBLE_EQ(r.curve_fppv[0], 0.5);
  EXPECT_DOUBLE_EQ(r.curve_sens[5], 1.0);
  const std::vector<double> want{0, 0, 1.0 / 3, 1, 1, 1, 1};
  ASSERT_EQ(r.sensitivities.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(r.sensitivities[i], want[i], 1e-12) << r.fp_rates[i];
  EXPECT_NEAR(r.mean_sensitivity, (1.0 / 3 + 4) / 7, 1e-12);
  EXPECT_TRUE(std::isnan(froc({{0.5, 0, -1}}, 0, 1).sensitivities[0]));
  EXPECT_THROW(froc(c, 3, 0), vyolo::UsageError);
  EXPECT_THROW(froc(c, 2, 2), vyolo::UsageError);  // hits 3 distinct lesions
}

TEST(ClinicalMetrics, AucEqualsMannWhitneyAndBestF1IsTheMaximumOnRandomTiedData) {
  // Independent formulas: AUC = P(score_pos > score_neg) + 0.5 P(tie); best F1 = max over every cut.
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> s;
    std::vector<int> y;
    for (int i = 0; i < 60; ++i) {
      y.push_back(int(next() % 3 == 0));
      s.push_back(double(next() % 11) / 10.0);  // 11 levels: many ties
    }
    double wins = 0, pairs = 0;
    for (size_t i = 0; i < s.size(); ++i)
      for (size_t j = 0; j < s.size(); ++j)
        if (y[i] == 1 && y[j] == 0) {
          pairs += 1;
          wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
    ASSERT_GT(pairs, 0);
    EXPECT_NEAR(roc_auc(s, y), wins / pairs, 1e-12) << trial;
    double best = 0;
    for (double t : s) best = std::max(best, metrics_at(s, y, t).f1);
    EXPECT_NEAR(best_f1_point(s, y).f1, best, 1e-12) << trial;
    // AP from its definition: sum over positives-ranked cuts of (recall step) * precision.
    PrCurve pr = pr_curve(s, y);
    double ap = 0, prev = 0;
    for (size_t i = 0; i < pr.thresholds.size(); ++i) {
      BinaryMetrics m = metrics_at(s, y, pr.thresholds[i]);
      ap += (m.recall - prev) * m.precision;
      prev = m.recall;
    }
    EXPECT_NEAR(average_precision(s, y), ap, 1e-12) << trial;
  }
}
