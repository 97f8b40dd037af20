// Network and predict speed beside Ultralytics' figures (../shared/anchors.md, same machine class).
//   bench_model [--threads N] [--reps N]
// Prints forward latency (batch 1), throughput (batch 16) and predict latency end to end
// (PNG decode → letterbox → forward → NMS), in ms/image and images/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "median_ms.h"
#include "common/allocator.h"
#include "ops/device.h"
#include "infer/predictor.h"
#include "model/yolo.h"

using namespace vyolo;

namespace {

using bench::median_ms;

}  // namespace

int main(int argc, char** argv) {
  vyolo::tune_allocator();  // before any tensor is allocated
  int threads = 0, reps = 10;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
  }
  ops::init_threads(threads);
  std::printf("vyolo bench_model: %d intra-op threads, LibTorch %s, oneDNN %s\n", torch::get_num_threads(),
              TORCH_VERSION, torch::hasMKLDNN() ? "yes" : "no");
  // Ultralytics 8.4.50 predict() latency, batch 1, 2 threads (ms) from anchors.md.
  const std::map<std::string, double> ul_pred = {
      {"yolov8n@256", 77}, {"yolov8n@640", 59}, {"yolov8s@256", 99}, {"yolov8s@640", 152}};
  const std::map<std::string, double> ul_pred1 = {
      {"yolov8n@256", 119}, {"yolov8n@640", 357}, {"yolov8s@256", 275}, {"yolov8s@640", 1295}};
  std::printf("\n| model | imgsz | fwd b1 ms | fwd b16 img/s | predict ms/img | predict img/s | Ultralytics 2-thr ms |"
              " ratio | Ultralytics 1-thr ms |\n|---|---|---|---|---|---|---|---|---|\n");
  torch::NoGradGuard ng;
  for (std::string v : {"yolov8n", "yolov8s"}) {
    for (int sz : {256, 640}) {
      model::YoloV8 net(v, 1);
      net->eval();
      net->fuse();
      auto x1 = torch::rand({1, 3, sz, sz});
      auto x16 = torch::rand({16, 3, sz, sz});
      double fwd1 = median_ms(reps, [&] { net->predict(x1); });
      double fwd16 = median_ms(std::max(2, reps / 4), [&] { net->predict(x16); });
      // End-to-end predict on an encoded image of the same size.
      cv::Mat img(sz, sz, CV_8UC3);
      cv::randu(img, 0, 255);
      std::vector<uchar> png;
      cv::imencode(".png", img, png);
      infer::Predictor pred(model::YoloV8(v, 1), sz, ops::NmsOptions{}, torch::kCPU);
      double p = median_ms(reps, [&] {
        cv::Mat im = cv::imdecode(png, cv::IMREAD_COLOR);
        pred.predict({im});
      });
      const std::string key = v + "@" + std::to_string(sz);
      std::printf("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.0f | %.2fx | %.0f |\n", v.c_str(), sz, fwd1,
                  16000.0 / fwd16, p, 1000.0 / p, ul_pred.at(key), p / ul_pred.at(key), ul_pred1.at(key));
      std::fflush(stdout);
    }
  }
  std::printf("\nratio = our predict latency / Ultralytics' 2-thread predict latency (goal <= 0.6)\n");
  return 0;
}
