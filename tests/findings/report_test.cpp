// Outputs: findings.json/csv, metrics.json, sweeps, plots and the montage are written and parse; the candidate NIfTI
// label volume keeps the input's affine and puts a candidate where its boxes were.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nifti1_io.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "common/fs_util.h"
#include "findings/label_volume.h"
#include "findings/linking.h"
#include "findings/plots.h"
#include "findings/report.h"

using namespace vyolo::findings;
using vyolo::Volume;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("vyolo_findings_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(vyolo::read_file(p)); }

// 20 x 16 x 12 voxels whose i axis points to the patient's right (LPS x decreasing): not canonical.
Volume input_grid() {
  Volume v;
  v.dims = {20, 16, 12};
  v.spacing = {0.8, 1.0, 2.5};
  v.affine = vyolo::Mat4{};
  v.affine[0][0] = -0.8;
  v.affine[1][1] = 1.0;
  v.affine[2][2] = 2.5;
  v.affine[0][3] = 10, v.affine[1][3] = -20, v.affine[2][3] = 30;
  v.affine[3][3] = 1;
  v.voxels.assign(v.size(), 0.f);
  return v;
}

// The canonical (LPS) version of input_grid: i flipped, so canonical i = 19 - input i.
Volume canonical_grid() {
  Volume c = input_grid();
  c.affine[0][0] = 0.8;
  c.affine[0][3] = 10 - 0.8 * 19;
  return c;
}

StudyFindings sample_findings() {
  std::map<int, std::vector<SliceBox>> in{{6, {{2, 3, 5, 6, 0.9}}}, {7, {{2, 3, 5, 6, 0.7}}}};
  auto c = link_slices(in, make_slice_geometry(View::Axial, {20, 16, 12}, {0.8, 1.0, 2.5}));
  Volume mask = canonical_grid();
  for (int k = 0; k < 12; ++k)
    for (int j = 0; j < 16; ++j)
      for (int i = 0; i < 20; ++i) mask.at(i, j, k) = k < 6 ? 27.f : 31.f;  // TotalSegmentator L5 below, L1 above
  AssignOptions o;
  o.scheme = LabelScheme::TotalSeg;
  StudyFindings f = assign_vertebrae(c, &mask, mask.dims, mask.spacing, o);
  f.case_id = "P007";
  return f;
}

}  // namespace

