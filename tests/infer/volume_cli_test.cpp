// `vyolo predict` on a volume and `vyolo evaluate` through the command line (the binary CMake builds; skipped when
// it has not been built).
#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

#include "common/fs_util.h"
#include "common/safetensors.h"
#include "data/phantom.h"
#include "model/weights.h"
#include "temp_dir.h"
#include "vyolo_cli.h"

namespace fs = std::filesystem;

using namespace vyolo;
using vyolo::test::run_vyolo_cli;
using json = nlohmann::json;

namespace {

using vyolo::test::TempDir;

fs::path write_model(const fs::path& dir, const std::string& name, int seed) {
  torch::manual_seed(seed);
  model::YoloV8 net("yolov8n", 1, 3);
  st::File f;
  model::add_module_tensors(f, *net);
  f.metadata = {{"variant", "yolov8n"}, {"num_classes", "1"}, {"names", "[\"fracture\"]"}, {"input_channels", "3"},
                {"img_size", "64"}, {"view", "axial"},
                {"hu_windows", R"({"bone":{"min":400,"max":1800},"soft_tissue":{"min":-100,"max":300},)"
                               R"("wide":{"min":-200,"max":500}})"}};
  const fs::path p = dir / (name + ".safetensors");
  st::write_atomic(p.string(), f);
  return p;
}

bool have_binary() { return fs::exists(VYOLO_BINARY); }

}  // namespace

TEST(VolumeCli, PredictWithTwoModelsAndEvaluate) {
  if (!have_binary()) GTEST_SKIP() << "vyolo binary not built: " << VYOLO_BINARY;
  TempDir tmp;
  PhantomOptions po;
  po.nx = po.ny = 48;
  po.vertebrae = 3;
  write_phantoms(tmp.path / "studies", 2, 9, po);
  const auto a = write_model(tmp.path, "a", 1), b = write_model(tmp.path, "b", 2);
  const fs::path c1 = tmp.path / "studies" / phantom_case_id(1);
  const std::string common = "conf=0.005 training.threads=2 project=" + tmp.path.string() + "/runs";

  ASSERT_EQ(
      run_vyolo_cli("predict weights=[" + a.string() + "," + b.string() + "] source=" + (c1 / "ct.nii.gz").string() +
                        " mask=" + (c1 / "vertebrae.nii.gz").string() + " " + common,
                    tmp.path / "p.log"),
      0)
      << read_file(tmp.path / "p.log");
  const fs::path out = tmp.path / "runs" / "predict";
  for (const char* f : {"findings.json", "findings.csv", "findings_vertebrae.csv", "montage.png", "candidates.nii.gz",
                        ".hydra/config.yaml"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  const json j = json::parse(read_file(out / "findings.json"));
  EXPECT_EQ(j["weights"].size(), 2u);
  EXPECT_EQ(j["vertebrae"].size(), 3u);

  // A checkpoint trained on axial slices asked for coronal: a usage error (exit 2), no run folder.
  EXPECT_EQ(run_vyolo_cli("predict weights=" + a.string() + " source=" + (c1 / "ct.nii.gz").string() +
                              " data.view=coronal project=" + tmp.path.string() + "/bad",
                          tmp.path / "v.log"),
            2);
  EXPECT_NE(read_file(tmp.path / "v.log").find("axial"), std::string::npos) << read_file(tmp.path / "v.log");
  EXPECT_FALSE(fs::exists(tmp.path / "bad"));

  // An empty study folder: a runtime error (exit 1) that says so.
  fs::create_directories(tmp.path / "empty_study");
  EXPECT_EQ(run_vyolo_cli("predict weights=" + a.string() + " source=" + (tmp.path / "empty_study").string() +
                              " project=" + tmp.path.string() + "/bad",
                          tmp.path / "x.log"),
            1);
  EXPECT_NE(read_file(tmp.path / "x.log").find("empty folder"), std::string::npos) << read_file(tmp.path / "x.log");
  EXPECT_FALSE(fs::exists(tmp.path / "bad"));

  // Evaluate: two studies and one without a CT (skipped, counted).
  fs::create_directories(tmp.path / "studies" / "broken");
  ASSERT_EQ(run_vyolo_cli("evaluate weights=" + a.string() + " source=" + (tmp.path / "studies").string() +
                              " out=" + (tmp.path / "eval").string() + " conf=0.005 training.threads=2",
                          tmp.path / "e.log"),
            0)
      << read_file(tmp.path / "e.log");
  const json m = json::parse(read_file(tmp.path / "eval" / "metrics.json"));
  EXPECT_FALSE(m.empty());
  const json s = json::parse(read_file(tmp.path / "eval" / "studies.json"));
  EXPECT_EQ(s["evaluated"].size(), 2u);
  EXPECT_EQ(s["skipped"].size(), 1u);
  EXPECT_NE(read_file(tmp.path / "e.log").find("skipped"), std::string::npos);

  // studies=[...]: just the named study folders; a name without a folder is skipped with the reason.
  const std::string first = s["evaluated"][0]["study"].get<std::string>();
  ASSERT_EQ(run_vyolo_cli("evaluate weights=" + a.string() + " source=" + (tmp.path / "studies").string() +
                              " out=" + (tmp.path / "eval1").string() + " 'studies=[" + first +
                              ",no_such_case]' training.threads=2",
                          tmp.path / "e1.log"),
            0)
      << read_file(tmp.path / "e1.log");
  const json s1 = json::parse(read_file(tmp.path / "eval1" / "studies.json"));
  ASSERT_EQ(s1["evaluated"].size(), 1u);
  EXPECT_EQ(s1["evaluated"][0]["study"], first);
  ASSERT_EQ(s1["skipped"].size(), 1u);
  EXPECT_EQ(s1["skipped"][0]["study"], "no_such_case");
}
