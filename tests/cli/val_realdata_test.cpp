// `vyolo val` with Ultralytics-trained weights on the real developer spine X-ray set (401 non-square images, 6,398
// boxes) against Ultralytics 8.4.50's own val of the same weights (../shared/parity/realdata/val_spine_dev.json:
// imgsz 320, batch 16, conf 0.001, iou 0.7), with rectangular batches (its default) and with square ones.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/fs_util.h"
#include "temp_dir.h"
#include "vyolo_cli.h"

namespace fs = std::filesystem;

using namespace vyolo;
using vyolo::test::run_vyolo_cli;

TEST(ValRealData, ReproducesUltralyticsOnTheSpineSetRectAndSquare) {
  const auto shared = shared_dir();
  const auto ref_path = shared / "parity/realdata/val_spine_dev.json";
  const auto data = shared / "data/xray_spine_vertebrae_yolo";
  if (shared.empty() || !fs::exists(ref_path) || !fs::is_directory(data / "images"))
    GTEST_SKIP() << "../shared/parity/realdata or ../shared/data/xray_spine_vertebrae_yolo is absent";
  if (!fs::exists(VYOLO_BINARY)) GTEST_SKIP() << "vyolo binary not built";
  test::TempDir tmp("val_realdata");
  // The dataset is reached through links, so that our label cache is written here, never into ../shared.
  fs::create_directory_symlink(data / "images", tmp.path / "images");
  fs::create_directory_symlink(data / "labels", tmp.path / "labels");
  write_file_atomic(tmp.path / "data.yaml", "path: " + tmp.path.string() +
                                                 "\ntrain: images\nval: images\nnames:\n  0: Vertebrae\n");
  const auto ref = nlohmann::json::parse(read_file(ref_path));
  for (const char* mode : {"rect", "square"}) {
    SCOPED_TRACE(mode);
    const bool rect = std::string(mode) == "rect";
    std::string log;
    ASSERT_EQ(
        run_vyolo_cli("val weights=" + (shared / "parity/realdata/yolov8n_spine_ul.safetensors").string() +
                          " data.data_yaml=" + (tmp.path / "data.yaml").string() +
                          " data.image_size=320 data.batch_size=16 conf=0.001 iou=0.7 val.rect=" +
                          (rect ? "true" : "false") + " project=" + (tmp.path / "runs").string() + " name=" + mode,
                      tmp.path / (std::string(mode) + ".log"), &log),
        0)
        << log;
    const auto m = nlohmann::json::parse(read_file(tmp.path / "runs" / mode / "metrics.json"));
    EXPECT_EQ(m["images"], 401);
    EXPECT_EQ(m["instances"], 6398);
    const auto& r = ref[mode];
    EXPECT_NEAR(m["metrics"]["metrics/precision(B)"].get<double>(), r["P"].get<double>(), 2e-3) << log;
    EXPECT_NEAR(m["metrics"]["metrics/recall(B)"].get<double>(), r["R"].get<double>(), 2e-3);
    EXPECT_NEAR(m["metrics"]["metrics/mAP50(B)"].get<double>(), r["mAP50"].get<double>(), 2e-3);
    EXPECT_NEAR(m["metrics"]["metrics/mAP50-95(B)"].get<double>(), r["mAP50-95"].get<double>(), 2e-3);
  }
  EXPECT_FALSE(fs::exists(data / "labels.vyolo-cache.json"));
}
