// `vyolo val weights=W [overrides]`: a checkpoint on the configured split's validation images (or data.data_yaml's
// val), printed as Ultralytics' table; metrics.json and plots under project/name.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/setup.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "common/json_text.h"
#include "dataset/loader.h"
#include "eval/plots.h"
#include "model/weights.h"
#include "train/validator.h"

namespace fs = std::filesystem;

namespace vyolo::cli {

int cmd_val(const CommandContext& ctx) {
  Config cfg = ctx.cfg;
  const auto a = read_args<ValArgs>(cfg);
  const auto& weights = a.weights;
  if (weights.empty()) throw UsageError("vyolo val: weights=PATH is required (a .safetensors checkpoint)");
  if (!fs::exists(weights)) throw UsageError("vyolo val: weights file not found: " + weights);
  const auto device = setup_device(cfg.training.device, cfg.training.threads);
  model::ModelSpec spec;
  auto net = model::load_model(weights, &spec);
  check_data_classes(cfg, spec, weights);
  net->to(device);
  cfg.model.num_classes = cfg.data.num_classes = spec.num_classes;
  if (!spec.names.empty()) cfg.data.names = spec.names;
  // The checkpoint's training size unless data.image_size is given.
  if (spec.img_size > 0 && !cfg.given("data.image_size")) cfg.data.image_size = spec.img_size;

  auto loader = dataset::make_val_loader(cfg, cfg.data.batch_size);
  loss::LossOptions lo;
  lo.nc = spec.num_classes;
  lo.box = cfg.hyp.box, lo.cls = cfg.hyp.cls, lo.dfl = cfg.hyp.dfl;
  loss::DetectionLoss loss(lo);
  train::ValOptions vo;
  vo.conf = a.conf;
  vo.iou = a.iou;
  vo.max_det = a.max_det;
  auto names = spec.names;
  vo.names = names;
  auto r = train::validate(net, *loader, &loss, device, spec.num_classes, vo);
  std::cout << train::metrics_table(r, names);
  std::printf("Speed: %.1f ms per image (%lld images, %.2f s)\n", r.images ? 1000.0 * r.seconds / r.images : 0.0,
              (long long)r.images, r.seconds);

  const auto out = increment_path(a.project, a.name, a.exist_ok);
  nlohmann::json j;
  j["weights"] = weights;
  j["images"] = r.images;
  j["instances"] = r.instances;
  for (const auto& [k, v] : r.row()) j["metrics"][k] = v;
  for (const auto& c : r.metrics.per_class) {
    nlohmann::json pc;
    pc["class"] = c.cls < static_cast<int>(names.size()) ? names[c.cls] : std::to_string(c.cls);
    pc["instances"] = c.n_gt;
    pc["precision"] = c.p, pc["recall"] = c.r, pc["f1"] = c.f1, pc["map50"] = c.ap50(), pc["map50_95"] = c.ap50_95();
    j["per_class"].push_back(pc);
  }
  write_file_atomic(out / "metrics.json", json_text(j, 2) + "\n");
  eval::plot_pr_curve(r.metrics, names, (out / "PR_curve.png").string());
  eval::plot_f1_curve(r.metrics, names, (out / "F1_curve.png").string());
  eval::plot_confusion_matrix(r.confusion, names, (out / "confusion_matrix_normalized.png").string(), true);
  eval::plot_confusion_matrix(r.confusion, names, (out / "confusion_matrix.png").string(), false);
  std::cout << "Results saved to " << out.string() << "\n";
  return 0;
}

}  // namespace vyolo::cli
