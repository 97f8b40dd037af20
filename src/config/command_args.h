// The keys of each command (`vyolo predict weights=W conf=0.5`), one struct per command. A member's initializer is
// that key's only default: the YAML the composer merges at the top of the tree (so `--cfg job` shows the keys and
// struct mode accepts them), the `--help` listing and read_args all come from one key table per struct
// (command_args.cpp). An empty string, an empty list or an empty optional is `null` in the YAML ("not given").
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace vyolo {

struct TrainArgs {
  std::string weights;              // start from this checkpoint (as Ultralytics' model=)
  std::string studies;              // CT studies for the operating point; empty = those prepare read; "none" skips it
  std::string operating_point = "f1";
  std::string calibration = "none";
};

struct CvArgs {
  std::vector<std::string> folds;   // [0,2] or [fold_0,fold_2]; empty = every <config dir>/split/fold_K.yaml
  std::string studies;              // CT studies for vertebra-level evaluation; "none" skips it
  std::optional<double> threshold;  // empty = each fold's operating point
  std::string operating_point = "f1";
  std::string calibration = "none";
  std::string vertebra_labels;      // empty = the checkpoint's scheme
  double conf = 0.01, iou = 0.7;    // NMS of the vertebra-level evaluation
  int max_det = 300;
};

struct ValArgs {
  std::string weights;
  double conf = 0.001, iou = 0.7;
  int max_det = 300;
  std::string project = "runs/val", name = "val";
  bool exist_ok = false;
};

struct PredictArgs {
  std::vector<std::string> weights; // several: an ensemble (CT volumes only)
  std::string source;
  double conf = 0.25, iou = 0.7;
  std::optional<int> imgsz;         // empty = the checkpoint's training size (else 640)
  int max_det = 300;
  std::string device = "cpu";
  bool save = true, save_txt = false;
  std::string project = "runs/predict", name = "predict";
  bool exist_ok = false;
  int batch = 16;
  std::string mask;                 // vertebra label volume (CT only)
  std::string vertebra_labels = "verse";
  std::string crop;                 // empty = the checkpoint's recipe
  std::optional<int> margin;
  std::optional<double> threshold;  // empty = the checkpoint's operating point, else 0.5
};

struct EvaluateArgs {
  std::vector<std::string> weights;
  std::string source, out;
  double conf = 0.01, iou = 0.7;
  int max_det = 300;
  std::string device = "cpu";
  int batch = 16;
  std::optional<double> threshold;  // empty = the checkpoint's operating point, else 0.5
  std::string grades;               // a grades CSV
  int min_grade = 1;
  std::string vertebra_labels = "verse";
  std::string crop;
  std::optional<int> margin;
  std::vector<std::string> studies; // only these study folders
  // Validation mode: choose the operating point (and fit a calibration) on these studies and report at it;
  // update_weights=true stores both in the checkpoint.
  std::string operating_point;      // empty = use the checkpoint's (or threshold=)
  std::string calibration;          // empty = the checkpoint's
  bool update_weights = false;
};

struct ExportArgs {
  std::string weights;              // a .safetensors checkpoint
  std::string format = "onnx";
  std::optional<int> imgsz;         // empty = the checkpoint's training size (else 640)
  int batch = 1;
  bool dynamic = false;
  int opset = 12;
  bool simplify = true;
  std::string out;                  // empty = the weights path with .onnx
  bool overwrite = false;
};

// The keys `vyolo prepare` shares with the library's PrepareOptions (data/prepare.h derives from this struct), so
// each has one default.
struct PrepareKeys {
  std::string mode = "hu16";        // hu16 (HU + 32768, 16-bit) | windowed (8-bit BGR = bone, soft, wide) | slab
  std::string slab_window = "bone"; // bone | soft_tissue | wide: the window of the three slab channels
  std::string crop = "vertebra";    // vertebra (one crop per vertebra label, + margin) | none
  int margin = 5;                   // voxels added on every side of a vertebra's bounding box
  std::string keep = "all";         // all | vertebrae (only slices that contain the vertebra / any vertebra)
  int max_negatives = -1;           // cap on slices without a box per vertebra crop; -1 = no cap
  std::string vertebra_labels = "verse";  // verse | totalseg
  bool allow_unlabeled = false;     // a case without fracture mask counts as fracture-free instead of failing
  int workers = 2;
  int png_compression = 1;
};

struct PrepareArgs : PrepareKeys {
  std::string source, out;
  std::string view;                 // empty = data.view
  std::optional<int> image_size;    // empty = data.image_size
};

struct SplitArgs {
  std::string data;                 // empty = data.data_dir
  int folds = 5;
  std::string out;                  // empty = ./conf/split of the working directory
  bool overwrite = false;           // replace fold files that exist with other patients
};

struct SynthArgs {
  std::string out;
  int cases = 8, vertebrae = 7;
  double noise = 20;                // HU standard deviation
};

// A command's keys for the composer and for `--help`.
struct CommandKeys {
  std::string defaults_yaml;        // `key: default` per key, in table order
  std::string help;                 // one line per key: `  key: default    # what it is`
};

template <class Args>
CommandKeys command_keys();

// The struct filled from the composed tree (cfg.tree): a key that is absent or null keeps its default; a value of
// the wrong type is a UsageError naming the key. A list key also takes `a,b` or `"[a,b]"` typed as one string.
template <class Args>
Args read_args(const Config& cfg);

}  // namespace vyolo
