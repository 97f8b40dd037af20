// Entry checks of the loss: a wrong shape fails at once with a c10::Error that names the function and the shape it
// got, not deep inside the assigner.
#include <gtest/gtest.h>

#include "loss/detection_loss.h"
#include "torch_check.h"

using namespace vyolo::loss;
using torch::Tensor;
using vyolo::test::torch_check_fails;

namespace {

TEST(EntryChecks, DetectionLossFeatureMaps) {
  DetectionLoss loss(LossOptions{1});  // nc 1: 64 + 1 channels per level
  std::vector<Tensor> feats{torch::zeros({2, 65, 8, 8}), torch::zeros({2, 65, 4, 4}), torch::zeros({2, 65, 2, 2})};
  const Tensor targets = torch::zeros({0, 6});
  EXPECT_TRUE(torch_check_fails([&] { loss.forward({feats[0], feats[1]}, targets); },
                                {"DetectionLoss::forward", "3 feature maps", "got 2"}));
  auto bad = feats;
  bad[1] = torch::zeros({2, 64, 4, 4});
  EXPECT_TRUE(torch_check_fails([&] { loss.forward(bad, targets); },
                                {"DetectionLoss::forward", "feature map 1 as (B, 65, H, W)", "[2, 64, 4, 4]"}));
  bad[1] = torch::zeros({1, 65, 4, 4});
  EXPECT_TRUE(torch_check_fails([&] { loss.forward(bad, targets); }, {"DetectionLoss::forward", "[1, 65, 4, 4]"}));
  EXPECT_NO_THROW(loss.forward(feats, targets));
}

TEST(EntryChecks, DetectionLossFlatPredictionsAndTargets) {
  DetectionLoss loss(LossOptions{1});
  const std::vector<std::array<int64_t, 2>> hw{{4, 4}, {2, 2}, {1, 1}};
  const Tensor distri = torch::zeros({1, 64, 21}), scores = torch::zeros({1, 1, 21});
  EXPECT_TRUE(torch_check_fails([&] { loss.forward(distri, torch::zeros({1, 2, 21}), hw, torch::zeros({0, 6})); },
                                {"DetectionLoss::forward", "pred_scores (B, 1, A)", "[1, 2, 21]"}));
  EXPECT_TRUE(torch_check_fails([&] { loss.forward(distri, scores, hw, torch::zeros({2, 5})); },
                                {"DetectionLoss::forward", "targets (M, 6)", "[2, 5]"}));
  EXPECT_TRUE(torch_check_fails([&] { loss.forward(distri, scores, {{4, 4}}, torch::zeros({0, 6})); },
                                {"DetectionLoss::forward", "3 levels in level_hw", "got 1"}));
  EXPECT_TRUE(torch_check_fails([&] { loss.forward(distri, scores, {{4, 4}, {2, 2}, {2, 2}}, torch::zeros({0, 6})); },
                                {"DetectionLoss::forward", "24 anchors", "21"}));
  EXPECT_TRUE(torch_check_fails(
      [&] { loss.forward(distri.to(torch::kInt), scores.to(torch::kInt), hw, torch::zeros({0, 6})); },
      {"DetectionLoss::forward", "floating-point"}));
}

TEST(EntryChecks, BuildingBlocks) {
  EXPECT_TRUE(torch_check_fails([] { bbox_ciou(torch::zeros({3, 4}), torch::zeros({3, 3})); },
                                {"bbox_ciou", "[3, 3]"}));
  EXPECT_TRUE(torch_check_fails([] { bbox2dist(torch::zeros({3, 4}), torch::zeros({3, 4}), 15); },
                                {"bbox2dist", "anchor_points (..., 2)", "[3, 4]"}));
  EXPECT_TRUE(torch_check_fails([] { dfl_loss(torch::zeros({4, 16}), torch::zeros({2, 4}), 16); },
                                {"dfl_loss", "pred_dist (8, 16)", "[4, 16]"}));
  EXPECT_TRUE(torch_check_fails([] { dfl_loss(torch::zeros({4, 16}), torch::zeros({4}), 16); }, {"dfl_loss", "[4]"}));
  TaskAlignedAssigner assign(/*nc=*/1);
  const Tensor scores = torch::zeros({1, 16, 1}), boxes = torch::zeros({1, 16, 4}), gt = torch::zeros({1, 2, 4});
  const Tensor one = torch::zeros({1, 2, 1});
  EXPECT_TRUE(torch_check_fails([&] { assign(scores, boxes, torch::zeros({16, 3}), one, gt, one); },
                                {"TaskAlignedAssigner", "anchors (16, 2)", "[16, 3]"}));
  EXPECT_TRUE(torch_check_fails([&] { assign(torch::zeros({1, 16, 2}), boxes, torch::zeros({16, 2}), one, gt, one); },
                                {"TaskAlignedAssigner", "pd_scores (B, A, 1)", "[1, 16, 2]"}));
  EXPECT_TRUE(torch_check_fails([&] { assign(scores, boxes, torch::zeros({16, 2}), torch::zeros({1, 2}), gt, one); },
                                {"TaskAlignedAssigner", "gt_labels and mask_gt (1, 2, 1)", "[1, 2]"}));
}

}  // namespace
