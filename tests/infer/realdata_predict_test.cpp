// Predictions on real non-square X-rays against Ultralytics 8.4.50 (../shared/parity/realdata, made with
// YOLO.predict(path, imgsz=S, conf=0.001, iou=0.7), one image per call). The 12 images were chosen so that the
// letterbox size lands on .5 (Python rounds half to even) or scale_boxes needs 8.4.50's rounded padding.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/fs_util.h"
#include "infer/predictor.h"
#include "model/weights.h"
#include "ops/letterbox.h"

namespace fs = std::filesystem;

using namespace vyolo;

namespace {

struct Ref {
  std::vector<std::array<double, 4>> xywhn;
  std::vector<double> conf, cls;
  int h = 0, w = 0;
};

// Pairs every reference box with one of ours: same class, score within `tol` and normalised xywh within `tol`.
// Greedy in reference order (descending score), so near-equal scores in another order still pair up.
int unmatched(const Ref& ref, const std::vector<infer::Detection>& ours, double tol, std::string* first) {
  std::vector<char> used(ours.size(), 0);
  int missing = 0;
  for (size_t i = 0; i < ref.conf.size(); ++i) {
    bool found = false;
    for (size_t j = 0; j < ours.size() && !found; ++j) {
      if (used[j]) continue;
      const auto& d = ours[j];
      const double cx = (d.x1 + d.x2) / 2 / ref.w, cy = (d.y1 + d.y2) / 2 / ref.h;
      const double bw = (d.x2 - d.x1) / ref.w, bh = (d.y2 - d.y1) / ref.h;
      const auto& r = ref.xywhn[i];
      const double err = std::max({std::abs(cx - r[0]), std::abs(cy - r[1]), std::abs(bw - r[2]), std::abs(bh - r[3])});
      if (d.cls == static_cast<int>(ref.cls[i]) && std::abs(d.conf - ref.conf[i]) <= tol && err <= tol)
        used[j] = 1, found = true;
    }
    if (!found && missing++ == 0 && first)
      *first = "reference box " + std::to_string(i) + " conf " + std::to_string(ref.conf[i]) + " has no match";
  }
  return missing;
}

}  // namespace

TEST(RealDataPredict, MatchesUltralyticsOnNonSquareXrays) {
  const auto dir = shared_dir() / "parity" / "realdata";
  if (shared_dir().empty() || !fs::exists(dir / "predict_320.json"))
    GTEST_SKIP() << "../shared/parity/realdata is absent: real-image parity fixtures not available";
  auto net = model::load_model((dir / "yolov8n_spine_ul.safetensors").string());
  int rounding_cases = 0;
  for (int imgsz : {320, 640}) {
    nlohmann::json js = nlohmann::json::parse(read_file(dir / ("predict_" + std::to_string(imgsz) + ".json")));
    ASSERT_EQ(js.size(), 12u);
    ops::NmsOptions nms;
    nms.conf = 0.001, nms.iou = 0.7, nms.max_det = 300;
    infer::Predictor pred(net, imgsz, nms, torch::kCPU);
    for (auto it = js.begin(); it != js.end(); ++it) {
      SCOPED_TRACE(it.key() + " at imgsz " + std::to_string(imgsz));
      Ref ref;
      for (const auto& b : it.value().at("xywhn")) ref.xywhn.push_back({b[0], b[1], b[2], b[3]});
      ref.conf = it.value().at("conf").get<std::vector<double>>();
      ref.cls = it.value().at("cls").get<std::vector<double>>();
      ref.h = it.value().at("orig_shape")[0], ref.w = it.value().at("orig_shape")[1];
      cv::Mat img = cv::imread((dir / "images" / it.key()).string(), cv::IMREAD_COLOR);
      ASSERT_FALSE(img.empty());
      ASSERT_EQ(img.rows, ref.h);
      ASSERT_EQ(img.cols, ref.w);
      // Count the images that exercise a rounding rule (a resized side on .5), so the fixture keeps its purpose.
      const double r = std::min(double(imgsz) / img.rows, double(imgsz) / img.cols);
      if (std::abs(img.cols * r - std::floor(img.cols * r) - 0.5) < 1e-9 ||
          std::abs(img.rows * r - std::floor(img.rows * r) - 0.5) < 1e-9)
        ++rounding_cases;
      auto ours = pred.predict({img})[0];
      EXPECT_EQ(ours.size(), ref.conf.size());
      std::string first;
      EXPECT_EQ(unmatched(ref, ours, 1e-4, &first), 0) << first;
    }
  }
  EXPECT_GT(rounding_cases, 0) << "no fixture image lands on a .5 resize any more";
}

TEST(RealDataPredict, LetterboxRoundsHalfToEvenAndScaleBoxesUsesTheRoundedSize) {
  // 436 x 1024 at 640: gain 0.625, width 272.5 -> 272 (Python's round), not 273.
  auto g = ops::letterbox_geometry(1024, 436, 640, 640, /*auto_pad=*/true);
  EXPECT_EQ(g.unpad_w, 272);
  EXPECT_EQ(g.unpad_h, 640);
  EXPECT_EQ(g.out_w(), 288);  // 16 px of padding up to the stride: 8 left, 8 right
  EXPECT_EQ(g.left, 8);
  // scale_boxes from that 640 x 288 input: pad = round((288 - round(272.5)) / 2 - 0.1) = 8, not round(7.75 - 0.1) = 8
  // here, but 1 px apart for 437 wide (273.125 -> 273): (288 - 273) / 2 - 0.1 = 7.4 -> 7 vs (288 - 273.125) / 2 = 7.3.
  auto m = ops::scale_boxes_mapping(640, 288, 1024, 436);
  EXPECT_DOUBLE_EQ(m.gain, 0.625);
  EXPECT_EQ(m.pad_x, 8);
  EXPECT_EQ(m.pad_y, 0);
  EXPECT_EQ(ops::pyround(2.5), 2);
  EXPECT_EQ(ops::pyround(3.5), 4);
  EXPECT_EQ(ops::pyround(-0.5), 0);
  // A pad of 12.5 (not a multiple of 2 after rounding the size) : 300 x 1000 at 640 no auto -> 192 high, 224 + 224.
  auto sq = ops::letterbox_geometry(300, 1000, 640, 640, false);
  EXPECT_EQ(sq.unpad_h, 192);
  EXPECT_EQ(sq.top, 224);
  EXPECT_EQ(sq.bottom, 224);
  cv::Mat img(300, 1000, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat out = ops::apply_letterbox(img, sq);
  EXPECT_EQ(out.rows, 640);
  EXPECT_EQ(out.at<cv::Vec3b>(0, 0), cv::Vec3b(114, 114, 114));
  EXPECT_EQ(out.at<cv::Vec3b>(320, 10), cv::Vec3b(0, 0, 0));
}
