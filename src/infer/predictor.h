// Image → detections, as Ultralytics' predictor does it: letterbox, RGB/255, forward, NMS, boxes scaled back.
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "ops/detection.h"
#include "ops/letterbox.h"
#include "ops/nms.h"
#include "model/yolo.h"

namespace vyolo::infer {

using ops::Detection;  // original-image pixels

class Predictor {
 public:
  Predictor(model::YoloV8 net, int imgsz, ops::NmsOptions nms, torch::Device device);

  // One result per image (8-bit BGR or grey, any size). Images of one shape run as one batch with stride padding;
  // mixed shapes are padded to imgsz x imgsz.
  std::vector<std::vector<Detection>> predict(const std::vector<cv::Mat>& images);

  // The decoded network output for a preprocessed NCHW float batch (for callers that letterbox themselves).
  torch::Tensor forward(const torch::Tensor& batch);

  int imgsz() const { return imgsz_; }

 private:
  model::YoloV8 net_;
  int imgsz_;
  ops::NmsOptions nms_;
  torch::Device device_;
};

// BGR/grey 8-bit → float tensor (C, H, W), RGB order, values / 255, with `channels` output channels.
torch::Tensor to_tensor(const cv::Mat& img, int channels);

}  // namespace vyolo::infer
