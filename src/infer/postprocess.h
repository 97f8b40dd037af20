// Ultralytics-compatible pre- and post-processing around the network: letterbox, NMS, scaling boxes back.
#pragma once
#include <vector>

#include <opencv2/core.hpp>

#include "common/torch_pch.h"

namespace vyolo::infer {

struct Letterboxed {
  cv::Mat image;       // padded image, same type as the input
  double ratio = 1.0;  // resize gain applied to the original
  int pad_x = 0, pad_y = 0;
};

// Ultralytics' LetterBox: resize keeping aspect so the long side fits `new_shape` (never enlarging when
// `scaleup` is false), then pad centred with grey 114. With `auto_pad` (the predictor's single-image mode) the
// padding only reaches the next multiple of `stride`.
Letterboxed letterbox(const cv::Mat& img, int new_h, int new_w, bool auto_pad, int stride = 32, bool scaleup = true,
                      const cv::Scalar& color = cv::Scalar(114, 114, 114));

struct NmsOptions {
  double conf = 0.25;
  double iou = 0.7;
  int max_det = 300;
  bool agnostic = false;
  int max_nms = 30000;
  double max_wh = 7680;  // class offset for class-aware NMS
};

// Greedy IoU suppression in descending score order (torchvision.ops.nms semantics): indices of kept boxes.
torch::Tensor nms_indices(const torch::Tensor& boxes_xyxy, const torch::Tensor& scores, double iou);

// Ultralytics' non_max_suppression on the decoded output (B, 4 + nc, A): one (n, 6) tensor per image with rows
// x1, y1, x2, y2, conf, cls in descending confidence.
std::vector<torch::Tensor> non_max_suppression(const torch::Tensor& pred, const NmsOptions& opt);

// Maps boxes (n, >=4, xyxy) from the letterboxed image back to the original image and clips them (in place).
void scale_boxes(torch::Tensor& boxes, const Letterboxed& lb, int orig_h, int orig_w);

}  // namespace vyolo::infer
