// Validation as Ultralytics' DetectionValidator (8.4): decoded output → NMS (conf 0.001, IoU 0.7, max_det 300) →
// labels and boxes in the letterboxed batch frame (rect batches by default) → matching at IoU 0.50:0.95, AP, P/R/F1, confusion matrix;
// plus the validation losses on the raw head outputs. Used by the trainer (on the EMA model) and `vyolo val`.
#pragma once
#include <array>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dataset/loader.h"
#include "eval/detection_metrics.h"
#include "loss/detection_loss.h"
#include "model/yolo.h"

namespace vyolo::train {

struct ValOptions {
  double conf = 0.001, iou = 0.7;
  int max_det = 300;
  bool preview = true;        // draw the first batch's predictions (conf >= 0.25) into ValResult::preview
  std::vector<std::string> names;  // class names for the preview
};

struct ValResult {
  eval::DetectionMetrics metrics;
  eval::ConfusionMatrix confusion{1};
  std::array<double, 3> loss{};  // box, cls, dfl: mean over batches (when a loss was given)
  bool has_loss = false;
  int64_t images = 0, instances = 0;
  std::vector<int64_t> images_per_class, instances_per_class;  // index = class id
  double seconds = 0;
  cv::Mat preview;            // BGR mosaic of the first batch with predictions, when asked for

  // DESIGN.md §3 keys: metrics/precision(B), ..., val/box_loss, ..., val/map_50, val/map_50_95, val/precision,
  // val/recall, val/f1, fitness.
  std::map<std::string, double> row() const;
};

// Runs the network (set to eval mode, then back to its former mode) over one pass of `loader`.
ValResult validate(model::YoloV8& net, dataset::DataLoader& loader, const loss::DetectionLoss* loss,
                   torch::Device device, int nc, const ValOptions& opt = {});

// Ultralytics' validation printout: header, the `all` row, and one row per class when there are several.
std::string metrics_table(const ValResult& r, const std::vector<std::string>& names);

// A batch's images (NCHW RGB 0..1) in a grid (at most 16) with its labels (green) or the given detections in the
// batch's pixel frame (per image; red, with class and confidence). BGR 8-bit.
cv::Mat draw_batch(const dataset::Batch& b, const std::vector<std::string>& names,
                   const std::vector<std::vector<eval::Detection>>* detections = nullptr);

// NCHW float tensor of a batch with `channels` channels (the first ones of the batch), on `device`.
torch::Tensor batch_tensor(const dataset::Batch& b, int channels, torch::Device device);
// (M, 6) targets tensor of a batch.
torch::Tensor targets_tensor(const dataset::Batch& b);

}  // namespace vyolo::train
