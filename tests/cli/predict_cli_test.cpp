// `vyolo predict` end to end through the built binary: outputs, label format, bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/fs_util.h"
#include "vyolo_cli.h"

namespace fs = std::filesystem;

using namespace vyolo;
using vyolo::test::run_vyolo_cli;

TEST(PredictCli, ImagesFolderWritesOverlaysLabelsAndSkipsBadFiles) {
  auto shared = shared_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared is absent: parity weights not available";
  if (!fs::exists(VYOLO_BINARY)) GTEST_SKIP() << "vyolo binary not built";
  auto dir = fs::temp_directory_path() / "vyolo_predict_cli";
  fs::remove_all(dir);
  fs::create_directories(dir / "src");
  fs::copy_file(shared / "parity/valimg0000.png", dir / "src/valimg0000.png");
  write_file_atomic(dir / "src/notes.txt", "not an image");
  write_file_atomic(dir / "src/broken.png", read_file(shared / "parity/valimg0000.png").substr(0, 200));
  std::string log;
  ASSERT_EQ(run_vyolo_cli("predict weights=" + (shared / "parity/trained_weights.safetensors").string() +
                              " source=" + (dir / "src").string() +
                              " imgsz=256 save_txt=true project=" + (dir / "runs").string() + " name=p",
                          &log),
            0)
      << log;
  auto out = dir / "runs/p";
  EXPECT_TRUE(fs::exists(out / "valimg0000.png"));
  EXPECT_TRUE(fs::exists(out / ".hydra/config.yaml"));
  // Ultralytics label format: cls cx cy w h conf, normalised to the original image.
  std::ifstream lab(out / "labels/valimg0000.txt");
  int cls;
  double cx, cy, w, h, conf;
  ASSERT_TRUE(lab >> cls >> cx >> cy >> w >> h >> conf);
  EXPECT_EQ(cls, 0);
  EXPECT_NEAR(cx, (37.2 + 75.3) / 2 / 256, 1e-3);
  EXPECT_NEAR(h, (147.5 - 101.6) / 256, 1e-3);
  EXPECT_NEAR(conf, 0.672, 1e-3);
  auto j = nlohmann::json::parse(read_file(out / "predictions.json"));
  EXPECT_EQ(j["images"], 1);
  EXPECT_EQ(j["skipped"].size(), 2u);
  EXPECT_NE(log.find("broken.png"), std::string::npos);
  // A second run without exist_ok gets a new numbered folder.
  ASSERT_EQ(run_vyolo_cli("predict weights=" + (shared / "parity/trained_weights.safetensors").string() + " source=" +
                          (dir / "src/valimg0000.png").string() + " project=" + (dir / "runs").string() + " name=p"),
            0);
  EXPECT_TRUE(fs::exists(dir / "runs/p2/predictions.json"));
  fs::remove_all(dir);
}

TEST(PredictCli, BadWeightsAndPathsFailWithClearMessages) {
  auto shared = shared_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared is absent: parity weights not available";
  if (!fs::exists(VYOLO_BINARY)) GTEST_SKIP() << "vyolo binary not built";
  auto dir = fs::temp_directory_path() / "vyolo_predict_cli_bad";
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_file_atomic(dir / "trunc.safetensors", read_file(shared / "parity/trained_weights.safetensors").substr(0, 5000));
  std::string log;
  EXPECT_EQ(run_vyolo_cli("predict weights=" + (dir / "trunc.safetensors").string() + " source=" +
                              (shared / "parity/valimg0000.png").string() + " project=" + (dir / "runs").string(),
                          &log),
            1);
  EXPECT_NE(log.find("trunc.safetensors"), std::string::npos) << log;
  EXPECT_NE(log.find("truncated"), std::string::npos) << log;
  EXPECT_EQ(run_vyolo_cli("predict weights=" + (shared / "parity/trained_weights.safetensors").string() +
                              " source=" + (dir / "missing").string() + " project=" + (dir / "runs").string(),
                          &log),
            1);
  EXPECT_NE(log.find("missing"), std::string::npos) << log;
  EXPECT_EQ(run_vyolo_cli("predict source=x", &log), 2);
  EXPECT_NE(log.find("weights="), std::string::npos) << log;
  fs::remove_all(dir);
}
