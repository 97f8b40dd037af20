// Training throughput (images/s) of the real trainer (loader, forward, loss, backward, optimizer, EMA) for yolov8n
// and yolov8s at 256 px, batch 16, mosaic on and off, on synthetic data in a temp dir. The first epoch (warm-up,
// allocator growth, oneDNN primitive creation) is excluded, as in Ultralytics' figures (../shared/anchors.md).
//   bench_train [images=64] [epochs=3] [threads=0] [variants=n,s]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/allocator.h"
#include "common/fs_util.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace vyolo;

namespace {

fs::path make_set(const fs::path& root, int n, int size) {
  std::mt19937 rng(1);
  auto uni = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  for (const char* s : {"train", "val"}) {
    fs::create_directories(root / "images" / s);
    fs::create_directories(root / "labels" / s);
    const int count = std::string(s) == "train" ? n : 8;
    for (int i = 0; i < count; ++i) {
      cv::Mat img(size, size, CV_8UC3);
      cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(90));
      std::string lab;
      for (int k = 0; k < 2; ++k) {
        int w = uni(size / 10, size / 3), h = uni(size / 10, size / 3), x = uni(0, size - w - 1), y = uni(0, size - h - 1);
        cv::rectangle(img, cv::Rect(x, y, w, h), cv::Scalar::all(uni(180, 255)), cv::FILLED);
        char b[96];
        std::snprintf(b, sizeof b, "0 %.6f %.6f %.6f %.6f\n", (x + w / 2.0) / size, (y + h / 2.0) / size,
                      double(w) / size, double(h) / size);
        lab += b;
      }
      const std::string stem = std::string("im") + std::to_string(i);
      cv::imwrite((root / "images" / s / (stem + ".png")).string(), img);
      write_file_atomic(root / "labels" / s / (stem + ".txt"), lab);
    }
  }
  write_file_atomic(root / "data.yaml", "path: " + root.string() + "\ntrain: images/train\nval: images/val\nnames: [box]\n");
  return root / "data.yaml";
}

}  // namespace

int main(int argc, char** argv) {
  vyolo::tune_allocator();  // before any tensor is allocated
  std::map<std::string, std::string> a{{"images", "64"}, {"epochs", "3"}, {"threads", "0"}, {"variants", "n,s"}};
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto eq = s.find('=');
    if (eq != std::string::npos) a[s.substr(0, eq)] = s.substr(eq + 1);
  }
  const fs::path tmp = fs::temp_directory_path() / ("vyolo_bench_train_" + std::to_string(std::random_device{}()));
  const auto yaml = make_set(tmp / "data", std::stoi(a["images"]), 256);
  const std::map<std::string, double> ultra{{"yolov8n", 33.8}, {"yolov8s", 13.0}};
  std::printf("%-8s %-7s %9s %12s %7s\n", "model", "mosaic", "images/s", "Ultralytics", "ratio");
  for (char v : a["variants"]) {
    if (v == ',') continue;
    const std::string variant = std::string("yolov8") + v;
    for (bool mosaic : {true, false}) {
      Config cfg;
      cfg.data.data_yaml = yaml.string();
      cfg.data.image_size = cfg.model.img_size = 256;
      cfg.data.batch_size = 16;
      cfg.data.num_workers = 2;
      cfg.data.names = {"box"};
      cfg.model.variant = variant;
      cfg.training.epochs = std::stoi(a["epochs"]);
      cfg.training.optimizer = "auto";
      cfg.training.val = false;
      cfg.training.threads = std::stoi(a["threads"]);
      cfg.hyp.mosaic = mosaic ? 1.0 : 0.0;
      cfg.hyp.close_mosaic = 0;
      cfg.logging.logger = "none";
      cfg.logging.log_dir = (tmp / "runs").string();
      cfg.logging.experiment_name = variant + (mosaic ? "_m" : "_p");
      train::TrainOptions opt;
      opt.progress = false;
      using clk = std::chrono::steady_clock;
      clk::time_point t0;
      long images = 0;
      double secs = 0;
      const int bs = cfg.data.batch_size;
      opt.on_batch_end = [&](int epoch, int) {
        if (epoch == 0) {
          t0 = clk::now();  // the end of the first epoch starts the clock
          return;
        }
        images += bs;
        secs = std::chrono::duration<double>(clk::now() - t0).count();
      };
      std::streambuf* old = std::cout.rdbuf(nullptr);  // silence the run's console lines
      train::train(cfg, opt);
      std::cout.rdbuf(old);
      const double ips = secs > 0 ? images / secs : 0;
      std::printf("%-8s %-7s %9.1f %12.1f %6.2fx\n", variant.c_str(), mosaic ? "on" : "off", ips, ultra.at(variant),
                  ips / ultra.at(variant));
      std::fflush(stdout);
    }
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
