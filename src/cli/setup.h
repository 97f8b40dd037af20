// What the commands share: device and threads, NMS settings, loading checkpoints for CT volumes with their warnings
// (predict, evaluate, val, cv), and the command line of a vyolo child process (train's ranks, cv's parallel folds).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "config/command_context.h"
#include "config/config.h"
#include "infer/predict_volume.h"
#include "model/weights.h"
#include "ops/nms.h"

namespace vyolo::cli {

// Sets the CPU threads (training.threads) and returns the parsed device.
torch::Device setup_device(const std::string& device, int threads);

ops::NmsOptions nms_options(double conf, double iou, int max_det);

// The class count the command line gives for the data (data.num_classes, data.names, or the names of data.data_yaml)
// against the model's: a difference is a UsageError naming both (nothing given: nothing to check).
void check_data_classes(const Config& cfg, const model::ModelSpec& spec, const std::string& weights);

// What the command line asked for explicitly (data.view, data.hu_windows.*, crop, margin): a checkpoint trained
// otherwise is an error naming both, where the unset ones follow the checkpoint.
infer::ModelRequest model_request(const Config& cfg, const std::string& crop, std::optional<int> margin);

// Loads each checkpoint for volume inference; its metadata warnings go to the console.
std::vector<infer::VolumeModel> load_volume_models(const std::vector<std::string>& weights, const Config& cfg,
                                                   const infer::ModelRequest& req, const ops::NmsOptions& nms,
                                                   torch::Device device);

// `command`, the config flags as typed (-cd, -cn), then `overrides` (for a job of a multirun sweep: that job's).
std::vector<std::string> child_args(const CommandContext& ctx, const std::string& command,
                                    const std::vector<std::string>& overrides);

}  // namespace vyolo::cli
