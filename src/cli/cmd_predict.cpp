// `vyolo predict weights=W source=S`: images and folders of images -> boxes (Ultralytics' predict); a NIfTI file or
// DICOM series -> fracture candidates, vertebra and patient findings (predict_volume).
#include <iostream>

#include "cli/command.h"
#include "common/console.h"
#include "cli/setup.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "config/hydra_files.h"
#include "findings/vertebra_assign.h"
#include "infer/predict_images.h"
#include "infer/predict_volume.h"
#include "model/weights.h"

namespace fs = std::filesystem;

namespace vyolo::cli {

fs::path predict_volume(const CommandContext& ctx) {
  const auto& cfg = ctx.cfg;
  const auto a = read_args<PredictArgs>(cfg);
  if (a.weights.empty())
    throw UsageError("predict needs weights=PATH or weights=[a,b,...] (.safetensors checkpoints or .onnx exports)");
  if (a.source.empty()) throw UsageError("predict needs source=PATH (a NIfTI file or DICOM folder)");
  const auto device = setup_device(a.device, cfg.training.threads);
  infer::VolumePredictOptions opt;
  opt.findings.assign.scheme = findings::parse_label_scheme(a.vertebra_labels);
  opt.batch = a.batch;
  auto models = load_volume_models(a.weights, cfg, model_request(cfg, a.crop, a.margin),
                                   nms_options(a.conf, a.iou, a.max_det), device);
  const infer::Decision d = infer::decide_threshold(models, a.threshold);
  opt.threshold = d.threshold;
  opt.threshold_source = d.source;
  opt.calibration = d.calibration;
  std::cout << "predict: vertebra threshold " << findings::format_threshold(d.threshold) << " from " << d.source
            << (d.calibration.identity() ? "" : "; probabilities calibrated (" + d.calibration.method + ")") << "\n";
  infer::VolumeStudy study = infer::load_study(a.source, a.mask);
  if (!study.mask)
    console::info("no mask= given: candidates and a patient probability only, no per-vertebra table");
  auto f = infer::predict_study(models, study, opt);

  const auto out = increment_path(a.project, a.name, a.exist_ok);
  fs::create_directories(out);
  try {
    write_hydra_files(out, ctx);
    infer::write_volume_outputs(out, study, f, models, opt, a.vertebra_labels);
  } catch (...) {
    std::error_code ec;  // leave no half-written run folder behind
    fs::remove_all(out, ec);
    throw;
  }
  std::cout << study.case_id << ": " << f.candidates.size() << " candidate(s)";
  if (f.has_mask) {
    int called = 0;
    for (auto& v : f.vertebrae) called += v.score >= opt.threshold;
    std::cout << ", " << f.vertebrae.size() << " vertebra(e), " << called << " called fractured (score >= "
              << findings::format_threshold(opt.threshold) << ")";
  }
  char pp[32];
  std::snprintf(pp, sizeof pp, "%.3f", f.patient_probability);
  std::cout << ", patient probability " << pp << "; results saved to " << out.string() << "\n";
  return out;
}

int cmd_predict(const CommandContext& ctx) {
  const auto a = read_args<PredictArgs>(ctx.cfg);
  if (!a.source.empty()) {
    const fs::path p = a.source;
    std::error_code ec;
    if (fs::is_directory(p, ec) && fs::is_empty(p, ec))
      throw RuntimeError(p.string() + ": empty folder (no DICOM series, NIfTI file or image in it)");
    if (infer::is_volume_source(p)) {
      predict_volume(ctx);
      return 0;
    }
  }
  if (a.weights.empty())
    throw UsageError("predict needs weights=PATH (a .safetensors checkpoint or an .onnx model from vyolo export)");
  if (a.weights.size() > 1) throw UsageError("predict: several weights (an ensemble) work on CT volumes only");
  if (a.source.empty()) throw UsageError("predict needs source=PATH (an image, a folder, a NIfTI file or DICOM folder)");
  const auto device = setup_device(a.device, ctx.cfg.training.threads);

  model::ModelSpec spec;
  auto backend = infer::load_backend(a.weights.front(), device, &spec);
  check_data_classes(ctx.cfg, spec, a.weights.front());
  // An export of fixed size takes its own size; otherwise the checkpoint's training size (else 640).
  const int imgsz = a.imgsz.value_or(backend->fixed_height() > 0 ? backend->fixed_height()
                                     : spec.img_size > 0        ? spec.img_size
                                                                : 640);
  infer::Predictor predictor(backend, imgsz, nms_options(a.conf, a.iou, a.max_det));

  auto files = infer::list_image_sources(a.source);
  const auto out = increment_path(a.project, a.name, a.exist_ok);
  fs::create_directories(out);
  write_hydra_files(out, ctx);

  infer::ImagePredictOptions opt;
  opt.out_dir = out;
  opt.names = spec.names;
  opt.save = a.save;
  opt.save_txt = a.save_txt;
  opt.batch = a.batch;
  auto sum = infer::predict_images(predictor, files, opt);
  std::cout << sum.images << " image(s), " << sum.boxes << " box(es), " << sum.skipped.size()
            << " skipped; results saved to " << out.string() << "\n";
  if (sum.images == 0) {
    console::info("no readable image in " + a.source);
    return 1;
  }
  return 0;
}

}  // namespace vyolo::cli
