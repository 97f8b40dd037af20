// Predict latency of an exported ONNX model through OpenCV DNN against the same network in LibTorch.
//   bench_onnx [--threads N] [--reps N]
// yolov8n (1 class, fresh weights: speed does not depend on them) exported at 256 and 640 (opset 12, batch 1, fixed
// size), then batch-1 forward latency and predict end to end (PNG decode → letterbox → forward → NMS) per backend.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "median_ms.h"
#include "common/allocator.h"
#include "export/onnx_export.h"
#include "infer/backend.h"
#include "infer/predictor.h"
#include "ops/device.h"

using namespace vyolo;

namespace {

using bench::median_ms;

void print_cpu() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model, flags;
  while (std::getline(in, line)) {
    if (model.empty() && line.rfind("model name", 0) == 0) model = line.substr(line.find(':') + 2);
    if (flags.empty() && line.rfind("flags", 0) == 0) flags = line;
  }
  std::string have;
  for (const char* f : {"avx2", "avx512f", "avx512_bf16", "amx_tile"})
    if (flags.find(std::string(" ") + f) != std::string::npos) have += std::string(have.empty() ? "" : " ") + f;
  std::printf("CPU: %s; flags: %s\n", model.c_str(), have.empty() ? "(none of avx2/avx512f/avx512_bf16/amx)" : have.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  vyolo::tune_allocator();
  int threads = 2, reps = 20;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
  }
  ops::init_threads(threads);
  print_cpu();
  std::printf("LibTorch %s (%d intra-op threads), OpenCV %s (DNN, %d threads)\n", TORCH_VERSION,
              torch::get_num_threads(), CV_VERSION, threads);
  std::printf("\n| model | imgsz | backend | forward b1 ms | predict ms/img | predict img/s |\n|---|---|---|---|---|---|\n");
  torch::NoGradGuard ng;
  for (int sz : {256, 640}) {
    torch::manual_seed(0);
    model::YoloV8 net("yolov8n", 1);
    exporter::OnnxOptions o;
    o.imgsz = sz;
    const std::string bytes = exporter::build_onnx(net, {"fracture"}, o);
    std::shared_ptr<infer::Backend> backends[2] = {infer::make_torch_backend(net, torch::kCPU, "yolov8n"),
                                                   infer::make_opencv_backend_from_bytes(bytes, "yolov8n.onnx")};
    cv::setNumThreads(threads);
    cv::Mat img(sz, sz, CV_8UC3);
    cv::randu(img, 0, 255);
    std::vector<uchar> png;
    cv::imencode(".png", img, png);
    auto x = torch::rand({1, 3, sz, sz});
    for (auto& b : backends) {
      // As `vyolo predict` runs each: LibTorch with the threads; for OpenCV DNN, hand_threads_to_opencv.
      torch::set_num_threads(threads);
      cv::setNumThreads(threads);
      if (b->name() == "OpenCV DNN") infer::hand_threads_to_opencv();
      const double fwd = median_ms(reps, [&] { b->forward(x); });
      infer::Predictor pred(b, sz, ops::NmsOptions{});
      const double p = median_ms(reps, [&] {
        cv::Mat im = cv::imdecode(png, cv::IMREAD_COLOR);
        pred.predict({im});
      });
      std::printf("| yolov8n | %d | %s | %.1f | %.1f | %.1f |\n", sz, b->name().c_str(), fwd, p, 1000.0 / p);
      std::fflush(stdout);
    }
  }
  return 0;
}
