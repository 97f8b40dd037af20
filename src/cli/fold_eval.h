// After a fold is trained: its best model on the fold's validation CT studies (vertebra-level findings into
// <run_dir>/vertebra_eval/), the clinical operating point and calibration chosen there, and both stored in the
// fold's checkpoints (metadata `operating_point`, `calibration`) for `predict` and `evaluate` to use. Shared by
// `vyolo cv` (every fold) and `vyolo train` (when the CT studies are known).
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include "config/config.h"
#include "findings/calibration.h"
#include "findings/evaluation.h"
#include "findings/operating_point.h"
#include "train/trainer.h"

namespace vyolo::cli {

struct FoldEvalArgs {
  std::string studies;                 // "" = the folder `vyolo prepare` read (stats.json); "none" = skip
  std::optional<double> threshold;     // report at this threshold instead of the chosen one
  std::string operating_point = "f1";  // findings::parse_operating_rule
  std::string calibration = "none";    // none | platt | isotonic
  std::string vertebra_labels;         // "" = the checkpoint's scheme
  double conf = 0.01, iou = 0.7;
  int max_det = 300;
};

// UsageError for a bad operating_point or calibration, before any training.
void check_fold_eval_args(const FoldEvalArgs& a);

// The folder of CT studies, or nullopt (with the reason printed) when they are unknown or `none`.
std::optional<std::filesystem::path> studies_dir(const std::string& given, const Config& c);

struct FoldEvaluation {
  findings::EvaluationResult result;
  std::optional<findings::OperatingPoint> point;  // stored in the checkpoints when defined
};

// The operating point (and calibration, or none) into a checkpoint's metadata; the file is rewritten atomically.
void store_operating_point(const std::filesystem::path& checkpoint, const findings::OperatingPoint& p,
                           const findings::Calibration& cal);

// nullopt (with a warning) when the evaluation fails; the training result stands either way.
std::optional<FoldEvaluation> evaluate_fold(const FoldEvalArgs& a, const Config& c, const train::TrainResult& r,
                                            const std::filesystem::path& studies);

}  // namespace vyolo::cli
