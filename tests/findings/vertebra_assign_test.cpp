// Vertebra names, assignment of candidates on a constructed label volume, ground truth from masks and grade files,
// and the evaluator joining them.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "common/fs_util.h"
#include "findings/evaluation.h"
#include "findings/ground_truth.h"
#include "findings/linking.h"
#include "findings/vertebra_assign.h"

using namespace vyolo::findings;
using vyolo::Volume;

namespace {

// 32 x 32 x 60 grid; VerSe L2 (21) fills z 0..29, L1 (20) z 30..59, inside x, y 8..23.
Volume spine() {
  Volume v;
  v.dims = {32, 32, 60};
  v.voxels.assign(v.size(), 0.f);
  for (int k = 0; k < 60; ++k)
    for (int j = 8; j < 24; ++j)
      for (int i = 8; i < 24; ++i) v.at(i, j, k) = k < 30 ? 21.f : 20.f;
  return v;
}

// An axial candidate covering x, y [x0, x0+w) and slices z0..z1 with one box score.
Candidate cand(int id, double x0, double w, int z0, int z1, double s) {
  std::map<int, std::vector<SliceBox>> in;
  for (int z = z0; z <= z1; ++z) in[z] = {{x0, 10, x0 + w, 20, s}};
  LinkOptions o;
  o.score_mode = ScoreMode::Max;
  auto c = link_slices(in, make_slice_geometry(View::Axial, {32, 32, 60}, {1, 1, 1}), o);
  EXPECT_EQ(c.size(), 1u);
  c[0].id = id;
  return c[0];
}

std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("vyolo_findings_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace

TEST(VertebraNames, VerseAndTotalSegmentatorMaps) {
  EXPECT_EQ(vertebra_name(1, LabelScheme::Verse), "C1");
  EXPECT_EQ(vertebra_name(7, LabelScheme::Verse), "C7");
  EXPECT_EQ(vertebra_name(8, LabelScheme::Verse), "T1");
  EXPECT_EQ(vertebra_name(19, LabelScheme::Verse), "T12");
  EXPECT_EQ(vertebra_name(20, LabelScheme::Verse), "L1");
  EXPECT_EQ(vertebra_name(25, LabelScheme::Verse), "L6");
  EXPECT_EQ(vertebra_name(28, LabelScheme::Verse), "T13");
  EXPECT_EQ(vertebra_name(26, LabelScheme::Verse), "");
  // TotalSegmentator v2, as present in ../shared/data/ct_spine_examples: 26 S1, 27 L5 ... 31 L1, 32 T12, 33 T11.
  EXPECT_EQ(vertebra_name(26, LabelScheme::TotalSeg), "S1");
  EXPECT_EQ(vertebra_name(27, LabelScheme::TotalSeg), "L5");
  EXPECT_EQ(vertebra_name(31, LabelScheme::TotalSeg), "L1");
  EXPECT_EQ(vertebra_name(32, LabelScheme::TotalSeg), "T12");
  EXPECT_EQ(vertebra_name(33, LabelScheme::TotalSeg), "T11");
  EXPECT_EQ(vertebra_name(43, LabelScheme::TotalSeg), "T1");
  EXPECT_EQ(vertebra_name(44, LabelScheme::TotalSeg), "C7");
  EXPECT_EQ(vertebra_name(50, LabelScheme::TotalSeg), "C1");
  EXPECT_EQ(vertebra_name(25, LabelScheme::TotalSeg), "");  // sacrum
  EXPECT_EQ(vertebra_name(5, LabelScheme::TotalSeg), "");   // an organ
  EXPECT_EQ(vertebra_label("L1", LabelScheme::TotalSeg), 31);
  EXPECT_EQ(vertebra_label("T13", LabelScheme::Verse), 28);
  EXPECT_EQ(normalize_vertebra_name("vertebrae_L1"), "L1");
  EXPECT_EQ(normalize_vertebra_name("t12"), "T12");
  EXPECT_EQ(normalize_vertebra_name("Sex"), "");
  EXPECT_LT(vertebra_rank("T12"), vertebra_rank("L1"));
  EXPECT_EQ(parse_label_scheme("TotalSegmentator"), LabelScheme::TotalSeg);
  EXPECT_THROW(parse_label_scheme("nnunet"), vyolo::UsageError);
}

TEST(VertebraAssign, LargestOverlapAndProbabilities) {
  Volume mask = spine();
  std::vector<Candidate> c{cand(1, 10, 8, 35, 40, 0.8),   // L1
                           cand(2, 10, 8, 10, 15, 0.6),   // L2
                           cand(3, 10, 8, 27, 33, 0.3),   // 3 slices in L2, 4 in L1 -> L1
                           cand(4, 0, 4, 40, 45, 0.95)};  // beside the spine: no vertebra
  StudyFindings f = assign_vertebrae(c, &mask, mask.dims, {1, 1, 1});
  ASSERT_TRUE(f.has_mask);
  ASSERT_EQ(f.vertebrae.size(), 2u);
  EXPECT_EQ(f.vertebrae[0].name, "L1");  // cranio-caudal
  EXPECT_EQ(f.vertebrae[1].name, "L2");
  EXPECT_EQ(f.vertebrae[0].label, 20);
  EXPECT_EQ(f.vertebrae[0].voxels, 16LL * 16 * 30);
  EXPECT_EQ(f.vertebrae[0].extent.lo, (std::array<int, 3>{8, 8, 30}));
  EXPECT_EQ(f.vertebrae[0].candidate_ids, (std::vector<int>{1, 3}));
  EXPECT_DOUBLE_EQ(f.vertebrae[0].probability, 0.8);
  EXPECT_DOUBLE_EQ(f.vertebrae[1].probability, 0.6);
  EXPECT_EQ(f.candidates[2].vertebra, "L1");
  EXPECT_EQ(f.candidates[3].vertebra, "");
  EXPECT_DOUBLE_EQ(f.patient_probability, 0.8);  // max over vertebrae: the off-spine 0.95 does not count

  AssignOptions o;
  o.aggregate = VertebraAggregate::NoisyOr;
  StudyFindings g = assign_vertebrae(c, &mask, mask.dims, {1, 1, 1}, o);
  EXPECT_NEAR(g.vertebrae[0].probability, 1 - 0.2 * 0.7, 1e-12);

  StudyFindings none = assign_vertebrae(c, nullptr, mask.dims, {1, 1, 1});
  EXPECT_FALSE(none.has_mask);
  EXPECT_TRUE(none.vertebrae.empty());
  EXPECT_DOUBLE_EQ(none.patient_probability, 0.95);

  EXPECT_THROW(assign_vertebrae(c, &mask, {32, 32, 61}, {1, 1, 1}), vyolo::RuntimeError);
}

TEST(GroundTruth, FromMasks) {
  Volume vert = spine();
  Volume frac;
  frac.dims = vert.dims;
  frac.voxels.assign(frac.size(), 0.f);
  for (int k = 36; k <= 39; ++k)
    for (int i = 12; i < 16; ++i) frac.at(i, 12, k) = 1.f;  // lesion 1 in L1
  frac.at(20, 20, 50) = 2.f;                                 // lesion 2 in L1
  frac.at(2, 2, 5) = 3.f;                                    // lesion 3 outside any vertebra
  StudyTruth t = truth_from_masks("P001", frac, &vert, LabelScheme::Verse);
  ASSERT_EQ(t.vertebrae.size(), 2u);
  EXPECT_EQ(t.vertebrae[0].name, "L1");
  EXPECT_TRUE(t.vertebrae[0].fractured);
  EXPECT_FALSE(t.vertebrae[1].fractured);
  EXPECT_TRUE(t.patient_fractured);
  ASSERT_EQ(t.lesions.size(), 3u);
  EXPECT_EQ(t.lesions[0].voxels, 16);
  EXPECT_EQ(t.lesions[0].vertebra, "L1");
  EXPECT_EQ(t.lesions[2].vertebra, "");
  ASSERT_EQ(t.slice_labels.size(), 60u);
  EXPECT_EQ(t.slice_labels[35], 0);
  EXPECT_EQ(t.slice_labels[36], 1);
  EXPECT_EQ(t.slice_labels[5], 1);
  EXPECT_EQ(slice_labels(frac, View::Sagittal)[12], 1);
  EXPECT_EQ(slice_labels(frac, View::Sagittal)[11], 0);

  std::vector<Candidate> c{cand(1, 10, 8, 35, 40, 0.8), cand(2, 10, 8, 10, 15, 0.6)};
  auto m = match_lesions(c, frac);
  EXPECT_EQ(m, (std::vector<int>{1, -1}));

  Volume other = vert;
  other.dims = {32, 32, 59};
  EXPECT_THROW(truth_from_masks("P001", frac, &other, LabelScheme::Verse), vyolo::RuntimeError);
}

TEST(GroundTruth, GradeFiles) {
  auto d = temp_dir("grades");
  vyolo::write_file_atomic(d / "long.csv", "case,vertebra,grade\nP1,L1,2\nP1,vertebrae_L2,0\nP1,21,0\nP2,T12,nan\n"
                                           "P2,20,1\n");
  GradeTable a = read_grade_file(d / "long.csv");
  EXPECT_EQ(a.at("P1").at("L1"), 2);
  EXPECT_EQ(a.at("P1").at("L2"), 0);  // VerSe label 21 = L2 too
  EXPECT_EQ(a.at("P2").count("T12"), 0u);
  EXPECT_EQ(a.at("P2").at("L1"), 1);

  vyolo::write_file_atomic(d / "wide.csv", "verse_ID,sex,T12_fx-g,L1_fx-g,L2_fx-g\nverse004,M,0,3,\nverse005,F,1,0,0\n");
  GradeTable b = read_grade_file(d / "wide.csv");
  EXPECT_EQ(b.at("verse004").size(), 2u);
  EXPECT_EQ(b.at("verse004").at("L1"), 3);
  StudyTruth t = truth_from_grades(b, "verse005", 1);
  ASSERT_EQ(t.vertebrae.size(), 3u);
  EXPECT_EQ(t.vertebrae[0].name, "T12");
  EXPECT_TRUE(t.vertebrae[0].fractured);
  EXPECT_FALSE(t.vertebrae[1].fractured);
  EXPECT_TRUE(t.patient_fractured);
  EXPECT_FALSE(truth_from_grades(b, "verse005", 2).patient_fractured);  // threshold configurable
  EXPECT_THROW(truth_from_grades(b, "verse999"), vyolo::RuntimeError);

  vyolo::write_file_atomic(d / "g.json", R"({"P9": {"L1": 1, "L2": 0, "L3": null}})");
  GradeTable c = read_grade_file(d / "g.json");
  EXPECT_EQ(c.at("P9").size(), 2u);
  vyolo::write_file_atomic(d / "g2.json", R"([{"case": "P8", "vertebra": "T11", "grade": "2"}])");
  EXPECT_EQ(read_grade_file(d / "g2.json").at("P8").at("T11"), 2);

  vyolo::write_file_atomic(d / "bad.csv", "case,vertebra,grade\nP1,L1,2\nP1,L2,severe\n");
  try {
    read_grade_file(d / "bad.csv");
    FAIL() << "no error";
  } catch (const vyolo::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3"), std::string::npos) << e.what();
  }
  vyolo::write_file_atomic(d / "bad.json", "{\"P1\": ");
  EXPECT_THROW(read_grade_file(d / "bad.json"), vyolo::RuntimeError);
  EXPECT_THROW(read_grade_file(d / "missing.csv"), vyolo::RuntimeError);
  std::filesystem::remove_all(d);
}

TEST(Evaluation, JoinsStudiesIntoLevelsAndFroc) {
  Volume vert = spine();
  Volume frac;
  frac.dims = vert.dims;
  frac.voxels.assign(frac.size(), 0.f);
  for (int k = 36; k <= 39; ++k) frac.at(12, 12, k) = 1.f;  // one lesion in L1

  FindingsEvaluator ev;
  // Study 1: finds the L1 fracture (0.8) and has a weak FP in L2 (0.3).
  std::vector<Candidate> c1{cand(1, 10, 8, 35, 40, 0.8), cand(2, 10, 8, 10, 12, 0.3)};
  StudyFindings p1 = assign_vertebrae(c1, &vert, vert.dims, {1, 1, 1});
  StudyTruth t1 = truth_from_masks("A", frac, &vert, LabelScheme::Verse);
  ev.add(p1, t1, match_lesions(p1.candidates, frac));
  // Study 2: no fracture, no candidates.
  Volume empty = frac;
  std::fill(empty.voxels.begin(), empty.voxels.end(), 0.f);
  StudyFindings p2 = assign_vertebrae({}, &vert, vert.dims, {1, 1, 1});
  ev.add(p2, truth_from_masks("B", empty, &vert, LabelScheme::Verse), {});

  EvaluationResult r = ev.result();
  EXPECT_EQ(r.studies, 2);
  ASSERT_TRUE(r.has_vertebra);
  EXPECT_EQ(r.vertebra.n, 4);
  EXPECT_EQ(r.vertebra.positives, 1);
  EXPECT_EQ(r.vertebra.at_threshold.cm.tp, 1);
  EXPECT_EQ(r.vertebra.at_threshold.cm.tn, 3);
  EXPECT_DOUBLE_EQ(r.vertebra.auc, 1.0);
  EXPECT_EQ(r.patient.n, 2);
  EXPECT_EQ(r.patient.at_threshold.cm.tp, 1);
  EXPECT_EQ(r.patient.at_threshold.cm.tn, 1);
  ASSERT_TRUE(r.has_slice);
  EXPECT_EQ(r.slice.n, 120);
  EXPECT_EQ(r.slice.positives, 4);
  EXPECT_EQ(r.slice.at_threshold.cm.tp, 4);
  EXPECT_EQ(r.slice.at_threshold.cm.fp, 2);  // slices 35 and 40 of candidate 1
  ASSERT_TRUE(r.has_froc);
  EXPECT_EQ(r.lesions, 1);
  EXPECT_DOUBLE_EQ(r.froc.sensitivities[0], 1.0);  // found before the FP (0.3): 0 FP per volume
  EXPECT_TRUE(r.warnings.empty());

  // Without a vertebra mask the vertebra level is skipped with a warning; patients still count.
  FindingsEvaluator ev2;
  ev2.add(assign_vertebrae(c1, nullptr, vert.dims, {1, 1, 1}), t1, {});
  EvaluationResult r2 = ev2.result();
  EXPECT_FALSE(r2.has_vertebra);
  EXPECT_EQ(r2.warnings.size(), 2u);  // no mask; candidates unmatched
  EXPECT_TRUE(std::isnan(r2.patient.auc));  // one patient, positive
}

TEST(VertebraAssign, RealTotalSegmentatorMaskNamesVertebrae) {
  std::filesystem::path dir = vyolo::shared_dir();
  if (dir.empty() || !std::filesystem::exists(dir / "data/ct_spine_examples/totalseg_example_ct/vertebrae_mask.nii.gz"))
    GTEST_SKIP() << "../shared/data/ct_spine_examples is not available";
  Volume mask = vyolo::to_canonical(
      vyolo::read_nifti(dir / "data/ct_spine_examples/totalseg_example_ct/vertebrae_mask.nii.gz"));
  // A candidate filling L1's bounding box must be assigned to L1; the mask holds S1, L5..L1, T12, T11.
  StudyFindings probe = assign_vertebrae({}, &mask, mask.dims, mask.spacing, {LabelScheme::TotalSeg});
  std::vector<std::string> names;
  for (const auto& v : probe.vertebrae) names.push_back(v.name);
  EXPECT_EQ(names, (std::vector<std::string>{"T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"}));
  const VoxelBox& l1 = probe.vertebrae[2].extent;
  Candidate c;
  c.id = 1;
  c.score = 0.7;
  for (int a = 0; a < 3; ++a) c.lo[size_t(a)] = l1.lo[size_t(a)], c.hi[size_t(a)] = l1.hi[size_t(a)] + 1;
  StudyFindings f = assign_vertebrae({c}, &mask, mask.dims, mask.spacing, {LabelScheme::TotalSeg});
  EXPECT_EQ(f.candidates[0].vertebra, "L1");
  EXPECT_DOUBLE_EQ(f.vertebrae[2].probability, 0.7);
}

TEST(VertebraAssign, WholeBodyTotalSegmentatorMaskKeepsOnlyVertebrae) {
  std::filesystem::path p = vyolo::shared_dir() / "data/ct_spine_examples/totalseg_example_ct_dicom/multilabel_mask.nii.gz";
  if (vyolo::shared_dir().empty() || !std::filesystem::exists(p)) GTEST_SKIP() << "../shared/data/ct_spine_examples is not available";
  Volume mask = vyolo::to_canonical(vyolo::read_nifti(p));
  StudyFindings f = assign_vertebrae({}, &mask, mask.dims, mask.spacing, {LabelScheme::TotalSeg});
  std::vector<std::string> names;
  for (const auto& v : f.vertebrae) {
    names.push_back(v.name);
    EXPECT_GE(v.label, 26);  // ribs and organs (other ids) are not vertebrae
    EXPECT_LE(v.label, 50);
  }
  // The README lists ids 32 (T12) and 33 (T11) for this series.
  EXPECT_NE(std::find(names.begin(), names.end(), "T12"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "T11"), names.end());
  EXPECT_DOUBLE_EQ(f.patient_probability, 0.0);
}
