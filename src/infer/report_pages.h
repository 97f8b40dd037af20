// What the HTML reports of runs on CT volumes hold (rendered by findings/html_report.h into one self-contained file):
// `vyolo evaluate` (facts, metric tables, plots, then per study its vertebra table and the slices of the vertebrae
// called fractured), `vyolo predict` on one volume (the same for one study, without truth).
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "findings/evaluation.h"
#include "findings/ground_truth.h"
#include "findings/html_report.h"
#include "findings/vertebra_assign.h"

namespace vyolo::infer {

struct StudyPage {
  std::string id, source;
  findings::StudyFindings f;
  std::optional<findings::StudyTruth> truth;
  std::map<std::string, cv::Mat> slices;  // vertebra name -> image (vertebra_slice_images)
  std::vector<std::string> notes;
};

// The study's section: a row per vertebra (score >= threshold is called fractured), the images of called vertebrae.
findings::HtmlStudy html_study(const StudyPage& s, double threshold);

// The metric tables of an evaluation (levels at the threshold, the vertebra sweep, FROC, calibration) and its plots
// read back from `out_dir`/plots (written by findings::write_evaluation).
void add_evaluation(findings::HtmlReport& r, const findings::EvaluationResult& e, const findings::EvalOptions& opt,
                    const std::filesystem::path& out_dir);

}  // namespace vyolo::infer
