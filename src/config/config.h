// The typed view of a composed config (DESIGN.md §2). Everything outside src/config reads these structs, never the
// YAML tree. Defaults here equal the defaults in conf/; `load_config` fills them from a composed tree.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/search_path.h"

namespace vyolo {

struct HuWindow {
  double min = 0, max = 0;
};

struct HuWindows {
  HuWindow bone{400, 1800};
  HuWindow soft_tissue{-100, 300};
  HuWindow wide{-200, 500};
};

struct ModelConfig {
  std::string name = "yolov8";
  std::string variant = "yolov8n";  // yolov8n|s|m|l|x
  int num_classes = 1;
  std::string pretrained;           // path to a safetensors file, empty = from scratch
  int input_channels = 3;
  int img_size = 256;
};

struct DataConfig {
  std::string data_dir = "data/dataset";
  std::string view = "axial";       // axial|coronal|sagittal
  int image_size = 256;
  int input_channels = 3;
  HuWindows hu_windows;
  int batch_size = 16;
  int num_workers = 2;
  bool augmentation = true;
  int num_classes = 1;
  std::vector<std::string> names{"fracture"};
  std::string cache;                // "" | "ram"
  std::string data_yaml;            // an Ultralytics data.yaml; when set, train/val come from it
  bool augment_empty = true;        // false: training images without boxes get only the letterbox
  // Where mosaic/MixUp partners come from: "recent" (the last min(n, 8 * batch, 1000) images of the epoch's order,
  // Ultralytics' buffer), "any" (the whole dataset, uniformly) or "auto" (Ultralytics 8.4: any with cache=ram).
  std::string mosaic_partners = "auto";
};

struct SplitConfig {
  int fold_id = 0;
  std::vector<std::string> train_patients;
  std::vector<std::string> val_patients;
};

// Augmentation and loss gains (conf/hyp/*.yaml, Ultralytics default.yaml names).
struct HypConfig {
  double degrees = 0.0, translate = 0.1, scale = 0.5, shear = 0.0, perspective = 0.0;
  double flipud = 0.0, fliplr = 0.5;
  double hsv_h = 0.015, hsv_s = 0.7, hsv_v = 0.4;
  double mosaic = 1.0, mixup = 0.0;
  int close_mosaic = 10;
  double box = 7.5, cls = 0.5, dfl = 1.5;
  double warmup_momentum = 0.8, warmup_bias_lr = 0.1;
};

struct TrainingConfig {
  double lr0 = 0.001, lrf = 0.01, momentum = 0.937, weight_decay = 0.0001;
  std::string optimizer = "AdamW";  // SGD|Adam|AdamW|auto
  double warmup_epochs = 3;
  int epochs = 100;
  int patience = 20;
  std::string device = "cpu";
  bool use_focal_loss = false;
  double focal_gamma = 2.0, focal_alpha = 0.3;
  std::string hyp = "conf/hyp/default.yaml";  // resolved path of the hyp file
  bool cos_lr = false;
  int nbs = 64;                     // nominal batch size for gradient accumulation
  bool val = true;
  bool resume = false;
  bool bf16 = false;                // autocast to bfloat16 on CPUs that support it
  int threads = 0;                  // 0 = all cores
  bool channels_last = true;        // NHWC memory layout for training (faster convolutions; same results)
  bool fused_bn_silu = true;        // BatchNorm + SiLU as one op while training NHWC on CPU (ops/bn_silu.h)
  double max_grad_norm = 10.0;
  // Data-parallel training (c10d): ranks this command starts on this machine (1: none; a launcher such as torchrun
  // sets the ranks itself), BatchNorm statistics over all ranks, and how long a rank waits for the others.
  int nproc = 1;
  bool sync_bn = false;
  double dist_timeout = 1800;       // seconds
};

// `vyolo cv`: folds trained at once, each its own process.
struct CvConfig {
  int parallel = 1;
};

// Validation (vyolo val and the trainer's per-epoch validation).
struct ValConfig {
  bool rect = true;                 // Ultralytics' rectangular batches; false: every image letterboxed to a square
};

struct CheckpointConfig {
  int save_top_k = 3;
  std::string monitor = "val/map_50";
  std::string mode = "max";
  bool save_last = true;
  std::string dirpath;              // empty = <run dir>/weights
  std::string filename = "epoch_{epoch:02d}_map_{val/map_50:.3f}";
};

struct WandbConfig {
  std::string entity;
  std::vector<std::string> tags;
  std::string notes;
  int log_freq = 50;
  bool save_code = true;
  bool save_model = true;
  std::string mode = "offline";     // online|offline|disabled
  double stats_interval = 15;       // seconds between system-metric samples (System tab); 0 = none
};

struct LoggingConfig {
  std::string logger = "tensorboard";  // tensorboard|wandb|none
  std::string project_name = "vertebrae-yolo";
  std::string experiment_name = "baseline";
  std::string log_dir = "output/train";
  WandbConfig wandb;
};

// How the run was composed: what .hydra/hydra.yaml records. Filled by the CLI front end (src/cli/main.cpp).
struct ComposeInfo {
  std::string config_dir, config_name = "config";  // config_dir: the search path's first directory
  std::vector<std::string> search_path;             // every directory, highest priority first
  std::string mode = "RUN";         // RUN|MULTIRUN
  int job_num = 0;
  std::string sweep_dir;            // multirun/DATE/TIME (multirun only)
  std::vector<std::pair<std::string, std::string>> choices;  // config group -> option
  std::vector<std::string> hydra_overrides;                   // `hydra.*` overrides, recorded only
  std::string command_keys_yaml;    // the command's own keys (CommandKeys::defaults_yaml), for recompose()
};

struct Config {
  ModelConfig model;
  DataConfig data;
  SplitConfig split;
  TrainingConfig training;
  HypConfig hyp;
  ValConfig val;
  CvConfig cv;
  CheckpointConfig checkpoint;
  LoggingConfig logging;
  int seed = 42;
  bool debug = false;
  YAML::Node tree;                  // the full resolved tree; commands read their keys with read_args (command_args.h)
  ComposeInfo run;
  std::vector<std::string> ignored_keys;  // "key: nothing reads it; did you mean ...?" for keys of vyolo's sections
  std::vector<std::string> user_keys;  // dotted keys the command line set (`training.epochs=5` -> training.epochs)

  // Whether a config override set `key`, a section above it or a key below it (`data.hu_windows` is given by
  // `data.hu_windows.bone.min=300`). Group choices (`data=other`) are not keys.
  bool given(const std::string& key) const;
};

// Fills a Config from a composed, resolved tree. Missing keys keep their defaults; a value of the wrong type throws
// UsageError naming the dotted key. Reads the file named by training.hyp into `hyp` when the tree has no `hyp` node.
// training.hyp is looked up relative to the working directory, then the config dir, then its parent; the one-argument
// form uses the default config dir (./conf, else <source>/conf).
Config load_config(const YAML::Node& tree);
Config load_config(const YAML::Node& tree, const SearchPath& config_dir);

// Every dotted key load_config reads outside `hyp` (data.* also under the upstream name constants.*).
std::vector<std::string> config_keys();

}  // namespace vyolo
