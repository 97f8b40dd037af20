// Entry checks of the network and of src/ops' tensor functions: a wrong shape, dtype or count fails at once with a
// c10::Error that names the function and the shape it got, not deep inside a convolution or a cat.
#include <gtest/gtest.h>

#include "model/yolo.h"
#include "ops/anchors.h"
#include "ops/nms.h"
#include "torch_check.h"

using vyolo::test::torch_check_fails;

namespace {

TEST(EntryChecks, YoloForwardWantsBxCxHxWFloatInput) {
  vyolo::model::YoloV8 net("yolov8n", 1, /*input_channels=*/3);
  torch::NoGradGuard ng;
  EXPECT_TRUE(torch_check_fails([&] { net->forward(torch::zeros({1, 1, 64, 64})); },
                                {"YoloV8::forward", "(B, 3, H, W)", "[1, 1, 64, 64]"}));
  EXPECT_TRUE(torch_check_fails([&] { net->forward(torch::zeros({3, 64, 64})); }, {"YoloV8::forward", "[3, 64, 64]"}));
  EXPECT_TRUE(torch_check_fails([&] { net->predict(torch::zeros({1, 3, 64, 64}, torch::kByte)); },
                                {"YoloV8::forward", "floating-point", "Byte"}));
  EXPECT_EQ(net->forward(torch::zeros({1, 3, 64, 64})).size(), 3u);  // the right shape still runs
}

TEST(EntryChecks, DetectHeadChecksLevels) {
  vyolo::model::YoloV8 net("yolov8n", 2);
  torch::NoGradGuard ng;
  auto raw = net->forward(torch::zeros({1, 3, 64, 64}));
  EXPECT_TRUE(torch_check_fails([&] { net->decode({raw[0], raw[1]}); }, {"Detect::decode", "3 level outputs, got 2"}));
  EXPECT_TRUE(torch_check_fails([&] { net->decode({raw[0], raw[1], raw[2].narrow(1, 0, 65)}); },
                                {"Detect::decode", "(B, 66, H, W)", "[1, 65, 2, 2]"}));
  EXPECT_TRUE(torch_check_fails([&] { net->detect->forward({torch::zeros({1, 5, 8, 8})}); },
                                {"Detect::forward", "3 feature maps, got 1"}));
  EXPECT_EQ(net->decode(raw).sizes(), (std::vector<int64_t>{1, 6, 84}));
}

TEST(EntryChecks, OpsNameTheFunctionAndShape) {
  using namespace vyolo::ops;
  EXPECT_TRUE(torch_check_fails([] { nms_indices(torch::zeros({5, 3}), torch::zeros({5}), 0.5); },
                                {"nms_indices", "[5, 3]"}));
  EXPECT_TRUE(torch_check_fails([] { nms_indices(torch::zeros({5, 4}), torch::zeros({4}), 0.5); },
                                {"nms_indices", "scores must be (5)", "[4]"}));
  EXPECT_TRUE(torch_check_fails([] { non_max_suppression(torch::zeros({2, 4, 10}), NmsOptions{}); },
                                {"non_max_suppression", "(B, 4 + nc, A)", "[2, 4, 10]"}));
  EXPECT_TRUE(torch_check_fails([] { dist2bbox(torch::zeros({7, 3}), torch::zeros({7, 2})); },
                                {"dist2bbox", "[7, 3]"}));
  EXPECT_TRUE(torch_check_fails([] { dist2bbox(torch::zeros({7, 4}), torch::zeros({7, 3})); },
                                {"dist2bbox", "anchor_points (..., 2)", "[7, 3]"}));
  EXPECT_TRUE(torch_check_fails([] { make_anchors({{2, 2}}, {8.0, 16.0}, 0.5, torch::kFloat); },
                                {"make_anchors", "1 feature levels but 2 strides"}));
}

}  // namespace
