// Volume prediction: slice recipe parity with prepare, outputs of `vyolo predict` on a volume, bad input, fusion of
// several models, `vyolo evaluate` on phantom studies, and the real CT examples (skipped when ../shared is absent).
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli/command.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "common/safetensors.h"
#include "data/hu_window.h"
#include "data/phantom.h"
#include "data/prepare.h"
#include "export/onnx_export.h"
#include "infer/evaluate_studies.h"
#include "infer/predict_volume.h"
#include "model/weights.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

using namespace vyolo;
using namespace vyolo::infer;
using json = nlohmann::json;

namespace {

using vyolo::test::TempDir;

// An untrained yolov8n checkpoint with the trainer's metadata keys. Untrained heads score ~0.01 at stride 32, so a
// low conf gives a few boxes per slice: enough to exercise linking, assignment and every output.
fs::path write_model(const fs::path& dir, const std::string& name, const std::string& view, int img_size,
                     int seed = 0) {
  torch::manual_seed(seed);
  model::YoloV8 net("yolov8n", 1, 3);
  st::File f;
  model::add_module_tensors(f, *net);
  f.metadata["variant"] = "yolov8n";
  f.metadata["num_classes"] = "1";
  f.metadata["names"] = "[\"fracture\"]";
  f.metadata["input_channels"] = "3";
  f.metadata["img_size"] = std::to_string(img_size);
  f.metadata["view"] = view;
  f.metadata["hu_windows"] =
      R"({"bone":{"min":400,"max":1800},"soft_tissue":{"min":-100,"max":300},"wide":{"min":-200,"max":500}})";
  const fs::path p = dir / (name + ".safetensors");
  st::write_atomic(p.string(), f);
  return p;
}

PhantomOptions small_phantom() {
  PhantomOptions o;
  o.nx = 48;
  o.ny = 48;
  o.vertebrae = 3;
  return o;
}

// The phantom written with an x-flipped, shifted affine (as an RAS-ordered file would be), so that the canonical grid
// differs from the input's and the label volume must map back.
void write_flipped_case(const PhantomCase& c, const fs::path& dir) {
  fs::create_directories(dir);
  auto flip = [](Volume v) {
    Volume out = v;
    for (int k = 0; k < v.dims[2]; ++k)
      for (int j = 0; j < v.dims[1]; ++j)
        for (int i = 0; i < v.dims[0]; ++i) out.at(v.dims[0] - 1 - i, j, k) = v.at(i, j, k);
    out.affine = make_affine(v.spacing, {10, -20, 30});
    out.affine[0][0] = -v.spacing[0];
    out.affine[0][3] = 10 + (v.dims[0] - 1) * v.spacing[0];
    return out;
  };
  write_nifti(flip(c.ct), dir / "ct.nii.gz", 4);
  write_nifti(flip(c.vertebrae), dir / "vertebrae.nii.gz", 2);
  write_nifti(flip(c.fracture), dir / "fracture.nii.gz", 2);
}

Config predict_config(const fs::path& weights, const fs::path& source, const fs::path& mask, const fs::path& project) {
  Config cfg;
  cfg.training.threads = 2;
  cfg.tree = YAML::Node(YAML::NodeType::Map);
  cfg.tree["weights"] = weights.string();
  cfg.tree["source"] = source.string();
  if (!mask.empty()) cfg.tree["mask"] = mask.string();
  cfg.tree["conf"] = 0.005;
  cfg.tree["project"] = project.string();
  cfg.tree["name"] = "predict";
  cfg.tree["device"] = "cpu";
  return cfg;
}

// `vyolo predict` on a volume with this config; `given` are the keys the command line set.
fs::path predict_volume_command(const Config& cfg, const std::vector<std::string>& given = {}) {
  CommandContext ctx;
  ctx.command = "predict";
  ctx.cfg = cfg;
  ctx.cfg.user_keys = given;
  return cli::predict_volume(ctx);
}

}  // namespace

