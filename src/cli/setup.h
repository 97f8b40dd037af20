// What the inference commands (predict, evaluate, val, cv) share: device and threads, NMS settings, and loading
// checkpoints for CT volumes with their warnings.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "infer/predict_volume.h"
#include "ops/nms.h"

namespace vyolo::cli {

// Sets the CPU threads (training.threads) and returns the parsed device.
torch::Device setup_device(const std::string& device, int threads);

ops::NmsOptions nms_options(double conf, double iou, int max_det);

// What the command line asked for explicitly (data.view, data.hu_windows.*, crop, margin): a checkpoint trained
// otherwise is an error naming both, where the unset ones follow the checkpoint.
infer::ModelRequest model_request(const Config& cfg, const std::string& crop, std::optional<int> margin);

// Loads each checkpoint for volume inference; its metadata warnings go to the console.
std::vector<infer::VolumeModel> load_volume_models(const std::vector<std::string>& weights, const Config& cfg,
                                                   const infer::ModelRequest& req, const ops::NmsOptions& nms,
                                                   torch::Device device);

}  // namespace vyolo::cli
