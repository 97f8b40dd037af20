// A tiny synthetic detection set for the trainer tests: bright rectangles (one class) on dark noise, in the
// Ultralytics layout (images/{train,val}, labels/{train,val}, data.yaml), and a Config that trains on it quickly.
#pragma once
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "config/config.h"
#include "temp_dir.h"

namespace vyolo::train::test {

namespace fs = std::filesystem;

using vyolo::test::TempDir;

// n_train + n_val images of size x size, each with 1-2 rectangles of 18..40% of the side.
inline fs::path make_synthetic_set(const fs::path& root, int n_train, int n_val, int size, unsigned seed = 7) {
  std::mt19937 rng(seed);
  auto uni = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  for (int split = 0; split < 2; ++split) {
    const std::string s = split == 0 ? "train" : "val";
    fs::create_directories(root / "images" / s);
    fs::create_directories(root / "labels" / s);
    const int n = split == 0 ? n_train : n_val;
    for (int i = 0; i < n; ++i) {
      cv::Mat img(size, size, CV_8UC3);
      cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(70));
      std::ofstream lab(root / "labels" / s / ("img" + std::to_string(i) + ".txt"));
      const int boxes = 1 + uni(0, 1);
      for (int k = 0; k < boxes; ++k) {
        const int w = uni(size * 18 / 100, size * 40 / 100), h = uni(size * 18 / 100, size * 40 / 100);
        const int x = uni(0, size - w - 1), y = uni(0, size - h - 1);
        cv::rectangle(img, cv::Rect(x, y, w, h), cv::Scalar::all(uni(190, 255)), cv::FILLED);
        char buf[128];
        std::snprintf(buf, sizeof buf, "0 %.6f %.6f %.6f %.6f\n", (x + w / 2.0) / size, (y + h / 2.0) / size,
                      double(w) / size, double(h) / size);
        lab << buf;
      }
      cv::imwrite((root / "images" / s / ("img" + std::to_string(i) + ".png")).string(), img);
    }
  }
  std::ofstream(root / "data.yaml") << "path: " << root.string() << "\ntrain: images/train\nval: images/val\n"
                                    << "names:\n  0: box\n";
  return root / "data.yaml";
}

// yolov8n at `size`, batch 8, no tracker, deterministic loader, logs under `log_dir`.
inline Config small_config(const fs::path& data_yaml, const fs::path& log_dir, int size, int epochs) {
  Config cfg;
  cfg.data.data_yaml = data_yaml.string();
  cfg.data.image_size = size;
  cfg.model.img_size = size;
  cfg.data.batch_size = 8;
  cfg.data.num_workers = 1;
  cfg.data.names = {"box"};
  cfg.training.epochs = epochs;
  cfg.training.optimizer = "auto";
  cfg.training.threads = 1;  // 2 OpenMP threads spin-wait badly when other jobs share the 2 cores
  cfg.training.warmup_epochs = 1;  // 100 iterations: every short test run is inside the warmup
  cfg.training.nbs = 16;           // accumulation ramps from 1 to 2 during warmup
  cfg.hyp.close_mosaic = 0;
  cfg.logging.logger = "none";
  cfg.logging.log_dir = log_dir.string();
  cfg.logging.experiment_name = "t";
  cfg.checkpoint.save_top_k = 2;
  cfg.seed = 3;
  return cfg;
}

}  // namespace vyolo::train::test
