// Optimizer groups, update rules, schedules, warmup, EMA, filename templates and early stopping against
// hand-computed values (Ultralytics 8.4 trainer.py / torch_utils.py formulas).
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "train/optim.h"
#include "train/trainer.h"

using namespace vyolo;
using namespace vyolo::train;

namespace {

ParamGroup one_param(double value, double lr, double momentum, double wd) {
  ParamGroup g;
  g.params.push_back(torch::full({1}, value, torch::kFloat64).requires_grad_(true));
  g.names.push_back("p");
  g.lr = g.initial_lr = lr;
  g.momentum = momentum;
  g.weight_decay = wd;
  return g;
}

void set_grad(Optimizer& o, double g) { o.groups()[0].params[0].mutable_grad() = torch::full({1}, g, torch::kFloat64); }
double value(Optimizer& o) { return o.groups()[0].params[0].item<double>(); }

}  // namespace

TEST(Optimizer, ParameterGroupsFollowUltralytics) {
  model::YoloV8 net("yolov8n", 1);
  auto opt = build_optimizer(net, choose_optimizer("SGD", 0.01, 0.937, 1, 100), 0.0005);
  const auto& g = opt.groups();
  ASSERT_EQ(g.size(), 3u);
  size_t bn = 0, total = 0;
  for (const auto& p : net->named_parameters())
    if (p.value().requires_grad()) {
      ++total;
      if (p.key().size() > 10 && p.key().rfind(".bn.weight") == p.key().size() - 10) ++bn;
    }
  for (const auto& n : g[0].names) EXPECT_NE(n.find("bias"), std::string::npos) << n;
  for (const auto& n : g[2].names) EXPECT_EQ(n.rfind(".bn.weight"), n.size() - 10) << n;
  for (const auto& n : g[1].names) EXPECT_EQ(n.find("bias"), std::string::npos) << n;
  EXPECT_EQ(g[2].params.size(), bn);
  // Every BatchNorm has a bias, plus the 6 biased 1x1 output convolutions of the head (cv2/cv3 at 3 levels).
  EXPECT_EQ(g[0].params.size(), bn + 6);
  EXPECT_EQ(g[0].params.size() + g[1].params.size() + g[2].params.size(), total);
  EXPECT_DOUBLE_EQ(g[1].weight_decay, 0.0005);
  EXPECT_DOUBLE_EQ(g[0].weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(g[2].weight_decay, 0.0);
  EXPECT_EQ(opt.kind(), Optimizer::Kind::SGD);
}

TEST(Optimizer, AutoChoice) {
  auto a = choose_optimizer("auto", 0.5, 0.5, 1, 10000);
  EXPECT_EQ(a.name, "AdamW");
  EXPECT_DOUBLE_EQ(a.lr, 0.002);  // 0.002 * 5 / (4 + 1)
  EXPECT_DOUBLE_EQ(a.momentum, 0.9);
  EXPECT_TRUE(a.automatic);
  EXPECT_DOUBLE_EQ(choose_optimizer("auto", 0.5, 0.5, 3, 100).lr, 0.001429);  // round(0.01 / 7, 6)
  auto s = choose_optimizer("auto", 0.5, 0.5, 1, 10001);
  EXPECT_EQ(s.name, "SGD");
  EXPECT_DOUBLE_EQ(s.lr, 0.01);
  EXPECT_EQ(choose_optimizer("adamw", 0.001, 0.937, 1, 1).name, "AdamW");
  EXPECT_THROW(choose_optimizer("lion", 0.001, 0.9, 1, 1), UsageError);
}

TEST(Optimizer, SgdNesterovStepsByHand) {
  std::vector<ParamGroup> gs{one_param(1.0, 0.1, 0.9, 0.0)};
  Optimizer o(Optimizer::Kind::SGD, gs);
  set_grad(o, 0.5);
  o.step();
  EXPECT_NEAR(value(o), 0.905, 1e-12);  // buf = 0.5; p -= 0.1 * (0.5 + 0.9 * 0.5)
  set_grad(o, 0.5);
  o.step();
  EXPECT_NEAR(value(o), 0.7695, 1e-12);  // buf = 0.95; p -= 0.1 * (0.5 + 0.9 * 0.95)
}

TEST(Optimizer, SgdCoupledWeightDecay) {
  std::vector<ParamGroup> gs{one_param(2.0, 0.1, 0.0, 0.5)};
  Optimizer o(Optimizer::Kind::SGD, gs);
  set_grad(o, 0.0);
  o.step();
  EXPECT_NEAR(value(o), 2.0 - 0.1 * (0.5 * 2.0), 1e-12);
}

TEST(Optimizer, AdamWStepByHand) {
  std::vector<ParamGroup> gs{one_param(1.0, 0.1, 0.9, 0.01)};
  Optimizer o(Optimizer::Kind::AdamW, gs);
  set_grad(o, 0.5);
  o.step();
  // p *= 1 - lr*wd -> 0.999; m = 0.05, v = 0.00025; m_hat / (sqrt(v_hat) + eps) = 0.5 / (0.5 + 1e-8)
  EXPECT_NEAR(value(o), 0.999 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-12);
  // Adam couples the decay into the gradient instead: g = 0.5 + 0.01 * 1 -> first step moves by lr exactly.
  std::vector<ParamGroup> gs2{one_param(1.0, 0.1, 0.9, 0.01)};
  Optimizer a(Optimizer::Kind::Adam, gs2);
  set_grad(a, 0.5);
  a.step();
  EXPECT_NEAR(value(a), 1.0 - 0.1 * 0.51 / (0.51 + 1e-8), 1e-12);
}

TEST(Optimizer, StateRoundTrip) {
  std::vector<ParamGroup> gs{one_param(1.0, 0.1, 0.9, 0.0)};
  Optimizer o(Optimizer::Kind::AdamW, gs);
  set_grad(o, 0.5);
  o.step();
  st::File f;
  o.save(f, "optim.");
  EXPECT_TRUE(f.tensors.count("optim.p.exp_avg"));
  EXPECT_TRUE(f.tensors.count("optim.p.exp_avg_sq"));
  std::vector<ParamGroup> gs2{one_param(value(o), 0.1, 0.9, 0.0)};
  Optimizer o2(Optimizer::Kind::AdamW, gs2);
  o2.load(f, "optim.", "test");
  EXPECT_EQ(o2.steps(), 1);
  set_grad(o, 0.3);
  set_grad(o2, 0.3);
  o.step();
  o2.step();
  EXPECT_DOUBLE_EQ(value(o), value(o2));
  st::File empty;
  EXPECT_THROW(o2.load(empty, "optim.", "empty.safetensors"), RuntimeError);
}

TEST(Schedule, LinearAndCosineFactors) {
  EXPECT_DOUBLE_EQ(lr_factor(0, 100, 0.01, false), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor(50, 100, 0.01, false), 0.505);
  EXPECT_NEAR(lr_factor(100, 100, 0.01, false), 0.01, 1e-15);
  EXPECT_NEAR(lr_factor(0, 100, 0.01, true), 1.0, 1e-15);
  // one_cycle: ((1 - cos(25 pi / 100)) / 2) * (0.01 - 1) + 1
  EXPECT_NEAR(lr_factor(25, 100, 0.01, true), 1 - 0.99 * (1 - std::sqrt(0.5)) / 2, 1e-12);
  EXPECT_NEAR(lr_factor(100, 100, 0.01, true), 0.01, 1e-12);
}

TEST(Schedule, WarmupIterationsAndAccumulation) {
  EXPECT_EQ(warmup_iterations(3, 10), 100);   // at least 100
  EXPECT_EQ(warmup_iterations(3, 50), 150);
  EXPECT_EQ(warmup_iterations(0, 50), -1);
  EXPECT_EQ(nominal_accumulate(64, 16), 4);
  EXPECT_EQ(nominal_accumulate(64, 128), 1);
  EXPECT_EQ(nominal_accumulate(64, 24), 3);   // round(2.67)
}

TEST(Schedule, WarmupInterpolatesLrMomentumAndAccumulate) {
  std::vector<ParamGroup> gs{one_param(0, 0.01, 0.937, 0), one_param(0, 0.01, 0.937, 5e-4),
                             one_param(0, 0.01, 0.937, 0)};
  Optimizer o(Optimizer::Kind::SGD, gs);
  ScheduleParams p;
  p.epochs = 10, p.lrf = 0.01, p.nw = 100, p.warmup_bias_lr = 0.1, p.warmup_momentum = 0.8, p.momentum = 0.937;
  p.nbs = 64, p.batch_size = 16;
  apply_epoch_lr(o, 0, p);
  int acc = apply_warmup(o, 50, 0, p, 4);
  EXPECT_NEAR(o.groups()[0].lr, 0.1 + (0.01 - 0.1) * 0.5, 1e-15);  // bias lr falls from warmup_bias_lr
  EXPECT_NEAR(o.groups()[1].lr, 0.005, 1e-15);                      // others rise from 0
  EXPECT_NEAR(o.groups()[2].lr, 0.005, 1e-15);
  EXPECT_NEAR(o.groups()[1].momentum, 0.8685, 1e-15);
  EXPECT_EQ(acc, 2);  // round(2.5) rounds half to even, as numpy
  acc = apply_warmup(o, 75, 1, p, acc);
  // epoch 1: target lr = 0.01 * lf(1) = 0.01 * (0.9 * 0.99 + 0.01)
  EXPECT_NEAR(o.groups()[1].lr, 0.75 * 0.01 * 0.901, 1e-15);
  EXPECT_EQ(acc, 3);  // round(3.25)
  EXPECT_EQ(apply_warmup(o, 101, 1, p, 7), 7);  // after warmup nothing changes
  EXPECT_NEAR(o.groups()[1].lr, 0.75 * 0.01 * 0.901, 1e-15);
  apply_epoch_lr(o, 5, p);
  EXPECT_NEAR(o.groups()[0].lr, 0.01 * (0.5 * 0.99 + 0.01), 1e-15);
}

TEST(Ema, UpdateFormulaIncludesBatchNormBuffers) {
  model::YoloV8 net("yolov8n", 1);
  model::YoloV8 shadow("yolov8n", 1);
  copy_state(*net, *shadow);
  ModelEMA ema(shadow);
  torch::NoGradGuard ng;
  auto w0 = ema.module()->named_parameters()["model.0.conv.weight"].clone();
  auto rm0 = ema.module()->named_buffers()["model.0.bn.running_mean"].clone();
  auto nbt0 = ema.module()->named_buffers()["model.0.bn.num_batches_tracked"].clone();
  for (auto& p : net->parameters()) p.add_(1.0);
  for (auto& b : net->buffers())
    if (b.is_floating_point()) b.add_(2.0);
    else b.add_(5);
  ema.update(net);
  const double d = 0.9999 * (1 - std::exp(-1.0 / 2000));
  EXPECT_NEAR(ema.current_decay(), d, 1e-15);
  auto w1 = ema.module()->named_parameters()["model.0.conv.weight"];
  auto rm1 = ema.module()->named_buffers()["model.0.bn.running_mean"];
  EXPECT_TRUE(torch::allclose(w1, w0 + (1 - d) * 1.0, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(rm1, rm0 + (1 - d) * 2.0, 1e-6, 1e-6));
  EXPECT_TRUE(torch::equal(ema.module()->named_buffers()["model.0.bn.num_batches_tracked"], nbt0));
  EXPECT_EQ(ema.updates, 1);
}

TEST(Checkpoint, FilenameTemplate) {
  std::map<std::string, double> v{{"epoch", 3}, {"val/map_50", 0.51234}};
  EXPECT_EQ(format_filename("epoch_{epoch:02d}_map_{val/map_50:.3f}", v), "epoch_03_map_0.512");
  EXPECT_EQ(format_filename("e{epoch}", v), "e3");
  EXPECT_THROW(format_filename("{val/nope:.3f}", v), UsageError);
  EXPECT_THROW(format_filename("{epoch", v), UsageError);
}

TEST(EarlyStoppingRule, StopsAfterPatienceEpochsWithoutImprovement) {
  EarlyStopping s;
  s.patience = 2;
  EXPECT_FALSE(s(1, 0.1));
  EXPECT_FALSE(s(2, 0.2));
  EXPECT_FALSE(s(3, 0.2));  // equal is no improvement
  EXPECT_TRUE(s.possible_stop);
  EXPECT_TRUE(s(4, 0.15));
  EXPECT_EQ(s.best_epoch, 2);
  EarlyStopping never;
  never.patience = 0;
  for (int e = 1; e < 10; ++e) EXPECT_FALSE(never(e, 0.5));
}
