#include "cli/command.h"

namespace vyolo::cli {

// Command-level keys (Ultralytics' names where Ultralytics has the option).
const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> table = {
      {"train", "train one fold (default split=fold_0)", "weights: null\n", cmd_train},
      {"cv", "train every fold, then write the cross-validation summary",
       "folds: null\nstudies: null\nthreshold: 0.5\nvertebra_labels: null\n", cmd_cv},
      {"val", "evaluate a checkpoint on a split",
       "weights: null\nconf: 0.001\niou: 0.7\nmax_det: 300\nproject: runs/val\nname: val\nexist_ok: false\n", cmd_val},
      {"predict", "images, folders, NIfTI files or DICOM series -> boxes, overlays, reports",
       "weights: null\nsource: null\nconf: 0.25\niou: 0.7\nimgsz: null\nmax_det: 300\ndevice: cpu\n"
       "save: true\nsave_txt: false\nproject: runs/predict\nname: predict\nexist_ok: false\nbatch: 16\n"
       "mask: null\nvertebra_labels: verse\ncrop: null\nmargin: null\n",
       cmd_predict},
      {"evaluate", "studies with ground truth -> slice, vertebra and patient metrics",
       "weights: null\nsource: null\nout: null\nconf: 0.01\niou: 0.7\nmax_det: 300\ndevice: cpu\nbatch: 16\n"
       "threshold: 0.5\ngrades: null\nmin_grade: 1\nvertebra_labels: verse\ncrop: null\nmargin: null\n"
       "studies: null\n",
       cmd_evaluate},
      {"prepare", "CT studies -> YOLO slice dataset (+ data.yaml, stats.json)",
       "source: null\nout: null\nview: null\nimage_size: null\nmode: hu16\nslab_window: bone\ncrop: vertebra\n"
       "margin: 5\n"
       "keep: all\nmax_negatives: -1\nvertebra_labels: verse\nallow_unlabeled: false\nworkers: 2\n"
       "png_compression: 1\n",
       cmd_prepare},
      {"split", "patient-level folds -> conf/split/fold_K.yaml", "data: null\nfolds: 5\nout: null\n", cmd_split},
      {"synth", "synthetic spine CT phantom with fracture instances", "out: null\ncases: 8\nvertebrae: 7\nnoise: 20\n",
       cmd_synth},
      {"export", "weights for other runtimes", "weights: null\nformat: safetensors\n", cmd_export},
  };
  return table;
}

}  // namespace vyolo::cli
