// `vyolo export format=onnx` through the built binary, and `vyolo predict` with the .onnx against the .safetensors it
// came from on the real X-rays of ../shared/parity/realdata (same boxes), plus the errors users meet.
#include <gtest/gtest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/fs_util.h"
#include "temp_dir.h"
#include "vyolo_cli.h"

namespace fs = std::filesystem;

using namespace vyolo;
using vyolo::test::run_vyolo_cli;
using json = nlohmann::json;
using vyolo::test::TempDir;

namespace {

struct Box {
  int cls;
  double conf, x1, y1, x2, y2;
};

std::map<std::string, std::vector<Box>> read_predictions(const fs::path& run_dir) {
  std::map<std::string, std::vector<Box>> out;
  const json j = json::parse(read_file(run_dir / "predictions.json"));
  for (const auto& p : j.at("predictions")) {
    auto& v = out[fs::path(p.at("image").get<std::string>()).filename().string()];
    for (const auto& b : p.at("boxes"))
      v.push_back({b.at("cls"), b.at("conf"), b.at("xyxy")[0], b.at("xyxy")[1], b.at("xyxy")[2], b.at("xyxy")[3]});
  }
  return out;
}

}  // namespace

TEST(ExportCli, PredictWithTheOnnxGivesTheCheckpointsBoxesOnRealImages) {
  const auto dir = shared_dir() / "parity" / "realdata";
  if (shared_dir().empty() || !fs::exists(dir / "yolov8n_spine_ul.safetensors"))
    GTEST_SKIP() << "../shared/parity/realdata is absent: real-image fixtures not available";
  if (!fs::exists(VYOLO_BINARY)) GTEST_SKIP() << "vyolo binary not built";
  TempDir tmp("export_cli");
  fs::copy_file(dir / "yolov8n_spine_ul.safetensors", tmp.path / "spine.safetensors");
  std::string log;
  // dynamic=true: the non-square X-rays keep the minimal-rectangle letterbox of the checkpoint's predictor.
  ASSERT_EQ(
      run_vyolo_cli(
          "export weights=" + (tmp.path / "spine.safetensors").string() + " format=onnx imgsz=320 dynamic=true", &log),
      0)
      << log;
  EXPECT_NE(log.find("ONNX checker and shape inference passed"), std::string::npos) << log;
  ASSERT_TRUE(fs::exists(tmp.path / "spine.onnx"));
  double worst = 0;
  size_t boxes = 0;
  for (int imgsz : {320, 640}) {
    SCOPED_TRACE("imgsz " + std::to_string(imgsz));
    std::map<std::string, std::vector<Box>> got[2];
    for (int k = 0; k < 2; ++k) {
      const std::string name = (k ? "onnx" : "st") + std::to_string(imgsz);
      ASSERT_EQ(run_vyolo_cli("predict weights=" + (tmp.path / (k ? "spine.onnx" : "spine.safetensors")).string() +
                                  " source=" + (dir / "images").string() + " imgsz=" + std::to_string(imgsz) +
                                  " save=false project=" + (tmp.path / "runs").string() + " name=" + name,
                              &log),
                0)
          << log;
      got[k] = read_predictions(tmp.path / "runs" / name);
    }
    ASSERT_EQ(got[0].size(), 12u);
    ASSERT_EQ(got[1].size(), got[0].size());
    for (const auto& [image, ref] : got[0]) {
      SCOPED_TRACE(image);
      const auto& ours = got[1].at(image);
      ASSERT_EQ(ours.size(), ref.size()) << "box count";
      // Descending score in both; equal scores may come in either order, so each box pairs with the nearest one.
      std::vector<char> used(ours.size(), 0);
      for (const auto& r : ref) {
        double best = 1e9;
        size_t bi = 0;
        for (size_t j = 0; j < ours.size(); ++j) {
          if (used[j] || ours[j].cls != r.cls) continue;
          const double d = std::max({std::abs(ours[j].x1 - r.x1), std::abs(ours[j].y1 - r.y1),
                                     std::abs(ours[j].x2 - r.x2), std::abs(ours[j].y2 - r.y2)});
          if (d < best) best = d, bi = j;
        }
        ASSERT_LT(best, 1e9) << "unpaired box";
        used[bi] = 1;
        EXPECT_LE(best, 1e-3) << "box in original-image pixels";
        EXPECT_NEAR(ours[bi].conf, r.conf, 1e-4);
        worst = std::max(worst, best);
        ++boxes;
      }
    }
  }
  EXPECT_GT(boxes, 100u);
  std::printf("[ measured ] %zu boxes, largest difference %.2e px\n", boxes, worst);
}

TEST(ExportCli, BadArgumentsAndModelsFailWithClearMessages) {
  const auto w = shared_dir() / "parity" / "trained_weights.safetensors";
  if (shared_dir().empty() || !fs::exists(w)) GTEST_SKIP() << "../shared is absent: parity weights not available";
  if (!fs::exists(VYOLO_BINARY)) GTEST_SKIP() << "vyolo binary not built";
  TempDir tmp("export_cli_bad");
  fs::copy_file(w, tmp.path / "m.safetensors");
  const std::string ws = (tmp.path / "m.safetensors").string(), wo = (tmp.path / "m.onnx").string();
  const std::string img = (shared_dir() / "parity" / "valimg0000.png").string();
  const std::string runs = " project=" + (tmp.path / "runs").string();
  std::string log;
  auto expect = [&](const std::string& args, int rc, const std::string& needle) {
    EXPECT_EQ(run_vyolo_cli(args, &log), rc) << args << "\n" << log;
    EXPECT_NE(log.find(needle), std::string::npos) << args << "\n" << log;
  };
  expect("export format=onnx", 2, "weights=");
  expect("export weights=" + ws + " format=tflite", 2, "format=tflite is not supported");
  expect("export weights=" + ws + " opset=11", 2, "opsets 12 to 17");
  expect("export weights=" + (tmp.path / "none.safetensors").string(), 2, "not found");
  expect("export weights=" + ws + " half=true", 2, "half");  // not a key of export
  EXPECT_FALSE(fs::exists(wo));
  expect("export weights=" + ws + " imgsz=256", 0, "Export complete: " + wo);
  expect("export weights=" + wo, 2, "already an ONNX model");
  expect("export weights=" + ws + " imgsz=256 opset=17", 2, "overwrite=true");
  // A fixed 256 model asked for 320; a 1-class model against 3-class data; a file that is not ONNX; val with ONNX.
  expect("predict weights=" + wo + " source=" + img + " imgsz=320" + runs, 2, "exported for 256x256");
  expect("predict weights=" + wo + " source=" + img + " data.num_classes=3" + runs, 2, "detects 1 class(es)");
  write_file_atomic(tmp.path / "junk.onnx", "not a model");
  expect("predict weights=" + (tmp.path / "junk.onnx").string() + " source=" + img + runs, 1, "not an ONNX model");
  expect("val weights=" + wo, 1, ".safetensors");
  EXPECT_FALSE(fs::exists(tmp.path / "runs")) << "nothing is written before the model is accepted";
  // And the model that was accepted runs: one box on the validation image, as with the checkpoint.
  expect("predict weights=" + wo + " source=" + img + " save_txt=true" + runs + " name=ok", 0, "1 box");
}
