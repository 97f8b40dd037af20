#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "config/hydra_files.h"
#include "infer/predict_images.h"
#include "infer/predict_volume.h"
#include "model/weights.h"

namespace vyolo::cli {

int cmd_predict(const CommandContext& ctx) {
  const auto& t = ctx.cfg.tree;
  // A CT volume (NIfTI file or DICOM series folder): 3D findings instead of per-image boxes.
  if (const auto src = t["source"]; src && src.IsScalar()) {
    const fs::path p = src.as<std::string>();
    std::error_code ec;
    if (fs::is_directory(p, ec) && fs::is_empty(p, ec))
      throw RuntimeError(p.string() + ": empty folder (no DICOM series, NIfTI file or image in it)");
    if (infer::is_volume_source(p)) {
      infer::predict_volume_command(ctx.cfg, ctx.overrides, [&](const fs::path& d) { write_hydra_files(d, ctx); });
      return 0;
    }
  }
  const auto weights = key_or<std::string>(t, "weights", "");
  const auto source = key_or<std::string>(t, "source", "");
  if (weights.empty()) throw UsageError("predict needs weights=PATH (a .safetensors checkpoint)");
  if (source.empty()) throw UsageError("predict needs source=PATH (an image, a folder, a NIfTI file or DICOM folder)");
  infer::init_threads(ctx.cfg.training.threads);
  const auto device = infer::parse_device(key_or<std::string>(t, "device", ctx.cfg.training.device));

  model::ModelSpec spec;
  auto net = model::load_model(weights, &spec);
  const ops::NmsOptions nms = infer::nms_options(t, 0.25);
  const int imgsz = key_or<int>(t, "imgsz", spec.img_size > 0 ? spec.img_size : 640);

  auto files = infer::list_image_sources(source);
  const auto out = increment_path(key_or<std::string>(t, "project", "runs/predict"),
                                  key_or<std::string>(t, "name", "predict"), key_or<bool>(t, "exist_ok", false));
  fs::create_directories(out);
  write_hydra_files(out, ctx);

  infer::Predictor predictor(net, imgsz, nms, device);
  infer::ImagePredictOptions opt;
  opt.out_dir = out;
  opt.names = spec.names;
  opt.save = key_or<bool>(t, "save", true);
  opt.save_txt = key_or<bool>(t, "save_txt", false);
  opt.batch = key_or<int>(t, "batch", 16);
  auto sum = infer::predict_images(predictor, files, opt);
  std::cout << sum.images << " image(s), " << sum.boxes << " box(es), " << sum.skipped.size()
            << " skipped; results saved to " << out.string() << "\n";
  if (sum.images == 0) {
    std::cerr << "vyolo predict: no readable image in " << source << "\n";
    return 1;
  }
  return 0;
}

}  // namespace vyolo::cli
