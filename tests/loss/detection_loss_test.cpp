// DetectionLoss: parity with Ultralytics' stored loss values, and hand-computed cases for its building blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "common/fs_util.h"
#include "common/safetensors.h"
#include "loss/detection_loss.h"
#include "ops/anchors.h"

#include <ATen/autocast_mode.h>

namespace fs = std::filesystem;

using namespace vyolo;
using namespace vyolo::loss;
using torch::Tensor;

namespace {

Tensor to_torch(const st::Tensor& t) {
  if (t.dtype != "F32") throw std::runtime_error("expected F32, got " + t.dtype);
  return torch::from_blob(const_cast<char*>(t.bytes.data()), t.shape, torch::kFloat).clone();
}

double rel_err(double ours, double ref) { return std::abs(ours - ref) / std::max(std::abs(ref), 1e-12); }

struct LossFixture {
  Tensor boxes, scores, targets;
  std::vector<std::array<int64_t, 2>> hw;
  Tensor items, sum_times_bs, focal_items;
};

bool load_fixture(const std::string& name, LossFixture* fx) {
  auto dir = shared_dir();
  if (dir.empty() || !fs::exists(dir / "parity" / name)) return false;
  auto f = st::read((dir / "parity" / name).string());
  fx->boxes = to_torch(f.tensors.at("head_boxes_raw"));
  fx->scores = to_torch(f.tensors.at("head_scores_logits"));
  fx->targets = to_torch(f.tensors.at("targets"));
  for (const char* k : {"feat0", "feat1", "feat2"}) {
    const auto& s = f.tensors.at(k).shape;
    fx->hw.push_back({s[2], s[3]});
  }
  fx->items = to_torch(f.tensors.at("loss_items_box_cls_dfl"));
  fx->sum_times_bs = to_torch(f.tensors.at("loss_sum_times_bs"));
  fx->focal_items = to_torch(f.tensors.at("loss_items_focal_g2_a0.3"));
  return true;
}

void expect_items_close(const Tensor& ours, const Tensor& ref, double tol, const std::string& what) {
  const char* names[3] = {"box", "cls", "dfl"};
  for (int i = 0; i < 3; ++i) {
    double o = ours[i].item<double>(), r = ref[i].item<double>();
    std::printf("  %-40s %s ours %.7g reference %.7g rel %.2e\n", what.c_str(), names[i], o, r, rel_err(o, r));
    EXPECT_LT(rel_err(o, r), tol) << what << " " << names[i] << ": ours " << o << " reference " << r;
  }
}

void check_parity(const std::string& file, torch::Device device) {
  LossFixture fx;
  if (!load_fixture(file, &fx)) GTEST_SKIP() << "../shared/parity/" << file << " not present";
  LossOptions opt;
  opt.nc = 1;
  DetectionLoss loss(opt);
  auto res = loss.forward(fx.boxes.to(device), fx.scores.to(device), fx.hw, fx.targets);
  Tensor items = res.items.cpu();
  expect_items_close(items, fx.items, 1e-4, file);
  const double ref_sum = fx.sum_times_bs.sum().item<double>();
  EXPECT_LT(rel_err(res.loss_sum_times_bs.item<double>(), ref_sum), 1e-4) << file;
  expect_items_close(items * fx.boxes.size(0), fx.sum_times_bs, 1e-4, file + " times bs");

  opt.focal = true;
  opt.focal_gamma = 2.0;
  opt.focal_alpha = 0.3;
  auto focal = DetectionLoss(opt).forward(fx.boxes.to(device), fx.scores.to(device), fx.hw, fx.targets);
  expect_items_close(focal.items.cpu(), fx.focal_items, 1e-4, file + " focal");

  // The feature-map entry point gives the same numbers as the flattened one.
  std::vector<Tensor> feats;
  int64_t start = 0;
  Tensor cat = torch::cat({fx.boxes, fx.scores}, 1).to(device);
  for (auto& s : fx.hw) {
    feats.push_back(cat.narrow(2, start, s[0] * s[1]).reshape({cat.size(0), cat.size(1), s[0], s[1]}));
    start += s[0] * s[1];
  }
  auto res2 = DetectionLoss(LossOptions{1}).forward(feats, fx.targets);
  expect_items_close(res2.items.cpu(), fx.items, 1e-4, file + " feats");
  for (auto& f : feats) f = f.contiguous(at::MemoryFormat::ChannelsLast);
  res2 = DetectionLoss(LossOptions{1}).forward(feats, fx.targets);
  expect_items_close(res2.items.cpu(), fx.items, 1e-4, file + " feats channels-last");
}

}  // namespace