TEST(Report, FindingsJsonAndCsv) {
  auto d = temp_dir("findings");
  StudyFindings f = sample_findings();
  ReportInfo info;
  info.source = "P007/ct.nii.gz";
  info.weights = {"fold0.safetensors", "fold1.safetensors"};
  info.label_scheme = "totalseg";
  info.threshold = 0.5;
  write_findings(d, f, info);
  auto j = read_json(d / "findings.json");
  EXPECT_EQ(j["case_id"], "P007");
  ASSERT_EQ(j["candidates"].size(), 1u);
  const auto& c = j["candidates"][0];
  EXPECT_EQ(c["vertebra"], "L1");
  EXPECT_EQ(c["slice_first"], 6);
  EXPECT_EQ(c["n_slices"], 2);
  EXPECT_DOUBLE_EQ(c["score"].get<double>(), 0.8);
  EXPECT_EQ(c["box_voxels"]["lo"], nlohmann::json::array({2, 3, 6}));
  EXPECT_EQ(c["box_voxels"]["hi"], nlohmann::json::array({4, 5, 7}));
  EXPECT_NEAR(c["size_mm"][2].get<double>(), 5.0, 1e-9);
  EXPECT_EQ(c["boxes"].size(), 2u);
  ASSERT_EQ(j["vertebrae"].size(), 2u);
  EXPECT_EQ(j["vertebrae"][0]["name"], "L1");
  EXPECT_EQ(j["vertebrae"][0]["fractured"], true);
  EXPECT_EQ(j["vertebrae"][1]["name"], "L5");
  EXPECT_EQ(j["vertebrae"][1]["fractured"], false);
  EXPECT_DOUBLE_EQ(j["patient"]["probability"].get<double>(), 0.8);
  std::string csv = vyolo::read_file(d / "findings.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);
  EXPECT_NE(csv.find("P007,1,axial,axial,6,7,2,1,0.800000"), std::string::npos) << csv;
  std::string vcsv = vyolo::read_file(d / "findings_vertebrae.csv");
  EXPECT_NE(vcsv.find("P007,L1,31,0.800000,1,1,1,"), std::string::npos) << vcsv;
  for (const auto& e : fs::directory_iterator(d))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "temp file left: " << e.path();
  fs::remove_all(d);
}

TEST(Report, EvaluationFilesWrittenAndParseable) {
  auto d = temp_dir("eval");
  FindingsEvaluator ev;
  StudyFindings f = sample_findings();
  StudyTruth t;
  t.case_id = "P007";
  t.vertebrae = {{"L1", 31, true, 2}, {"L5", 27, false, 0}};
  t.patient_fractured = true;
  ev.add(f, t);
  EvalOptions opt;
  EvaluationResult r = ev.result();
  write_evaluation(d, r, opt);
  auto m = read_json(d / "metrics.json");
  EXPECT_EQ(m["studies"], 1);
  EXPECT_DOUBLE_EQ(m["levels"]["vertebra"]["auc"].get<double>(), 1.0);
  EXPECT_EQ(m["levels"]["vertebra"]["tp"], 1);
  EXPECT_EQ(m["levels"]["vertebra"]["tn"], 1);
  EXPECT_TRUE(m["levels"]["patient"]["auc"].is_null());  // one positive patient only: AUC undefined -> null
  EXPECT_TRUE(m["froc"].is_null());                      // grade-style truth: no lesions
  EXPECT_FALSE(m["levels"].contains("slice"));
  EXPECT_GE(m["levels"]["vertebra"]["sweep"].size(), 5u);
  std::string sweep = vyolo::read_file(d / "sweep_vertebra.csv");
  EXPECT_EQ(sweep.rfind("threshold,tp,fp,tn,fn,", 0), 0u);
  std::string md = vyolo::read_file(d / "sweep.md");
  EXPECT_NE(md.find("vertebra level"), std::string::npos);
  EXPECT_NE(vyolo::read_file(d / "per_vertebra.csv").find("P007,L1,0.800000,1"), std::string::npos);
  for (const char* p : {"roc_vertebra", "pr_vertebra", "f1_vertebra", "confusion_vertebra", "roc_patient"}) {
    cv::Mat img = cv::imread((d / "plots" / (std::string(p) + ".png")).string());
    EXPECT_FALSE(img.empty()) << p;
  }
  fs::remove_all(d);
}

TEST(Report, FrocPlotAndMontage) {
  auto d = temp_dir("montage");
  FrocResult fr = froc({{0.9, 0, 1}, {0.5, 0, -1}}, 1, 1);
  write_png(d / "froc.png", froc_plot(fr, "FROC"));
  EXPECT_FALSE(cv::imread((d / "froc.png").string()).empty());

  StudyFindings f = sample_findings();
  auto picks = montage_slices(f.candidates);
  ASSERT_EQ(picks.size(), 1u);
  EXPECT_EQ(picks[0].first, 6);  // the slice of the 0.9 box
  std::vector<MontageTile> tiles;
  for (int t = 0; t < 3; ++t) {
    MontageTile tile;
    tile.image = cv::Mat(64, 64, CV_8UC1, cv::Scalar(100));
    tile.boxes = {{8, 8, 40, 40, 0.9}};
    tile.caption = "slice " + std::to_string(t);
    tiles.push_back(tile);
  }
  cv::Mat m = overlay_montage(tiles, 2, 128);
  EXPECT_EQ(m.cols, 256);
  EXPECT_EQ(m.rows, 2 * (128 + 22));
  cv::Vec3b edge = m.at<cv::Vec3b>(40, 16);  // left edge of the box, scaled by 2
  EXPECT_GT(edge[2], 200);
  EXPECT_LT(edge[0], 100);
  write_png(d / "overlay.png", m);
  EXPECT_EQ(cv::imread((d / "overlay.png").string()).cols, 256);
  fs::remove_all(d);
}

TEST(LabelVolume, KeepsInputAffineAndPutsCandidateWhereItsBoxesWere) {
  auto d = temp_dir("nifti");
  Volume input = input_grid(), canon = canonical_grid();
  StudyFindings f = sample_findings();  // canonical voxels x 2..4, y 3..5, z 6..7
  write_candidate_labels(d / "candidates.nii.gz", f.candidates, canon, input);

  nifti_image* nim = nifti_image_read((d / "candidates.nii.gz").string().c_str(), 1);
  ASSERT_NE(nim, nullptr);
  EXPECT_EQ(nim->nx, 20);
  EXPECT_EQ(nim->ny, 16);
  EXPECT_EQ(nim->nz, 12);
  EXPECT_EQ(nim->datatype, DT_INT16);
  ASSERT_GT(nim->sform_code, 0);
  // NIfTI stores RAS: the LPS affine with its first two rows negated.
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) {
      double want = (r < 2 ? -1 : 1) * input.affine[size_t(r)][size_t(c)];
      EXPECT_NEAR(nim->sto_xyz.m[r][c], want, 1e-4) << r << "," << c;
    }
  const int16_t* v = static_cast<const int16_t*>(nim->data);
  auto at = [&](int i, int j, int k) { return v[(size_t(k) * 16 + j) * 20 + i]; };
  int nonzero = 0;
  for (size_t n = 0; n < nim->nvox; ++n) nonzero += v[n] != 0;
  EXPECT_EQ(nonzero, 3 * 3 * 2);
  for (int ic = 2; ic <= 4; ++ic) EXPECT_EQ(at(19 - ic, 4, 6), 1) << ic;  // input i = 19 - canonical i
  EXPECT_EQ(at(3, 4, 6), 0);                                              // the unflipped place stays empty
  EXPECT_EQ(at(16, 4, 8), 0);
  nifti_image_free(nim);

  // The project's own reader agrees on the grid.
  Volume back = vyolo::read_nifti(d / "candidates.nii.gz");
  EXPECT_LT(vyolo::affine_distance(back.affine, input.affine), 1e-4);

  // A grid that is not a permutation/flip of the input (rotated 45 degrees) is refused.
  Volume rotated = canon;
  rotated.affine[0][0] = 0.8 * 0.7071, rotated.affine[0][1] = -0.7071;
  rotated.affine[1][0] = 0.8 * 0.7071, rotated.affine[1][1] = 0.7071;
  EXPECT_THROW(candidate_label_volume(f.candidates, rotated, input), vyolo::RuntimeError);
  fs::remove_all(d);
}
