#include "cli/fold_eval.h"

#include <iostream>

#include "cli/setup.h"
#include "common/console.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "common/safetensors.h"
#include "data/prepare.h"
#include "findings/calibration.h"
#include "infer/evaluate_studies.h"

namespace fs = std::filesystem;

namespace vyolo::cli {

void check_fold_eval_args(const FoldEvalArgs& a) {
  findings::parse_operating_rule(a.operating_point);
  if (a.calibration != "none" && a.calibration != "platt" && a.calibration != "isotonic")
    throw UsageError("calibration=" + a.calibration + ": expected none | platt | isotonic");
}

std::optional<fs::path> studies_dir(const std::string& given, const Config& c) {
  if (given == "none" || given == "false") return std::nullopt;
  std::error_code ec;
  if (!given.empty()) {
    if (!fs::is_directory(given, ec)) throw UsageError("studies=" + given + ": not a folder");
    return fs::path(given);
  }
  const fs::path stats = fs::path(c.data.data_dir) / "stats.json";
  if (c.data.data_yaml.empty() && fs::exists(stats, ec)) {
    try {
      const std::string source = parse_stats_recipe(read_file(stats), stats.string()).source;
      if (!source.empty() && fs::is_directory(source, ec)) return fs::path(source);
    } catch (const std::exception&) {
    }
  }
  console::info("no vertebra-level evaluation: the CT studies are unknown (give studies=DIR)");
  return std::nullopt;
}

void store_operating_point(const fs::path& path, const findings::OperatingPoint& p, const findings::Calibration& cal) {
  st::File f = st::read(path.string());
  f.metadata["operating_point"] = findings::operating_point_json(p).dump();
  if (cal.identity())
    f.metadata.erase("calibration");
  else
    f.metadata["calibration"] = findings::calibration_json(cal).dump();
  st::write_atomic(path.string(), f);
}

std::optional<FoldEvaluation> evaluate_fold(const FoldEvalArgs& a, const Config& c, const train::TrainResult& r,
                                            const fs::path& studies) {
  try {
    std::error_code ec;
    const fs::path w = fs::exists(r.best, ec) ? r.best : r.last;
    auto models = load_volume_models({w.string()}, c, infer::ModelRequest{}, nms_options(a.conf, a.iou, a.max_det),
                                     setup_device(c.training.device, c.training.threads));
    infer::EvaluateOptions opt;
    const auto& md = models.front().spec.metadata;
    auto it = md.find("vertebra_labels");
    opt.label_scheme = !a.vertebra_labels.empty()                     ? a.vertebra_labels
                       : it != md.end() && !it->second.empty() ? it->second
                                                               : "verse";
    // The model's own earlier choice must not decide this one: evaluate raw, choose here.
    opt.predict.calibration = {};
    opt.choose = findings::parse_operating_rule(a.operating_point);
    opt.fit_calibration = a.calibration;
    if (a.threshold) {
      opt.report_at_chosen = false;
      opt.eval.threshold = opt.predict.threshold = *a.threshold;
      opt.predict.threshold_source = "threshold=" + findings::format_threshold(*a.threshold);
    }
    opt.only = c.split.val_patients;
    const fs::path out = r.run_dir / "vertebra_eval";
    std::cout << "vyolo: vertebra-level evaluation of " << w.filename().string() << " on " << opt.only.size()
              << " validation studies in " << studies.string() << "\n";
    auto sum = infer::evaluate_studies(models, studies, out, opt, &std::cout);
    std::cout << "vyolo: " << sum.evaluated << " of " << sum.studies << " studies evaluated; " << out.string() << "\n";
    FoldEvaluation fe{sum.result, sum.point};
    if (sum.point && sum.point->defined) {
      const auto& p = *sum.point;
      for (const fs::path& ck : {r.best, r.last})
        if (fs::exists(ck, ec)) store_operating_point(ck, p, sum.calibration);
      char line[256];
      std::snprintf(line, sizeof line,
                    "operating point (%s on %zu validation studies): threshold %s, sensitivity %.3f, specificity "
                    "%.3f (%lld of %lld fractured vertebrae)%s",
                    p.rule.c_str(), p.studies.size(), findings::format_threshold(p.threshold).c_str(),
                    p.validation.recall, p.validation.specificity, (long long)p.validation.cm.tp,
                    (long long)p.positives, p.target_met ? "" : "; the rule's target is not reachable");
      std::cout << "vyolo: " << line << "; stored in " << r.best.filename().string() << " and "
                << r.last.filename().string() << "\n";
    } else if (sum.point) {
      console::warn("no operating point for " + r.run_dir.filename().string() + ": its validation studies have " +
                    (sum.point->positives == 0 ? "no fractured" : "only fractured") +
                    " vertebrae; predict and evaluate will use 0.5 unless threshold= is given");
    }
    return fe;
  } catch (const UsageError&) {
    throw;  // a bad operating_point= or calibration= is the user's to fix, not a fold's failure
  } catch (const std::exception& e) {
    console::warn("no vertebra-level evaluation for " + r.run_dir.filename().string() + ": " + e.what());
    return std::nullopt;
  }
}

}  // namespace vyolo::cli