TEST(LossParity, InitWeightsHeadOutputs) { check_parity("init_loss.safetensors", torch::kCPU); }
TEST(LossParity, TrainedWeightsHeadOutputs) { check_parity("trained_loss.safetensors", torch::kCPU); }

TEST(LossParity, Cuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  check_parity("init_loss.safetensors", torch::kCUDA);
  check_parity("trained_loss.safetensors", torch::kCUDA);
}

TEST(LossParity, GradientFlowsToHeadOutputs) {
  LossFixture fx;
  if (!load_fixture("trained_loss.safetensors", &fx)) GTEST_SKIP() << "../shared/parity absent";
  Tensor boxes = fx.boxes.clone().requires_grad_(true), scores = fx.scores.clone().requires_grad_(true);
  auto res = DetectionLoss(LossOptions{1}).forward(boxes, scores, fx.hw, fx.targets);
  res.loss_sum_times_bs.backward();
  ASSERT_TRUE(boxes.grad().defined());
  EXPECT_TRUE(torch::isfinite(boxes.grad()).all().item<bool>());
  EXPECT_GT(boxes.grad().abs().sum().item<double>(), 0);
  EXPECT_GT(scores.grad().abs().sum().item<double>(), 0);
  // Image 2 has no boxes: its box logits get no gradient, its class logits are pushed down.
  EXPECT_EQ(boxes.grad()[2].abs().sum().item<double>(), 0);
  EXPECT_GT(scores.grad()[2].min().item<double>(), 0);
}

// --- building blocks ----------------------------------------------------------------------------------------------

TEST(Ciou, KnownBoxes) {
  auto ciou = [](std::vector<float> a, std::vector<float> b) {
    return bbox_ciou(torch::tensor(a).view({1, 4}), torch::tensor(b).view({1, 4})).item<double>();
  };
  // Same box: 1.
  EXPECT_NEAR(ciou({0, 0, 2, 2}, {0, 0, 2, 2}), 1.0, 1e-6);
  // Same shape, shifted by (1, 1): IoU 1/7, centre distance^2 2, enclosing diagonal^2 18, no aspect term.
  EXPECT_NEAR(ciou({0, 0, 2, 2}, {1, 1, 3, 3}), 1.0 / 7 - 2.0 / 18, 1e-6);
  // 4x2 against 2x4 at one corner: IoU 1/3, rho^2/c^2 = 2/32, aspect term v = 4/pi^2 (atan 2 - atan 0.5)^2.
  double v = 4 / (M_PI * M_PI) * std::pow(std::atan(2.0) - std::atan(0.5), 2);
  double alpha = v / (v - 1.0 / 3 + 1);
  EXPECT_NEAR(ciou({0, 0, 4, 2}, {0, 0, 2, 4}), 1.0 / 3 - (2.0 / 32 + v * alpha), 1e-6);
  // Disjoint boxes go negative.
  EXPECT_LT(ciou({0, 0, 1, 1}, {5, 5, 6, 6}), 0);
}

TEST(Dfl, UniformLogitsGiveLog16) {
  Tensor pred = torch::zeros({4, 16});
  Tensor target = torch::tensor({3.3f, 0.0f, 7.5f, 14.2f}).view({1, 4});
  EXPECT_NEAR(dfl_loss(pred, target, 16).item<double>(), std::log(16.0), 1e-5);
}

TEST(Dfl, InterpolatesBetweenNeighbouringBins) {
  // Bin 3 holds half of the probability, every other bin 1/30.
  Tensor pred = torch::zeros({4, 16});
  pred.select(1, 3).fill_(std::log(15.0));
  Tensor target = torch::full({1, 4}, 3.25f);
  double expect = 0.75 * -std::log(0.5) + 0.25 * -std::log(1.0 / 30);
  EXPECT_NEAR(dfl_loss(pred, target, 16).item<double>(), expect, 1e-5);
  // Targets beyond the last bin are clamped to 14.99: 1% on bin 14, 99% on bin 15.
  Tensor far = torch::full({1, 4}, 40.0f);
  double expect_far = 0.01 * -std::log(1.0 / 30) + 0.99 * -std::log(1.0 / 30);
  EXPECT_NEAR(dfl_loss(pred, far, 16).item<double>(), expect_far, 1e-4);
}

TEST(Anchors, CentresAndStrides) {
  auto [pts, strides] = vyolo::ops::make_anchors({{2, 3}, {1, 1}}, {8.0, 16.0}, 0.5, torch::TensorOptions(torch::kFloat));
  ASSERT_EQ(pts.size(0), 7);
  EXPECT_FLOAT_EQ(pts[0][0].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(pts[2][0].item<float>(), 2.5f);  // x runs fastest
  EXPECT_FLOAT_EQ(pts[3][1].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(strides[6][0].item<float>(), 16.0f);
  Tensor d = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f});
  Tensor a = torch::tensor({10.0f, 10.0f});
  Tensor box = vyolo::ops::dist2bbox(d, a);
  EXPECT_TRUE(torch::allclose(box, torch::tensor({9.0f, 8.0f, 13.0f, 14.0f})));
  EXPECT_TRUE(torch::allclose(bbox2dist(a, box, 15), d));
}

