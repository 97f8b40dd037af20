// Train-mode parity: the network in training mode (BatchNorm on batch statistics), the loss and backward() from
// Ultralytics' weights reproduce its loss items and gradient norms.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "common/fs_util.h"
#include "common/safetensors.h"
#include "loss/detection_loss.h"
#include "model/weights.h"
#include "model/yolo.h"

namespace fs = std::filesystem;

using namespace vyolo;
using torch::Tensor;

namespace {

double rel_err(double ours, double ref) { return std::abs(ours - ref) / std::max(std::abs(ref), 1e-12); }

void check_train_mode(const std::string& loss_file, const std::string& weights_file) {
  auto dir = shared_dir();
  if (dir.empty() || !fs::exists(dir / "parity" / loss_file) || !fs::exists(dir / "parity" / weights_file))
    GTEST_SKIP() << "../shared/parity/" << loss_file << " or " << weights_file << " not present";
  auto lf = st::read((dir / "parity" / loss_file).string());
  const std::string wpath = (dir / "parity" / weights_file).string();
  auto wf = st::read(wpath);

  model::YoloV8 net("yolov8n", 1);
  model::load_weights(net, wf, wpath);
  Tensor input = model::from_st(lf.tensors.at("input"));
  Tensor targets = model::from_st(lf.tensors.at("targets"));
  {
    // Eval mode first: the network reproduces the stored head outputs, and the loss on them the stored items.
    torch::NoGradGuard ng;
    net->eval();
    auto raw = net->forward(input);
    std::vector<Tensor> flat;
    for (auto& r : raw) flat.push_back(r.flatten(2));
    Tensor cat = torch::cat(flat, 2);
    Tensor boxes = model::from_st(lf.tensors.at("head_boxes_raw"));
    Tensor scores = model::from_st(lf.tensors.at("head_scores_logits"));
    const double db = (cat.narrow(1, 0, 64) - boxes).abs().max().item<double>();
    const double ds = (cat.narrow(1, 64, 1) - scores).abs().max().item<double>();
    std::printf("  %-26s eval-mode head max |diff| boxes %.3g scores %.3g\n", loss_file.c_str(), db, ds);
    EXPECT_LT(db, 1e-3);
    EXPECT_LT(ds, 1e-3);
    auto ev = loss::DetectionLoss(loss::LossOptions{1}).forward(raw, targets);
    Tensor ref = model::from_st(lf.tensors.at("loss_items_box_cls_dfl"));
    for (int i = 0; i < 3; ++i) EXPECT_LT(rel_err(ev.items[i].item<double>(), ref[i].item<double>()), 1e-4);
  }
  net->train();
  auto raw = net->forward(input);
  auto res = loss::DetectionLoss(loss::LossOptions{1}).forward(raw, targets);

  Tensor ref_items = model::from_st(lf.tensors.at("train_mode_loss_items"));
  const char* names[3] = {"box", "cls", "dfl"};
  for (int i = 0; i < 3; ++i) {
    const double o = res.items[i].item<double>(), r = ref_items[i].item<double>();
    std::printf("  %-26s train-mode %s ours %.7g reference %.7g rel %.2e\n", loss_file.c_str(), names[i], o, r,
                rel_err(o, r));
    EXPECT_LT(rel_err(o, r), 1e-3) << loss_file << " " << names[i];
  }
  const double ref_sum = model::from_st(lf.tensors.at("train_mode_loss_sum_times_bs")).sum().item<double>();
  EXPECT_LT(rel_err(res.loss_sum_times_bs.item<double>(), ref_sum), 1e-3) << loss_file;

  res.loss_sum_times_bs.backward();
  auto params = net->named_parameters();
  for (const std::string name : {"model.0.conv.weight", "model.22.cv3.0.2.weight"}) {
    const Tensor* p = params.find(name);
    ASSERT_NE(p, nullptr) << name;
    ASSERT_TRUE(p->grad().defined()) << name;
    const double o = p->grad().norm().item<double>();
    const double r = model::from_st(lf.tensors.at("train_mode_grad_norm_" + name)).item<double>();
    std::printf("  %-26s grad norm %-24s ours %.7g reference %.7g rel %.2e\n", loss_file.c_str(), name.c_str(), o, r,
                rel_err(o, r));
    EXPECT_LT(rel_err(o, r), 1e-3) << loss_file << " grad " << name;
  }
}

}  // namespace

TEST(LossParity, TrainModeInitWeights) { check_train_mode("init_loss.safetensors", "init_weights.safetensors"); }
TEST(LossParity, TrainModeTrainedWeights) {
  check_train_mode("trained_loss.safetensors", "trained_weights.safetensors");
}
