// `vyolo evaluate weights=W source=DIR out=DIR`: the volume predictor on every study with ground truth, then slice-,
// vertebra- and patient-level metrics (infer/evaluate_studies.h).
#include <iostream>

#include "cli/command.h"
#include "cli/setup.h"
#include "common/fs_util.h"
#include "config/hydra_files.h"
#include "findings/vertebra_assign.h"
#include "infer/evaluate_studies.h"

namespace fs = std::filesystem;

namespace vyolo::cli {

int cmd_evaluate(const CommandContext& ctx) {
  const auto& cfg = ctx.cfg;
  const auto a = read_args<EvaluateArgs>(cfg);
  if (a.weights.empty())
    throw UsageError("evaluate needs weights=PATH or weights=[a,b,...] (.safetensors checkpoints)");
  if (a.source.empty()) throw UsageError("evaluate needs source=DIR (a folder of studies with ground truth)");
  if (a.out.empty()) throw UsageError("evaluate needs out=DIR (where metrics.json, sweeps and plots go)");
  const auto device = setup_device(a.device, cfg.training.threads);
  infer::EvaluateOptions opt;
  opt.label_scheme = a.vertebra_labels;
  findings::parse_label_scheme(opt.label_scheme);  // a bad name fails before any work
  opt.grades = a.grades;
  opt.min_grade = a.min_grade;
  opt.only = a.studies;  // e.g. one fold's validation patients
  opt.eval.threshold = a.threshold;
  opt.predict.threshold = opt.eval.threshold;
  opt.predict.batch = a.batch;
  if (!opt.grades.empty() && !fs::exists(opt.grades)) throw UsageError("grades=" + opt.grades + ": file not found");
  auto models = load_volume_models(a.weights, cfg, model_request(cfg, a.crop, a.margin),
                                   nms_options(a.conf, a.iou, a.max_det), device);
  const fs::path out = a.out;
  fs::create_directories(out);
  write_hydra_files(out, ctx);
  auto sum = infer::evaluate_studies(models, a.source, out, opt, &std::cout);
  std::cout << "evaluate: " << sum.evaluated << " of " << sum.studies << " studies evaluated, " << sum.skipped.size()
            << " skipped; results in " << out.string() << "\n";
  return sum.evaluated > 0 ? 0 : 1;
}

}  // namespace vyolo::cli
