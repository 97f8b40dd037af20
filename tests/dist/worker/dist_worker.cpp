// One rank of the distributed tests (tests/dist/dist_test.cpp starts it with torchrun's variables; alone it is a
// world of 1). Modes:
//   grad OUT [syncbn]  yolov8n in float64 on 16 fixed 64-px images, rank r taking its 16/W of them; loss = mean over
//                      images of the mean squared head outputs; writes the (averaged) gradients to OUT as raw
//                      float32. Without syncbn BatchNorm is frozen (eval); with it BatchNorm trains, synchronised
//                      over the ranks. Float64, so that what is compared is the averaging, not float32 rounding of
//                      sums taken over 8 instead of 16 images.
//   steps OUT N        N SGD steps of the detection loss on random boxes, each rank its own images, BatchNorm per
//                      rank; after each step writes one line to OUT: a 64-bit FNV-1a hash of every parameter's bytes.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "dist/env.h"
#include "dist/grad_reducer.h"
#include "dist/group.h"
#include "dist/sync_batchnorm.h"
#include "loss/detection_loss.h"
#include "model/yolo.h"
#include "train/optim.h"

using namespace vyolo;

namespace {

uint64_t fnv1a(const torch::nn::Module& m) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& p : m.parameters()) {
    auto c = p.detach().contiguous();
    const auto* b = static_cast<const unsigned char*>(c.data_ptr());
    for (size_t i = 0; i < static_cast<size_t>(c.nbytes()); ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: dist_worker grad|steps OUT [syncbn|N]\n";
    return 2;
  }
  const std::string mode = argv[1], out = argv[2];
  torch::set_num_threads(1);
  const auto env = dist::env_from_environment();
  std::unique_ptr<dist::Group> group;
  if (env.active()) group = std::make_unique<dist::Group>(env, std::chrono::seconds(60), false);
  torch::manual_seed(0);
  model::YoloV8 net("yolov8n", 1);
  if (group) {  // as the trainer: everyone starts from rank 0's weights
    std::vector<torch::Tensor> state = net->parameters();
    for (auto& b : net->buffers()) state.push_back(b);
    torch::NoGradGuard ng;
    group->broadcast(state);
  }
  std::unique_ptr<dist::GradReducer> reducer;
  if (group) reducer = std::make_unique<dist::GradReducer>(*group, net->parameters());

  if (mode == "grad") {
    const bool syncbn = argc > 3 && std::string(argv[3]) == "syncbn";
    net->to(torch::kDouble);
    torch::manual_seed(1);
    auto x = torch::rand({16, 3, 64, 64}, torch::kDouble);
    const int64_t per = 16 / env.world;
    auto mine = x.narrow(0, env.rank * per, per);
    if (syncbn) {
      net->train();
      if (group) {
        dist::Group* g = group.get();
        net->set_norm([g](torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& t) {
          return dist::sync_batch_norm(*g, bn, t);
        });
      }
    } else {
      net->eval();  // BatchNorm frozen: running statistics, no batch dependence
    }
    auto raw = net->forward(mine);
    torch::Tensor per_image = torch::zeros({per}, torch::kDouble);
    for (auto& r : raw) per_image = per_image + r.pow(2).mean({1, 2, 3});
    per_image.mean().backward();
    if (reducer) reducer->average();
    std::ofstream f(out, std::ios::binary);
    for (const auto& p : net->parameters()) {
      auto g = (p.grad().defined() ? p.grad() : torch::zeros_like(p)).to(torch::kFloat).contiguous();
      f.write(static_cast<const char*>(g.data_ptr()), static_cast<std::streamsize>(g.nbytes()));
    }
    if (syncbn)  // the running statistics BatchNorm kept, after the gradients
      for (const auto& b : net->named_buffers())
        if (b.key().find("running_mean") != std::string::npos) {
          auto c = b.value().to(torch::kFloat).contiguous();
          f.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
        }
    return f ? 0 : 1;
  }

  if (mode == "steps") {
    const int steps = argc > 3 ? std::atoi(argv[3]) : 3;
    net->train();
    loss::LossOptions lo;
    lo.nc = 1;
    loss::DetectionLoss loss(lo);
    auto choice = train::choose_optimizer("SGD", 0.01, 0.9, 1, 100);
    auto opt = train::build_optimizer(net, choice, 0.0005);
    std::ofstream f(out);
    for (int s = 0; s < steps; ++s) {
      torch::manual_seed(100 + 10 * s + env.rank);  // every rank its own batch
      auto x = torch::rand({4, 3, 64, 64});
      // batch_idx, cls, cx, cy, w, h (normalised)
      auto t = torch::tensor({{0.f, 0.f, 0.5f, 0.5f, 0.3f, 0.4f}, {1.f, 0.f, 0.3f, 0.6f, 0.2f, 0.2f},
                              {2.f, 0.f, 0.6f, 0.4f, 0.4f, 0.3f}, {3.f, 0.f, 0.5f, 0.5f, 0.5f, 0.5f}});
      t.select(1, 2).add_(0.05 * env.rank);
      opt.zero_grad();
      auto r = loss.forward(net->forward(x), t);
      (r.loss_sum_times_bs * env.world).backward();
      if (reducer) reducer->average();
      opt.step();
      f << std::hex << fnv1a(*net) << "\n";
    }
    return f ? 0 : 1;
  }
  std::cerr << "unknown mode " << mode << "\n";
  return 2;
}
