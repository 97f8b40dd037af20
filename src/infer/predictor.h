// Image → detections, as Ultralytics' predictor does it: letterbox, RGB/255, forward, NMS, boxes scaled back. The
// forward pass is a Backend (infer/backend.h): LibTorch for checkpoints, OpenCV DNN for exported ONNX models.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "infer/backend.h"
#include "ops/detection.h"
#include "ops/letterbox.h"
#include "ops/nms.h"
#include "model/yolo.h"

namespace vyolo::infer {

using ops::Detection;  // original-image pixels

class Predictor {
 public:
  // `imgsz` is rounded up to a multiple of 32. A backend with a fixed input size (an ONNX export with
  // dynamic=false) takes only that size: another imgsz is a UsageError naming the file.
  Predictor(std::shared_ptr<Backend> backend, int imgsz, ops::NmsOptions nms);
  // The LibTorch backend for `net` (eval mode, BatchNorm folded, on `device`).
  Predictor(model::YoloV8 net, int imgsz, ops::NmsOptions nms, torch::Device device);

  // One result per image (8-bit BGR or grey, any size). Images of one shape run as one batch with stride padding
  // (the minimal rectangle); mixed shapes, or a model of fixed size, are padded to imgsz x imgsz as Ultralytics does
  // for exported models.
  std::vector<std::vector<Detection>> predict(const std::vector<cv::Mat>& images);

  // The decoded network output for a preprocessed NCHW float batch (for callers that letterbox themselves). A model
  // of fixed batch size runs it in chunks of that size (the last one padded with zeros).
  torch::Tensor forward(const torch::Tensor& batch);

  int imgsz() const { return imgsz_; }
  const Backend& backend() const { return *backend_; }

 private:
  std::shared_ptr<Backend> backend_;
  int imgsz_;
  ops::NmsOptions nms_;
};

// BGR/grey 8-bit → float tensor (C, H, W), RGB order, values / 255, with `channels` output channels.
torch::Tensor to_tensor(const cv::Mat& img, int channels);

}  // namespace vyolo::infer
