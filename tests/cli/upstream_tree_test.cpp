// The upstream project's conf tree used from its repository root, as its users type it:
// `vyolo train -cd vertebrae_YOLO/run/conf`, with `training.hyp` relative to the working directory and
// `training.device: 1` meaning the second GPU. The tree's shape is copied here (no upstream files).
#include <gtest/gtest.h>

#include <fstream>

#include "common/error.h"
#include "config/command_args.h"
#include "config/job.h"
#include "ops/device.h"
#include "temp_dir.h"

using namespace vyolo;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

struct Cwd {
  fs::path old = fs::current_path();
  explicit Cwd(const fs::path& p) { fs::current_path(p); }
  ~Cwd() { fs::current_path(old); }
};

}  // namespace

TEST(UpstreamTree, FromTheRepositoryRootWithTheSearchPath) {
  test::TempDir tmp;
  const fs::path conf = tmp.path / "vertebrae_YOLO" / "run" / "conf";
  write(conf / "config.yaml",
        "defaults:\n  - model: yolo_baseline\n  - constants: yolo_data\n  - split: fold_0\n"
        "  - logging: wandb\n  - _self_\n\n"
        "training:\n  lr0: 0.001\n  epochs: 100\n  device: 1\n  hyp: vertebrae_YOLO/run/conf/hyp_custom.yaml\n"
        "checkpoint:\n  save_top_k: 3\n  monitor: val/map_50\n  mode: max\nseed: 42\n"
        "hydra:\n  run:\n    dir: outputs/${now:%Y-%m-%d}\n");
  write(conf / "model" / "yolo_baseline.yaml", "name: yolov8\nvariant: yolov8s\nnum_classes: 1\n");
  write(conf / "constants" / "yolo_data.yaml", "data_dir: data/yolo\nimage_size: [256, 256]\n");
  write(conf / "split" / "fold_0.yaml", "fold_id: 0\ntrain_patients: [a, b]\nval_patients: [c]\n");
  write(conf / "split" / "fold_1.yaml", "fold_id: 1\ntrain_patients: [b, c]\nval_patients: [a]\n");
  write(conf / "logging" / "wandb.yaml", "logger: wandb\nproject_name: vertebrae\nwandb:\n  tags: []\n  mode: offline\n");
  write(conf / "hyp_custom.yaml", "degrees: 7.0\nmosaic: 0.25\n");

  Cwd here(tmp.path);
  JobRequest r;
  r.config_dir = make_search_path({"vertebrae_YOLO/run/conf"});
  r.command = "train";
  r.command_keys_yaml = command_keys<TrainArgs>().defaults_yaml;
  r.overrides = {"split=fold_1", "logging.wandb.tags=[a,b]"};
  ASSERT_GE(r.config_dir.dirs.size(), 2u);
  EXPECT_TRUE(fs::equivalent(r.config_dir.dirs.front(), conf));  // -cd first, the built-in tree after it
  const Config c = make_job(r).cfg;
  EXPECT_EQ(c.model.variant, "yolov8s");            // the upstream primary config and groups win
  EXPECT_EQ(c.data.data_dir, "data/yolo");
  EXPECT_EQ(c.split.fold_id, 1);
  EXPECT_EQ(c.split.val_patients, (std::vector<std::string>{"a"}));
  EXPECT_EQ(c.logging.wandb.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(c.hyp.degrees, 7.0);             // training.hyp relative to the working directory
  EXPECT_DOUBLE_EQ(c.hyp.mosaic, 0.25);
  EXPECT_TRUE(fs::equivalent(c.training.hyp, conf / "hyp_custom.yaml"));
  EXPECT_EQ(c.training.device, "1");

  // device 1 is the second GPU.
  if (torch::cuda::is_available() && torch::cuda::device_count() > 1) {
    EXPECT_EQ(ops::parse_device(c.training.device).index(), 1);
  } else {
    try {
      ops::parse_device(c.training.device);
      FAIL() << "expected a UsageError without a second GPU";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("cuda:1"), std::string::npos) << e.what();
    }
  }
}

// A project folder that holds only split/: its folds join the built-in tree's groups and win over them.
TEST(UpstreamTree, AFolderWithOnlyFoldsJoinsTheBuiltInTree) {
  test::TempDir tmp;
  write(tmp.path / "conf" / "split" / "fold_0.yaml", "fold_id: 0\ntrain_patients: [x]\nval_patients: [y]\n");
  write(tmp.path / "conf" / "split" / "fold_9.yaml", "fold_id: 9\ntrain_patients: [y]\nval_patients: [x]\n");
  Cwd here(tmp.path);
  JobRequest r;
  r.config_dir = make_search_path({});
  r.command = "train";
  r.command_keys_yaml = command_keys<TrainArgs>().defaults_yaml;
  EXPECT_TRUE(fs::equivalent(r.config_dir.dirs.front(), tmp.path / "conf"));
  EXPECT_EQ(make_job(r).cfg.split.train_patients, (std::vector<std::string>{"x"}));
  r.overrides = {"split=fold_9"};
  EXPECT_EQ(make_job(r).cfg.split.fold_id, 9);
  r.overrides = {"split=fold_3"};  // not in ./conf: the built-in tree's
  EXPECT_EQ(make_job(r).cfg.split.fold_id, 3);
  const auto options = r.config_dir.options("split");
  EXPECT_NE(std::find(options.begin(), options.end(), "fold_9"), options.end());
  EXPECT_NE(std::find(options.begin(), options.end(), "fold_4"), options.end());
}