namespace {
// 4x4 anchors of stride 8 (centres 4, 12, 20, 28 px), one image.
Tensor grid_anchors() {
  return std::get<0>(vyolo::ops::make_anchors({{4, 4}}, {8.0}, 0.5, torch::TensorOptions(torch::kFloat))) * 8;
}
int anchor_index(int ix, int iy) { return iy * 4 + ix; }
}  // namespace

TEST(Assigner, OneBoxPicksTopKInsideByScore) {
  Tensor anchors = grid_anchors();
  const int A = 16;
  // gt (2,2)-(22,22) contains the 9 centres at 4, 12, 20; every prediction is the gt box itself (IoU 1), so the
  // alignment metric sqrt(score) ranks anchors by score.
  Tensor gt = torch::tensor({2.0f, 2.0f, 22.0f, 22.0f}).view({1, 1, 4});
  Tensor pd_bboxes = gt.expand({1, A, 4}).clone();
  Tensor scores = torch::full({1, A, 1}, 0.05f);
  scores[0][anchor_index(0, 0)][0] = 0.9f;
  scores[0][anchor_index(1, 1)][0] = 0.64f;
  scores[0][anchor_index(2, 2)][0] = 0.36f;
  scores[0][anchor_index(3, 3)][0] = 0.99f;  // outside the box: never positive
  scores[0][anchor_index(2, 0)][0] = 0.25f;
  TaskAlignedAssigner assign(/*nc=*/1, /*topk=*/3, 0.5, 6.0, {8, 16});
  auto r = assign(scores, pd_bboxes, anchors, torch::zeros({1, 1, 1}), gt, torch::ones({1, 1, 1}));
  std::vector<int> fg;
  for (int a = 0; a < A; ++a)
    if (r.fg_mask[0][a].item<bool>()) fg.push_back(a);
  EXPECT_EQ(fg, (std::vector<int>{anchor_index(0, 0), anchor_index(1, 1), anchor_index(2, 2)}));
  // Target score = metric / best metric * best IoU = sqrt(s) / sqrt(0.9).
  EXPECT_NEAR(r.target_scores[0][anchor_index(0, 0)][0].item<double>(), 1.0, 1e-5);
  EXPECT_NEAR(r.target_scores[0][anchor_index(1, 1)][0].item<double>(), 0.8 / std::sqrt(0.9), 1e-5);
  EXPECT_NEAR(r.target_scores[0][anchor_index(2, 2)][0].item<double>(), 0.6 / std::sqrt(0.9), 1e-5);
  EXPECT_EQ(r.target_scores[0][anchor_index(3, 3)][0].item<double>(), 0.0);
  EXPECT_EQ(r.target_scores[0][anchor_index(2, 0)][0].item<double>(), 0.0);
  EXPECT_TRUE(torch::allclose(r.target_bboxes[0][anchor_index(1, 1)], gt.view({4})));
}

TEST(Assigner, SharedAnchorGoesToHigherOverlapAndPaddingIsIgnored) {
  Tensor anchors = grid_anchors();
  const int A = 16;
  // Two boxes both containing anchor (12,12) only; predictions there match box 1 better. A third row is padding.
  Tensor gt = torch::tensor({{6.0f, 6.0f, 18.0f, 18.0f}, {8.0f, 8.0f, 16.0f, 17.0f}, {0.f, 0.f, 0.f, 0.f}})
                  .view({1, 3, 4});
  Tensor labels = torch::tensor({0.0f, 1.0f, 0.0f}).view({1, 3, 1});
  Tensor mask = torch::tensor({1.0f, 1.0f, 0.0f}).view({1, 3, 1});
  Tensor pd_bboxes = torch::tensor({8.0f, 8.0f, 16.0f, 17.0f}).view({1, 1, 4}).expand({1, A, 4}).clone();
  Tensor scores = torch::full({1, A, 2}, 0.5f);
  TaskAlignedAssigner assign(/*nc=*/2, /*topk=*/10, 0.5, 6.0, {8, 16});
  auto r = assign(scores, pd_bboxes, anchors, labels, gt, mask);
  const int a = anchor_index(1, 1);
  EXPECT_EQ(r.fg_mask.sum().item<int64_t>(), 1);
  EXPECT_TRUE(r.fg_mask[0][a].item<bool>());
  EXPECT_EQ(r.target_gt_idx[0][a].item<int64_t>(), 1);
  EXPECT_EQ(r.target_labels[0][a].item<int64_t>(), 1);
  EXPECT_EQ(r.target_scores[0][a][0].item<double>(), 0.0);
  EXPECT_NEAR(r.target_scores[0][a][1].item<double>(), 1.0, 1e-5);  // its own box predicted exactly
}

