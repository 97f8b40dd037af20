#include <gtest/gtest.h>

#include "common/error.h"
#include "common/fs_util.h"
#include "model/weights.h"
#include "model/yolo.h"

namespace fs = std::filesystem;

using namespace vyolo;
using namespace vyolo::model;

namespace {

std::map<std::string, torch::Tensor> load_tensors(const fs::path& p) {
  std::map<std::string, torch::Tensor> out;
  for (auto& [k, v] : st::read(p.string()).tensors) out[k] = from_st(v);
  return out;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace

TEST(Model, ParameterCountsEqualUltralytics) {
  const std::map<std::string, int64_t> expect = {{"yolov8n", 3157200},  {"yolov8s", 11166560}, {"yolov8m", 25902640},
                                                 {"yolov8l", 43691520}, {"yolov8x", 68229648}};
  for (auto& [v, n] : expect) EXPECT_EQ(YoloV8(v, 80)->num_parameters(), n) << v;
  EXPECT_EQ(YoloV8("yolov8n", 1)->num_parameters(), 3011043);
  EXPECT_EQ(YoloV8("yolov8s", 1)->num_parameters(), 11135987);
}

TEST(Model, GflopsMatchUltralyticsFigures) {
  EXPECT_NEAR(YoloV8("yolov8n", 80)->gflops(640), 8.9, 0.1);
  EXPECT_NEAR(YoloV8("yolov8n", 1)->gflops(640), 8.2, 0.1);
  EXPECT_NEAR(YoloV8("yolov8n", 1)->gflops(256), 1.31, 0.02);
  EXPECT_NEAR(YoloV8("yolov8s", 1)->gflops(256), 4.58, 0.05);
}

TEST(Model, UnknownVariantIsUsageError) { EXPECT_THROW(YoloV8("yolov9q", 1), UsageError); }

TEST(Model, TrainModeReturnsRawLevelsAndEvalDecodes) {
  YoloV8 net("yolov8n", 2, 1);
  auto raw = net->forward(torch::rand({2, 1, 64, 96}));
  ASSERT_EQ(raw.size(), 3u);
  EXPECT_EQ(raw[0].sizes(), (std::vector<int64_t>{2, 66, 8, 12}));
  EXPECT_EQ(raw[2].sizes(), (std::vector<int64_t>{2, 66, 2, 3}));
  auto out = net->decode(raw);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 6, 8 * 12 + 4 * 6 + 2 * 3}));
}

TEST(Model, SaveLoadRoundTripAndShapeErrors) {
  YoloV8 a("yolov8n", 1);
  st::File f;
  add_module_tensors(f, *a);
  YoloV8 b("yolov8n", 1);
  load_weights(b, f, "mem");
  auto x = torch::rand({1, 3, 64, 64});
  a->eval();
  b->eval();
  EXPECT_EQ(max_abs(a->predict(x), b->predict(x)), 0.0);

  YoloV8 c("yolov8n", 3);
  try {
    load_weights(c, f, "w.safetensors");
    FAIL() << "class-count mismatch loaded strictly";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("model.22.cv3.0.2."), std::string::npos) << e.what();
  }
  auto rep = load_weights(c, f, "w.safetensors", /*allow_class_change=*/true);
  EXPECT_EQ(rep.reinitialised, 6);  // weight + bias of the last cls conv at three levels

  auto g = f;
  g.tensors.erase("model.9.cv1.conv.weight");
  EXPECT_THROW(load_weights(b, g, "x"), RuntimeError);
  auto h = f;
  h.tensors["model.99.weight"] = f.tensors.at("model.0.bn.weight");
  EXPECT_THROW(load_weights(b, h, "x"), RuntimeError);
}

class Parity : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(Parity, EvalOutputMatchesUltralytics) {
  auto shared = shared_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared is absent: parity fixtures not available";
  auto [weights, io] = GetParam();
  ModelSpec spec;
  auto net = load_model((shared / "parity" / weights).string(), &spec);
  EXPECT_EQ(spec.variant, "yolov8n");
  EXPECT_EQ(spec.num_classes, 1);
  auto ref = load_tensors(shared / "parity" / io);
  net->eval();
  torch::NoGradGuard ng;
  for (bool fused : {false, true}) {
    if (fused) net->fuse();
    std::vector<torch::Tensor> neck;
    auto raw = net->forward(ref.at("input"), &neck);
    auto out = net->decode(raw);
    SCOPED_TRACE(fused ? "fused" : "unfused");
    if (!fused) {
      EXPECT_LT(max_abs(neck[0], ref.at("feat0_layer15")), 1e-4);
      EXPECT_LT(max_abs(neck[2], ref.at("feat2_layer21")), 1e-4);
    }
    ASSERT_EQ(out.sizes(), ref.at("output").sizes());
    using torch::indexing::Slice;
    EXPECT_LT(max_abs(out.index({Slice(), Slice(0, 4)}), ref.at("output").index({Slice(), Slice(0, 4)})), 1e-3);
    EXPECT_LT(max_abs(out.index({Slice(), Slice(4)}), ref.at("output").index({Slice(), Slice(4)})), 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity,
                         ::testing::Values(std::make_pair("init_weights.safetensors", "init_rand_io.safetensors"),
                                           std::make_pair("trained_weights.safetensors", "trained_rand_io.safetensors"),
                                           std::make_pair("trained_weights.safetensors",
                                                          "trained_valimg0000_io.safetensors")));
