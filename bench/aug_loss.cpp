// Augmentation parity check (a measurement, not a speed benchmark): the mean training loss (box, cls, dfl) of one
// fixed, trained model over every augmented training batch of a few epochs. Two augmentation pipelines that make
// equally hard samples (same box placement, clipping, filtering, colour and geometry statistics) give the same means
// within seed noise; a misplaced box or a missing filter shows as a higher box or dfl loss. bench/aug_parity.sh runs
// this beside the same computation in Ultralytics.
//   aug_loss DATA_YAML WEIGHTS [seed=0] [epochs=3] [imgsz=320] [batch=16] [augment=1]
// BatchNorm layers use their running statistics, so a sample's loss does not depend on its batch mates.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "common/error.h"
#include "dataset/loader.h"
#include "loss/detection_loss.h"
#include "model/weights.h"
#include "model/yolo.h"
#include "train/validator.h"

using namespace vyolo;

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::cerr << "usage: aug_loss DATA_YAML WEIGHTS [seed=0] [epochs=3] [imgsz=320] [batch=16] [augment=1]\n";
    return 2;
  }
  std::map<std::string, std::string> kv{
      {"seed", "0"}, {"epochs", "3"}, {"imgsz", "320"}, {"batch", "16"}, {"augment", "1"}};
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (eq == std::string::npos || !kv.count(a.substr(0, eq))) throw UsageError("aug_loss: unknown argument " + a);
    kv[a.substr(0, eq)] = a.substr(eq + 1);
  }
  Config cfg;
  cfg.data.data_yaml = argv[1];
  cfg.data.image_size = std::stoi(kv["imgsz"]);
  cfg.data.batch_size = std::stoi(kv["batch"]);
  cfg.data.cache = "ram";
  cfg.data.augmentation = kv["augment"] != "0";
  cfg.seed = std::stoi(kv["seed"]);
  const int epochs = std::stoi(kv["epochs"]);

  model::ModelSpec spec;
  auto net = model::load_model(argv[2], &spec);
  net->train();  // the raw head outputs the loss takes
  for (auto& m : net->modules(true))
    if (m->as<torch::nn::BatchNorm2d>()) m->eval();
  loss::LossOptions lo;
  lo.nc = spec.num_classes;
  loss::DetectionLoss crit(lo);
  cfg.data.num_classes = spec.num_classes;

  torch::NoGradGuard ng;
  auto loader = dataset::make_train_loader(cfg);
  std::printf("epoch\tbox\tcls\tdfl\tboxes_per_image\n");
  for (int e = 0; e < epochs; ++e) {
    loader->set_epoch(e, 30);  // mosaic on (the first epochs of a 30-epoch run)
    auto sum = torch::zeros({3}, torch::kFloat64);
    int nb = 0;
    double images = 0, boxes = 0;
    for (dataset::Batch b; loader->next(b); ++nb) {
      auto x = train::batch_tensor(b, b.c, torch::kCPU);
      sum += crit.forward(net->forward(x), train::targets_tensor(b)).items.to(torch::kFloat64);
      images += b.n;
      boxes += static_cast<double>(b.targets.size());
    }
    sum /= std::max(nb, 1);
    std::printf("%d\t%.4f\t%.4f\t%.4f\t%.2f\n", e + 1, sum[0].item<double>(), sum[1].item<double>(),
                sum[2].item<double>(), boxes / std::max(images, 1.0));
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "aug_loss: " << e.what() << "\n";
  return 1;
}
