#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "common/fs_util.h"
#include "infer/predictor.h"
#include "model/weights.h"

namespace fs = std::filesystem;

using namespace vyolo;
using namespace vyolo::infer;
namespace ops = vyolo::ops;

namespace {

torch::Tensor read_rows(const fs::path& p) {
  std::ifstream in(p);
  std::vector<float> v;
  std::string line;
  int64_t rows = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    float x;
    int n = 0;
    while (ss >> x) v.push_back(x), ++n;
    if (n == 6) ++rows; else v.resize(v.size() - n);
  }
  return torch::tensor(v).view({rows, 6});
}

}  // namespace

TEST(Nms, SuppressesOverlapsPerClassAndKeepsOrder) {
  // two overlapping boxes of class 0, one overlapping box of class 1 (kept: class-aware), one below conf
  auto pred = torch::zeros({1, 6, 4});
  auto p = pred[0];
  float rows[4][6] = {{50, 50, 20, 20, 0.9f, 0}, {51, 50, 20, 20, 0.8f, 0}, {50, 50, 20, 20, 0, 0.7f},
                      {10, 10, 5, 5, 0.1f, 0}};
  for (int a = 0; a < 4; ++a)
    for (int c = 0; c < 6; ++c) p[c][a] = rows[a][c];
  ops::NmsOptions o;
  o.conf = 0.25;
  auto out = ops::non_max_suppression(pred, o)[0];
  ASSERT_EQ(out.size(0), 2);
  EXPECT_FLOAT_EQ(out[0][4].item<float>(), 0.9f);
  EXPECT_FLOAT_EQ(out[1][5].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(out[0][0].item<float>(), 40.f);
  o.agnostic = true;
  EXPECT_EQ(ops::non_max_suppression(pred, o)[0].size(0), 1);
}

TEST(Nms, MultiLabelKeepsEveryClassAboveConf) {
  // one box scoring 0.9 for class 0 and 0.6 for class 1: best-class NMS keeps one row, multi-label two (validation)
  auto pred = torch::zeros({1, 6, 1});
  float row[6] = {50, 50, 20, 20, 0.9f, 0.6f};
  for (int c = 0; c < 6; ++c) pred[0][c][0] = row[c];
  ops::NmsOptions o;
  o.conf = 0.25;
  EXPECT_EQ(ops::non_max_suppression(pred, o)[0].size(0), 1);
  o.multi_label = true;
  auto out = ops::non_max_suppression(pred, o)[0];
  ASSERT_EQ(out.size(0), 2);
  EXPECT_FLOAT_EQ(out[1][4].item<float>(), 0.6f);
  EXPECT_FLOAT_EQ(out[1][5].item<float>(), 1.0f);
}

TEST(Nms, MatchesUltralyticsOnParityFixtures) {
  auto shared = shared_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared is absent: parity fixtures not available";
  struct Case { const char* weights; const char* io; const char* stem; };
  for (auto c : {Case{"init_weights", "init_rand_io", "init_rand"}, Case{"trained_weights", "trained_rand_io", "trained_rand"},
                 Case{"trained_weights", "trained_valimg0000_io", "trained_valimg0000"}}) {
    auto net = model::load_model((shared / "parity" / (std::string(c.weights) + ".safetensors")).string());
    net->eval();
    torch::NoGradGuard ng;
    auto io = st::read((shared / "parity" / (std::string(c.io) + ".safetensors")).string());
    auto out = net->predict(model::from_st(io.tensors.at("input")));
    for (const char* conf : {"0.001", "0.25"}) {
      ops::NmsOptions o;
      o.conf = std::stod(conf);
      auto ours = ops::non_max_suppression(out, o)[0];
      auto ref = model::from_st(io.tensors.at(std::string("nms_conf") + conf + "_iou0.7"));
      SCOPED_TRACE(std::string(c.stem) + " conf " + conf);
      ASSERT_EQ(ours.size(0), ref.size(0));
      if (ref.size(0)) EXPECT_LT((ours - ref).abs().max().item<double>(), 1e-3);
      auto txt = read_rows(shared / "parity" / (std::string(c.stem) + "_nms_conf" + conf + "_iou0.7.txt"));
      EXPECT_EQ(txt.size(0), ref.size(0));
    }
  }
}

TEST(Predictor, FindsTheBlobInTheRealValidationImage) {
  auto shared = shared_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared is absent: parity fixtures not available";
  auto net = model::load_model((shared / "parity/trained_weights.safetensors").string());
  ops::NmsOptions o;
  Predictor pred(net, 256, o, torch::kCPU);
  auto img = cv::imread((shared / "parity/valimg0000.png").string(), cv::IMREAD_COLOR);
  auto r = pred.predict({img})[0];
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NEAR(r[0].x1, 37.2, 0.1);
  EXPECT_NEAR(r[0].y1, 101.6, 0.1);
  EXPECT_NEAR(r[0].x2, 75.3, 0.1);
  EXPECT_NEAR(r[0].y2, 147.5, 0.1);
  EXPECT_NEAR(r[0].conf, 0.672, 0.001);
}