TEST(VolumePredict, WholeSliceInputEqualsPreparedAndLoadedSlice) {
  TempDir tmp;
  write_phantoms(tmp.path / "src", 1, 5, small_phantom());
  for (const std::string view : {"axial", "coronal"}) {
    PrepareOptions po;
    po.source = tmp.path / "src";
    po.out = tmp.path / ("ds_" + view);
    po.view = view;
    po.image_size = 64;
    po.crop = "none";
    po.workers = 1;
    prepare_dataset(po);
    const Volume ct = to_canonical(read_nifti(tmp.path / "src" / phantom_case_id(1) / "ct.nii.gz"));
    SliceRecipe rc;
    rc.view = findings::parse_view(view);
    rc.image_size = 64;
    int compared = 0;
    for (const auto& e : fs::directory_iterator(po.out / "images" / view)) {
      const std::string n = e.path().stem().string();
      const int s = std::stoi(n.substr(n.rfind('_') + 1));
      cv::Mat png = cv::imread(e.path().string(), cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
      ASSERT_EQ(png.type(), CV_16UC1);
      cv::Mat expect = window_hu(png, rc.windows);
      cv::Mat got = whole_slice_input(ct, rc, s, 64);
      ASSERT_EQ(got.size(), expect.size()) << n;
      ASSERT_EQ(cv::norm(got, expect, cv::NORM_INF), 0) << view << " slice " << s;
      if (++compared == 12) break;
    }
    EXPECT_EQ(compared, 12);
  }
}

TEST(VolumePredict, WritesAllOutputsOnTheInputGrid) {
  TempDir tmp;
  const auto pc = make_phantom_case(1, 11, small_phantom());
  write_flipped_case(pc, tmp.path / "case");
  const auto w = write_model(tmp.path, "m", "axial", 64);
  auto cfg = predict_config(w, tmp.path / "case" / "ct.nii.gz", tmp.path / "case" / "vertebrae.nii.gz",
                            tmp.path / "runs");
  const fs::path out = predict_volume_command(cfg);
  EXPECT_EQ(out, tmp.path / "runs" / "predict");
  for (const char* f : {"findings.json", "findings.csv", "findings_vertebrae.csv", "montage.png", "candidates.nii.gz"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  const json j = json::parse(read_file(out / "findings.json"));
  std::string dump = j.dump();
  // 3 phantom vertebrae: L2, L3, L4 (VerSe 21..23).
  ASSERT_EQ(j["vertebrae"].size(), 3u);
  for (const char* name : {"\"L2\"", "\"L3\"", "\"L4\""}) EXPECT_NE(dump.find(name), std::string::npos) << name;
  EXPECT_FALSE(cv::imread((out / "montage.png").string()).empty());

  // The label volume lies on the input's grid and affine; each candidate's voxels lie inside its 3D box.
  const Volume input = read_nifti(tmp.path / "case" / "ct.nii.gz");
  const Volume lab = read_nifti(out / "candidates.nii.gz");
  EXPECT_EQ(lab.dims, input.dims);
  EXPECT_LT(affine_distance(lab.affine, input.affine), 1e-4);

  auto study = load_study(tmp.path / "case" / "ct.nii.gz", tmp.path / "case" / "vertebrae.nii.gz");
  std::vector<VolumeModel> models{load_volume_model(w.string(), Config{}, {}, ops::NmsOptions{0.005}, torch::kCPU)};
  VolumePredictOptions opt;
  auto f = predict_study(models, study, opt);
  ASSERT_FALSE(f.candidates.empty()) << "an untrained head at conf 0.005 should still give boxes";
  const Volume labc = to_canonical(lab);
  std::map<int, long> count;
  for (int k = 0; k < labc.dims[2]; ++k)
    for (int jj = 0; jj < labc.dims[1]; ++jj)
      for (int i = 0; i < labc.dims[0]; ++i) {
        const int id = int(labc.at(i, jj, k));
        if (!id) continue;
        ++count[id];
        const auto& c = f.candidates[size_t(id - 1)];
        ASSERT_EQ(c.id, id);
        const auto vb = c.voxel_box(labc.dims);
        ASSERT_TRUE(i >= vb.lo[0] && i <= vb.hi[0] && jj >= vb.lo[1] && jj <= vb.hi[1] && k >= vb.lo[2] &&
                    k <= vb.hi[2])
            << "voxel " << i << "," << jj << "," << k << " of candidate " << id;
      }
  EXPECT_FALSE(count.empty());
  EXPECT_EQ(j["candidates"].size(), f.candidates.size());
  EXPECT_EQ(count.count(1), 1u) << "the best candidate is painted";

  // A second run gets the next numbered folder.
  EXPECT_EQ(predict_volume_command(cfg), tmp.path / "runs" / "predict2");
}

TEST(VolumePredict, WithoutMaskHasNoVertebraTable) {
  TempDir tmp;
  const auto pc = make_phantom_case(2, 11, small_phantom());
  write_flipped_case(pc, tmp.path / "case");
  const auto w = write_model(tmp.path, "m", "axial", 64);
  auto cfg = predict_config(w, tmp.path / "case" / "ct.nii.gz", {}, tmp.path / "runs");
  const fs::path out = predict_volume_command(cfg);
  EXPECT_TRUE(fs::exists(out / "findings.json"));
  EXPECT_TRUE(fs::exists(out / "candidates.nii.gz"));
  EXPECT_FALSE(fs::exists(out / "findings_vertebrae.csv"));
  const json j = json::parse(read_file(out / "findings.json"));
  EXPECT_NE(j.dump().find("no vertebra mask"), std::string::npos);
  EXPECT_FALSE(j["has_vertebra_mask"].get<bool>());
  EXPECT_TRUE(j["vertebrae"].empty());
}

TEST(VolumePredict, BadInputGivesClearErrorsAndWritesNothing) {
  TempDir tmp;
  const auto pc = make_phantom_case(1, 11, small_phantom());
  write_flipped_case(pc, tmp.path / "case");
  const auto w = write_model(tmp.path, "m", "axial", 64);

  // A mask on another grid.
  Volume other = pc.vertebrae;
  other.dims = {pc.vertebrae.dims[0], pc.vertebrae.dims[1], pc.vertebrae.dims[2] - 2};
  other.voxels.resize(other.size());
  write_nifti(other, tmp.path / "short_mask.nii.gz", 2);
  auto cfg = predict_config(w, tmp.path / "case" / "ct.nii.gz", tmp.path / "short_mask.nii.gz", tmp.path / "runs");
  try {
    predict_volume_command(cfg);
    FAIL() << "expected an error";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("short_mask.nii.gz"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("grid"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp.path / "runs"));

  // A checkpoint trained on axial slices, coronal requested.
  Config c2 = predict_config(w, tmp.path / "case" / "ct.nii.gz", {}, tmp.path / "runs");
  c2.data.view = "coronal";
  try {
    predict_volume_command(c2, {"data.view"});
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("axial"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("coronal"), std::string::npos) << e.what();
  }
  // ... and another HU window.
  Config c3 = predict_config(w, tmp.path / "case" / "ct.nii.gz", {}, tmp.path / "runs");
  c3.data.hu_windows.bone = {300, 1500};
  EXPECT_THROW(predict_volume_command(c3, {"data.hu_windows.bone.min", "data.hu_windows.bone.max"}),
               UsageError);
  EXPECT_FALSE(fs::exists(tmp.path / "runs"));

  // An empty study folder.
  fs::create_directories(tmp.path / "empty");
  try {
    load_study(tmp.path / "empty");
    FAIL() << "expected an error";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(is_volume_source(tmp.path / "empty"));
  EXPECT_TRUE(is_volume_source(tmp.path / "case" / "ct.nii.gz"));
}

TEST(VolumePredict, SeveralModelsAndViewsFuse) {
  TempDir tmp;
  const auto pc = make_phantom_case(1, 11, small_phantom());
  write_flipped_case(pc, tmp.path / "case");
  std::vector<VolumeModel> models;
  models.push_back(load_volume_model(write_model(tmp.path, "a", "axial", 64, 1).string(), Config{}, {},
                                     ops::NmsOptions{0.005}, torch::kCPU));
  models.push_back(load_volume_model(write_model(tmp.path, "b", "coronal", 64, 2).string(), Config{}, {},
                                     ops::NmsOptions{0.005}, torch::kCPU));
  auto study = load_study(tmp.path / "case" / "ct.nii.gz", tmp.path / "case" / "vertebrae.nii.gz");
  std::vector<findings::SourceDetections> raw;
  auto f = predict_study(models, study, {}, &raw);
  ASSERT_EQ(raw.size(), 2u);
  EXPECT_EQ(raw[0].name, "a/axial");
  EXPECT_EQ(raw[1].name, "b/coronal");
  ASSERT_FALSE(f.candidates.empty());
  for (const auto& c : f.candidates) {
    EXPECT_GE(c.n_sources, 1);
    EXPECT_LE(c.n_sources, 2);
    EXPECT_LE(c.score, c.score_max + 1e-9);
  }
}

TEST(VolumePredict, OnnxExportGivesTheCheckpointsDetections) {
  TempDir tmp;
  const auto pc = make_phantom_case(1, 11, small_phantom());
  write_flipped_case(pc, tmp.path / "case");
  const auto w = write_model(tmp.path, "m", "axial", 64);
  exporter::OnnxOptions o;
  o.imgsz = 0;  // the checkpoint's 64
  const auto r = exporter::export_onnx(w.string(), "", o);
  auto study = load_study(tmp.path / "case" / "ct.nii.gz", tmp.path / "case" / "vertebrae.nii.gz");
  for (const char* crop : {"none", "vertebra"}) {
    SCOPED_TRACE(crop);
    ModelRequest req;
    req.crop = crop;
    std::vector<findings::SourceDetections> raw[2];
    for (int k = 0; k < 2; ++k) {
      std::vector<VolumeModel> models{
          load_volume_model(k ? r.path : w.string(), Config{}, req, ops::NmsOptions{0.005}, torch::kCPU)};
      EXPECT_EQ(models[0].recipe.view, findings::View::Axial);  // the recipe travels in the ONNX metadata
      EXPECT_TRUE(models[0].warnings.empty());
      EXPECT_EQ(models[0].name, "m");
      predict_study(models, study, {}, &raw[k]);
    }
    ASSERT_EQ(raw[1][0].per_slice.size(), raw[0][0].per_slice.size());
    size_t n = 0;
    for (const auto& [slice, boxes] : raw[0][0].per_slice) {
      const auto& ours = raw[1][0].per_slice.at(slice);
      ASSERT_EQ(ours.size(), boxes.size()) << "slice " << slice;
      for (const auto& b : boxes) {  // nearest box: equal scores may come in either order
        double best = 1e9;
        const findings::SliceBox* m = nullptr;
        for (const auto& o : ours) {
          const double d = std::max({std::abs(o.x1 - b.x1), std::abs(o.y1 - b.y1), std::abs(o.x2 - b.x2),
                                     std::abs(o.y2 - b.y2)});
          if (d < best) best = d, m = &o;
        }
        ASSERT_NE(m, nullptr);
        EXPECT_LE(best, 1e-3) << "slice " << slice;
        EXPECT_NEAR(m->score, b.score, 1e-5);
        ++n;
      }
    }
    EXPECT_GT(n, 0u);
  }
}

TEST(VolumeEvaluate, PhantomStudiesWithABadOneSkipped) {
  TempDir tmp;
  write_phantoms(tmp.path / "studies", 2, 5, small_phantom());
  fs::create_directories(tmp.path / "studies" / "zz_broken");  // no CT: reported, skipped, counted
  std::vector<VolumeModel> models{load_volume_model(write_model(tmp.path, "m", "axial", 64).string(), Config{}, {},
                                                    ops::NmsOptions{0.005}, torch::kCPU)};
  EvaluateOptions opt;
  auto sum = evaluate_studies(models, tmp.path / "studies", tmp.path / "eval", opt);
  EXPECT_EQ(sum.studies, 3);
  EXPECT_EQ(sum.evaluated, 2);
  ASSERT_EQ(sum.skipped.size(), 1u);
  EXPECT_EQ(sum.skipped[0].first, "zz_broken");
  EXPECT_TRUE(sum.result.has_vertebra);
  EXPECT_TRUE(sum.result.has_slice);
  EXPECT_EQ(sum.result.vertebra.n, 6);  // 3 vertebrae x 2 studies
  for (const char* f : {"metrics.json", "studies.json", "sweep.md", "per_vertebra.csv", "per_patient.csv"})
    EXPECT_TRUE(fs::exists(tmp.path / "eval" / f)) << f;
  EXPECT_TRUE(fs::exists(tmp.path / "eval" / "plots"));
  EXPECT_TRUE(fs::exists(tmp.path / "eval" / "cases" / phantom_case_id(1) / "findings.json"));
  const json st = json::parse(read_file(tmp.path / "eval" / "studies.json"));
  EXPECT_EQ(st["skipped"].size(), 1u);
}

TEST(VolumePredict, RealCtNiftiAndDicomWithTotalSegMask) {
  const fs::path root = shared_dir() / "data" / "ct_spine_examples";
  if (shared_dir().empty() || !fs::exists(root)) GTEST_SKIP() << "../shared/data/ct_spine_examples absent";
  TempDir tmp;
  const auto w = write_model(tmp.path, "m", "axial", 64);
  struct Case {
    fs::path ct, mask;
    std::vector<std::string> names;
  };
  const std::vector<Case> cases = {
      {root / "totalseg_example_ct" / "ct.nii.gz", root / "totalseg_example_ct" / "vertebrae_mask.nii.gz",
       {"T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"}},
      {root / "totalseg_example_ct_dicom" / "dicom", root / "totalseg_example_ct_dicom" / "multilabel_mask.nii.gz",
       {"T11", "T12"}},
  };
  for (const auto& c : cases) {
    ASSERT_TRUE(is_volume_source(c.ct)) << c.ct;
    auto cfg = predict_config(w, c.ct, c.mask, tmp.path / "runs");
    cfg.tree["vertebra_labels"] = "totalseg";
    cfg.tree["conf"] = 0.25;  // an untrained model finds nothing at the usual threshold: a fracture-free result
    const fs::path out = predict_volume_command(cfg);
    const json j = json::parse(read_file(out / "findings.json"));
    const std::string csv = read_file(out / "findings_vertebrae.csv");
    for (const auto& n : c.names) {
      EXPECT_NE(j.dump().find("\"" + n + "\""), std::string::npos) << c.ct << " lacks " << n;
      EXPECT_NE(csv.find(n), std::string::npos) << n;
    }
    const Volume in = read_volume(c.ct);
    const Volume lab = read_nifti(out / "candidates.nii.gz");
    EXPECT_EQ(lab.dims, in.dims);
    EXPECT_LT(affine_distance(lab.affine, in.affine), 1e-3);
  }
}
