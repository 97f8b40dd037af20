// `vyolo evaluate weights=W source=DIR out=DIR`: the volume predictor on every study with ground truth, then slice-,
// vertebra- and patient-level metrics (infer/evaluate_studies.h).
#include <iostream>

#include "cli/command.h"
#include "cli/fold_eval.h"
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
  opt.predict.batch = a.batch;
  if (!opt.grades.empty() && !fs::exists(opt.grades)) throw UsageError("grades=" + opt.grades + ": file not found");
  const bool validation = !a.operating_point.empty() || !a.calibration.empty();
  if (validation) {
    FoldEvalArgs check;
    check.operating_point = a.operating_point.empty() ? "f1" : a.operating_point;
    check.calibration = a.calibration.empty() ? "none" : a.calibration;
    check_fold_eval_args(check);
    if (!a.operating_point.empty()) opt.choose = findings::parse_operating_rule(a.operating_point);
    opt.fit_calibration = check.calibration;
    opt.report_at_chosen = !a.threshold;
  }
  if (a.update_weights && (!validation || a.weights.size() != 1 || fs::path(a.weights.front()).extension() != ".safetensors"))
    throw UsageError("update_weights=true needs operating_point= and one .safetensors checkpoint");
  if (a.update_weights && a.operating_point.empty())
    throw UsageError("update_weights=true needs operating_point= (the calibration is stored beside it)");
  auto models = load_volume_models(a.weights, cfg, model_request(cfg, a.crop, a.margin),
                                   nms_options(a.conf, a.iou, a.max_det), device);
  const infer::Decision d = infer::decide_threshold(models, a.threshold);
  opt.eval.threshold = opt.predict.threshold = d.threshold;
  opt.predict.threshold_source = d.source;
  opt.predict.calibration = d.calibration;
  opt.eval.calibration = d.calibration.method;
  if (!(opt.choose && opt.report_at_chosen))
    std::cout << "evaluate: vertebra threshold " << findings::format_threshold(d.threshold) << " from " << d.source
              << (d.calibration.identity() || validation ? ""
                                                         : "; probabilities calibrated (" + d.calibration.method + ")")
              << "\n";
  const fs::path out = a.out;
  fs::create_directories(out);
  write_hydra_files(out, ctx);
  if (validation) opt.predict.calibration = {};  // scores as the detector gives them: the fit starts from them
  auto sum = infer::evaluate_studies(models, a.source, out, opt, &std::cout);
  if (sum.point && sum.point->defined)
    std::cout << "evaluate: operating point (" << sum.point->rule << " on " << sum.point->studies.size()
              << " studies): threshold " << findings::format_threshold(sum.point->threshold) << ", sensitivity "
              << sum.point->validation.recall << ", specificity " << sum.point->validation.specificity << "\n";
  else if (sum.point)
    std::cout << "evaluate: no operating point: these studies lack fractured or intact vertebrae\n";
  if (a.update_weights && sum.point && sum.point->defined) {
    store_operating_point(a.weights.front(), *sum.point, sum.calibration);
    std::cout << "evaluate: operating point and calibration (" << sum.calibration.method << ") stored in "
              << a.weights.front() << "\n";
  } else if (a.update_weights) {
    throw RuntimeError("update_weights=true: no operating point was defined; " + a.weights.front() + " is unchanged");
  }
  std::cout << "evaluate: " << sum.evaluated << " of " << sum.studies << " studies evaluated, " << sum.skipped.size()
            << " skipped; results in " << out.string() << "\n";
  return sum.evaluated > 0 ? 0 : 1;
}

}  // namespace vyolo::cli
