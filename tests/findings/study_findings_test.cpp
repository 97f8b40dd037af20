// The one-call path from per-slice detections to study findings, grid checks, montage tiles and the CV summary.
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "findings/report.h"
#include "findings/study_findings.h"

using namespace vyolo::findings;
using vyolo::Volume;

namespace {

Volume two_vertebrae() {  // VerSe T12 (19) for z >= 20, L1 (20) below, on 40 x 40 x 40
  Volume v;
  v.dims = {40, 40, 40};
  v.affine = vyolo::make_affine({1, 1, 1});
  v.voxels.assign(v.size(), 0.f);
  for (int k = 0; k < 40; ++k)
    for (int j = 10; j < 30; ++j)
      for (int i = 10; i < 30; ++i) v.at(i, j, k) = k >= 20 ? 19.f : 20.f;
  return v;
}

SourceDetections fold(const std::string& name, double score, bool with_second) {
  SourceDetections s;
  s.name = name;
  s.geometry = make_slice_geometry(View::Axial, {40, 40, 40}, {1, 1, 1});
  for (int z = 5; z <= 9; ++z) s.per_slice[z] = {{12, 12, 20, 20, score}};        // in L1
  if (with_second)
    for (int z = 30; z <= 33; ++z) s.per_slice[z] = {{15, 15, 25, 25, 0.9}};     // in T12
  return s;
}

}  // namespace

TEST(StudyFindings, FiveFoldModelsFuseAndAssign) {
  Volume mask = two_vertebrae();
  std::vector<SourceDetections> src{fold("fold_0", 0.8, true), fold("fold_1", 0.6, false), fold("fold_2", 0.7, false),
                                    fold("fold_3", 0.9, false), fold("fold_4", 0.5, false)};
  StudyFindings f = make_study_findings("P1", src, &mask);
  EXPECT_EQ(f.case_id, "P1");
  ASSERT_EQ(f.candidates.size(), 2u);
  EXPECT_NEAR(f.candidates[0].score, (0.8 + 0.6 + 0.7 + 0.9 + 0.5) / 5, 1e-12);
  EXPECT_EQ(f.candidates[0].n_sources, 5);
  EXPECT_EQ(f.candidates[0].vertebra, "L1");
  EXPECT_NEAR(f.candidates[1].score, 0.9 / 5, 1e-12);  // seen by one model of five
  EXPECT_EQ(f.candidates[1].vertebra, "T12");
  ASSERT_EQ(f.vertebrae.size(), 2u);
  EXPECT_EQ(f.vertebrae[0].name, "T12");
  EXPECT_NEAR(f.patient_probability, 0.7, 1e-12);

  // A single source is linked and assigned without fusion.
  StudyFindings one = make_study_findings("P1", {fold("m", 0.8, false)}, &mask);
  ASSERT_EQ(one.candidates.size(), 1u);
  EXPECT_DOUBLE_EQ(one.candidates[0].score, 0.8);
  EXPECT_EQ(one.candidates[0].source, "m");

  EXPECT_THROW(make_study_findings("P1", {}, &mask), vyolo::UsageError);
  auto other = fold("x", 0.5, false);
  other.geometry.dims = {40, 40, 41};
  EXPECT_THROW(make_study_findings("P1", {fold("m", 0.8, false), other}, &mask), vyolo::UsageError);
}

TEST(StudyFindings, MaskOnAnotherGridIsRefusedByName) {
  Volume ct = two_vertebrae(), mask = two_vertebrae();
  EXPECT_NO_THROW(check_same_grid(ct, mask, "P1/vertebrae.nii.gz"));
  mask.affine[0][3] = 2.0;
  try {
    check_same_grid(ct, mask, "P1/vertebrae.nii.gz");
    FAIL() << "no error";
  } catch (const vyolo::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("P1/vertebrae.nii.gz"), std::string::npos);
  }
  Volume small = two_vertebrae();
  small.dims = {40, 40, 39};
  EXPECT_THROW(check_same_grid(ct, small, "m"), vyolo::RuntimeError);
}

TEST(StudyFindings, MontageTilesShowTheBestSliceOfEachCandidate) {
  Volume mask = two_vertebrae();
  StudyFindings f = make_study_findings("P1", {fold("m", 0.8, true)}, &mask);
  std::vector<std::pair<View, int>> asked;
  auto tiles = montage_tiles(f.candidates, [&](View v, int s) {
    asked.push_back({v, s});
    return cv::Mat(40, 40, CV_8UC1, cv::Scalar(0));
  });
  ASSERT_EQ(tiles.size(), 2u);
  EXPECT_EQ(asked[0].second, 30);  // the 0.9 candidate first, its first slice (all boxes equal)
  EXPECT_EQ(tiles[0].boxes.size(), 1u);
  EXPECT_NE(tiles[0].box_labels[0].find("T12"), std::string::npos);
  EXPECT_NE(tiles[0].caption.find("T12 axial 30"), std::string::npos) << tiles[0].caption;
}

TEST(FoldSummary, MeanAndSampleSdOverFolds) {
  auto result = [](std::vector<double> s, std::vector<int> y) {
    EvaluationResult r;
    r.has_vertebra = true;
    r.vertebra = evaluate_level("vertebra", s, y);
    r.patient = evaluate_level("patient", {0.9}, {1});  // AUC undefined in every fold
    return r;
  };
  // Fold 0: perfect (F1 1). Fold 1: TP 1, FP 1, FN 0 (F1 2/3).
  std::vector<EvaluationResult> folds{result({0.9, 0.1}, {1, 0}), result({0.9, 0.6, 0.1}, {1, 0, 0})};
  auto j = fold_summary_json({"fold_0", "fold_1"}, folds);
  const auto& f1 = j["vertebra"]["summary"]["f1"];
  EXPECT_NEAR(f1["mean"].get<double>(), (1 + 2.0 / 3) / 2, 1e-12);
  EXPECT_NEAR(f1["sd"].get<double>(), std::sqrt(2 * std::pow((1 - 2.0 / 3) / 2, 2)), 1e-12);
  EXPECT_EQ(j["vertebra"]["folds"][1]["fold"], "fold_1");
  EXPECT_TRUE(j["patient"]["summary"]["auc"]["mean"].is_null());
  EXPECT_FALSE(j.contains("slice"));
  std::string md = fold_summary_markdown({"fold_0", "fold_1"}, folds);
  EXPECT_NE(md.find("| mean ± sd |"), std::string::npos);
  EXPECT_NE(md.find("0.833 ± 0.236"), std::string::npos) << md;
}
