#include "cli/command.h"

namespace vyolo::cli {

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> table = {
      {"train", "train one fold (default split=fold_0)", command_keys<TrainArgs>(), cmd_train},
      {"cv", "train every fold, then write the cross-validation summary", command_keys<CvArgs>(), cmd_cv},
      {"val", "evaluate a checkpoint on a split", command_keys<ValArgs>(), cmd_val},
      {"predict", "images, folders, NIfTI files or DICOM series -> boxes, overlays, reports",
       command_keys<PredictArgs>(), cmd_predict},
      {"evaluate", "studies with ground truth -> slice, vertebra and patient metrics", command_keys<EvaluateArgs>(),
       cmd_evaluate},
      {"prepare", "CT studies -> YOLO slice dataset (+ data.yaml, stats.json)", command_keys<PrepareArgs>(),
       cmd_prepare},
      {"split", "patient-level folds -> conf/split/fold_K.yaml", command_keys<SplitArgs>(), cmd_split},
      {"synth", "synthetic spine CT phantom with fracture instances", command_keys<SynthArgs>(), cmd_synth},
      {"export", "checkpoint -> ONNX model (format=onnx) for OpenCV DNN, ONNX Runtime, ...", command_keys<ExportArgs>(),
       cmd_export},
  };
  return table;
}

}  // namespace vyolo::cli