TEST(Assigner, BoxThinnerThanStrideIsWidenedForCandidates) {
  Tensor anchors = grid_anchors();
  // 4x4 box centred at (15,15): no anchor centre inside; widened to 16x16 it holds (12|20, 12|20).
  Tensor gt = torch::tensor({13.0f, 13.0f, 17.0f, 17.0f}).view({1, 1, 4});
  Tensor pd_bboxes = gt.expand({1, 16, 4}).clone();
  TaskAlignedAssigner assign(1, 10, 0.5, 6.0, {8, 16});
  auto r = assign(torch::full({1, 16, 1}, 0.5f), pd_bboxes, anchors, torch::zeros({1, 1, 1}), gt,
                  torch::ones({1, 1, 1}));
  EXPECT_EQ(r.fg_mask.sum().item<int64_t>(), 4);
  for (auto [ix, iy] : {std::pair{1, 1}, {2, 1}, {1, 2}, {2, 2}})
    EXPECT_TRUE(r.fg_mask[0][anchor_index(ix, iy)].item<bool>());
}

TEST(Loss, EmptyTargetsGiveOnlyBackgroundBce) {
  // Logits 0 everywhere: BCE ln 2 per anchor and class, divided by max(sum of target scores, 1) = 1.
  const int B = 2, nc = 2;
  std::vector<std::array<int64_t, 2>> hw{{4, 4}, {2, 2}, {1, 1}};
  const int A = 16 + 4 + 1;
  Tensor distri = torch::zeros({B, 64, A}, torch::requires_grad());
  Tensor scores = torch::zeros({B, nc, A}, torch::requires_grad());
  LossOptions opt;
  opt.nc = nc;
  auto res = DetectionLoss(opt).forward(distri, scores, hw, torch::zeros({0, 6}));
  EXPECT_EQ(res.items[0].item<double>(), 0.0);
  EXPECT_EQ(res.items[2].item<double>(), 0.0);
  EXPECT_NEAR(res.items[1].item<double>(), 0.5 * B * A * nc * std::log(2.0), 1e-4);
  EXPECT_NEAR(res.loss_sum_times_bs.item<double>(), B * 0.5 * B * A * nc * std::log(2.0), 1e-3);
  res.loss_sum_times_bs.backward();
  EXPECT_NEAR(scores.grad()[0][0][0].item<double>(), B * 0.5 * 0.5, 1e-6);  // d/dx BCE(x, 0) = sigmoid(x)
}

TEST(Loss, RejectsBadTargets) {
  Tensor distri = torch::zeros({1, 64, 21}), scores = torch::zeros({1, 1, 21});
  std::vector<std::array<int64_t, 2>> hw{{4, 4}, {2, 2}, {1, 1}};
  DetectionLoss loss(LossOptions{1});
  EXPECT_THROW(loss.forward(distri, scores, hw, torch::tensor({3.f, 0.f, .5f, .5f, .1f, .1f}).view({1, 6})),
               std::exception);
  EXPECT_THROW(loss.forward(distri, scores, hw, torch::zeros({2, 5})), std::exception);
  EXPECT_THROW(loss.forward(distri, scores, hw, torch::tensor({0.f, 1.f, .5f, .5f, .1f, .1f}).view({1, 6})),
               std::exception);  // class 1 with nc 1
  EXPECT_NO_THROW(loss.forward(distri, scores, hw, torch::zeros({0})));
  EXPECT_THROW(loss.forward(distri, scores, {{4, 4}}, torch::zeros({0, 6})), std::exception);
}

TEST(Loss, LowPrecisionInputsAreComputedInFloat32) {
  LossFixture fx;
  if (!load_fixture("trained_loss.safetensors", &fx)) GTEST_SKIP() << "../shared/parity absent";
  DetectionLoss loss(LossOptions{1});
  at::autocast::set_cpu_enabled(true);
  auto res = loss.forward(fx.boxes.to(torch::kBFloat16), fx.scores.to(torch::kBFloat16), fx.hw, fx.targets);
  at::autocast::set_cpu_enabled(false);
  EXPECT_EQ(res.items.scalar_type(), torch::kFloat);
  expect_items_close(res.items, fx.items, 2e-2, "bf16 inputs");
}
