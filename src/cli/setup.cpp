#include "cli/setup.h"

#include "common/console.h"
#include "common/error.h"
#include "dataset/yolo_dataset.h"
#include "ops/device.h"

namespace vyolo::cli {

torch::Device setup_device(const std::string& device, int threads) {
  ops::init_threads(threads);
  return ops::parse_device(device);
}

ops::NmsOptions nms_options(double conf, double iou, int max_det) {
  ops::NmsOptions nms;
  nms.conf = conf;
  nms.iou = iou;
  nms.max_det = max_det;
  return nms;
}

void check_data_classes(const Config& cfg, const model::ModelSpec& spec, const std::string& weights) {
  int n = 0;
  std::string from;
  if (cfg.given("data.data_yaml") && !cfg.data.data_yaml.empty()) {
    n = static_cast<int>(dataset::read_data_yaml(cfg.data.data_yaml).names.size());
    from = "data.data_yaml=" + cfg.data.data_yaml + " names " + std::to_string(n) + " class(es)";
  } else if (cfg.given("data.names") || cfg.given("constants.names")) {
    n = static_cast<int>(cfg.data.names.size());
    from = "data.names lists " + std::to_string(n) + " class(es)";
  } else if (cfg.given("data.num_classes") || cfg.given("constants.num_classes")) {
    n = cfg.data.num_classes;
    from = "data.num_classes=" + std::to_string(n);
  }
  if (n > 0 && spec.num_classes > 0 && n != spec.num_classes)
    throw UsageError(weights + " detects " + std::to_string(spec.num_classes) + " class(es) but " + from +
                     "; use a model trained on this data, or drop the data override");
}

infer::ModelRequest model_request(const Config& cfg, const std::string& crop, std::optional<int> margin) {
  infer::ModelRequest r;
  if (cfg.given("data.view") || cfg.given("constants.view")) r.view = cfg.data.view;
  if (cfg.given("data.hu_windows") || cfg.given("constants.hu_windows")) r.windows = cfg.data.hu_windows;
  if (!crop.empty()) r.crop = crop;
  r.margin = margin;
  return r;
}

std::vector<infer::VolumeModel> load_volume_models(const std::vector<std::string>& weights, const Config& cfg,
                                                   const infer::ModelRequest& req, const ops::NmsOptions& nms,
                                                   torch::Device device) {
  std::vector<infer::VolumeModel> models;
  for (const auto& w : weights) {
    models.push_back(infer::load_volume_model(w, cfg, req, nms, device));
    for (const auto& msg : models.back().warnings) console::warn(msg);
  }
  return models;
}

std::vector<std::string> child_args(const CommandContext& ctx, const std::string& command,
                                    const std::vector<std::string>& overrides) {
  std::vector<std::string> out{command};
  for (size_t i = 1; i < ctx.argv.size(); ++i) {
    const std::string& a = ctx.argv[i];
    if (a.empty() || a[0] != '-' || a == "-m" || a == "--multirun") continue;
    out.push_back(a);
    const bool takes_value = a == "-cd" || a == "--config-dir" || a == "-cp" || a == "--config-path" ||
                             a == "-cn" || a == "--config-name";
    if (takes_value && i + 1 < ctx.argv.size()) out.push_back(ctx.argv[++i]);
  }
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}

}  // namespace vyolo::cli
