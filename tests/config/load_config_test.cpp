// The typed view (load_config), the project's own conf/ tree, an upstream-shaped tree loaded through a config dir,
// and the .hydra/ files.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include "config/command_context.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "config/compose.h"
#include "config/config.h"
#include "config/hydra_files.h"
#include "config/interpolate.h"
#include "config/job.h"

using namespace vyolo;
namespace fs = std::filesystem;

namespace {

fs::path source_conf() { return fs::path(VYOLO_SOURCE_DIR) / "conf"; }

Config load(const fs::path& dir, const std::vector<std::string>& overrides, Composed* out = nullptr) {
  Composed c = compose({dir, "config", ""}, overrides);
  Node resolved = c.tree;
  resolve_interpolations(resolved);
  if (out) *out = c;
  return load_config(to_yaml(resolved), dir.string());
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("vyolo_loadcfg_" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  fs::path dir_;
};

}  // namespace

TEST(ConfTree, ComposesToTheStructDefaults) {
  Composed composed;
  Config c = load(source_conf(), {}, &composed);
  const Config d;
  EXPECT_EQ(c.model.name, d.model.name);
  EXPECT_EQ(c.model.variant, d.model.variant);
  EXPECT_EQ(c.model.num_classes, d.model.num_classes);
  EXPECT_EQ(c.model.pretrained, d.model.pretrained);
  EXPECT_EQ(c.model.input_channels, d.model.input_channels);
  EXPECT_EQ(c.model.img_size, d.model.img_size);
  EXPECT_EQ(c.data.data_dir, d.data.data_dir);
  EXPECT_EQ(c.data.view, d.data.view);
  EXPECT_EQ(c.data.image_size, 256);
  EXPECT_EQ(c.data.input_channels, d.data.input_channels);
  EXPECT_EQ(c.data.hu_windows.bone.min, 400);
  EXPECT_EQ(c.data.hu_windows.bone.max, 1800);
  EXPECT_EQ(c.data.hu_windows.soft_tissue.min, -100);
  EXPECT_EQ(c.data.hu_windows.soft_tissue.max, 300);
  EXPECT_EQ(c.data.hu_windows.wide.min, -200);
  EXPECT_EQ(c.data.hu_windows.wide.max, 500);
  EXPECT_EQ(c.data.batch_size, d.data.batch_size);
  EXPECT_EQ(c.data.num_workers, d.data.num_workers);
  EXPECT_EQ(c.data.augmentation, d.data.augmentation);
  EXPECT_EQ(c.data.num_classes, d.data.num_classes);
  EXPECT_EQ(c.data.names, d.data.names);
  EXPECT_EQ(c.data.cache, d.data.cache);
  EXPECT_EQ(c.data.data_yaml, d.data.data_yaml);
  EXPECT_EQ(c.split.fold_id, 0);
  EXPECT_EQ(c.split.train_patients.size(), 8u);
  EXPECT_EQ(c.split.val_patients, (std::vector<std::string>{"sub-phantom001", "sub-phantom002"}));
  EXPECT_DOUBLE_EQ(c.training.lr0, 0.001);
  EXPECT_DOUBLE_EQ(c.training.lrf, d.training.lrf);
  EXPECT_DOUBLE_EQ(c.training.momentum, d.training.momentum);
  EXPECT_DOUBLE_EQ(c.training.weight_decay, 0.0001);
  EXPECT_EQ(c.training.optimizer, "AdamW");
  EXPECT_DOUBLE_EQ(c.training.warmup_epochs, 3);
  EXPECT_EQ(c.training.epochs, 100);
  EXPECT_EQ(c.training.patience, 20);
  EXPECT_EQ(c.training.device, d.training.device);
  EXPECT_FALSE(c.training.use_focal_loss);
  EXPECT_DOUBLE_EQ(c.training.focal_gamma, 2.0);
  EXPECT_DOUBLE_EQ(c.training.focal_alpha, 0.3);
  EXPECT_EQ(c.training.cos_lr, d.training.cos_lr);
  EXPECT_EQ(c.training.nbs, d.training.nbs);
  EXPECT_EQ(c.training.val, d.training.val);
  EXPECT_EQ(c.training.resume, d.training.resume);
  EXPECT_EQ(c.training.bf16, d.training.bf16);
  EXPECT_EQ(c.training.threads, d.training.threads);
  EXPECT_DOUBLE_EQ(c.training.max_grad_norm, d.training.max_grad_norm);
  EXPECT_TRUE(fs::equivalent(c.training.hyp, source_conf() / "hyp" / "default.yaml")) << c.training.hyp;
  EXPECT_EQ(c.checkpoint.save_top_k, 3);
  EXPECT_EQ(c.checkpoint.monitor, "val/map_50");
  EXPECT_EQ(c.checkpoint.mode, "max");
  EXPECT_EQ(c.checkpoint.save_last, d.checkpoint.save_last);
  EXPECT_EQ(c.checkpoint.dirpath, d.checkpoint.dirpath);
  EXPECT_EQ(c.checkpoint.filename, d.checkpoint.filename);
  EXPECT_EQ(c.logging.logger, "tensorboard");
  EXPECT_EQ(c.logging.project_name, d.logging.project_name);
  EXPECT_EQ(c.logging.experiment_name, d.logging.experiment_name);
  EXPECT_EQ(c.logging.log_dir, d.logging.log_dir);
  EXPECT_EQ(c.seed, 42);
  EXPECT_EQ(c.debug, d.debug);
  // hyp/default.yaml carries Ultralytics' defaults, which the struct mirrors.
  for (auto [got, want] : std::vector<std::pair<double, double>>{
           {c.hyp.degrees, d.hyp.degrees}, {c.hyp.translate, d.hyp.translate}, {c.hyp.scale, d.hyp.scale},
           {c.hyp.shear, d.hyp.shear}, {c.hyp.perspective, d.hyp.perspective}, {c.hyp.flipud, d.hyp.flipud},
           {c.hyp.fliplr, d.hyp.fliplr}, {c.hyp.hsv_h, d.hyp.hsv_h}, {c.hyp.hsv_s, d.hyp.hsv_s},
           {c.hyp.hsv_v, d.hyp.hsv_v}, {c.hyp.mosaic, d.hyp.mosaic}, {c.hyp.mixup, d.hyp.mixup},
           {c.hyp.box, d.hyp.box}, {c.hyp.cls, d.hyp.cls}, {c.hyp.dfl, d.hyp.dfl},
           {c.hyp.warmup_momentum, d.hyp.warmup_momentum}, {c.hyp.warmup_bias_lr, d.hyp.warmup_bias_lr}})
    EXPECT_DOUBLE_EQ(got, want);
  EXPECT_EQ(c.hyp.close_mosaic, d.hyp.close_mosaic);
  ASSERT_FALSE(composed.tree.find("defaults"));
  EXPECT_EQ(composed.tree.map[0].first, "model");
}

TEST(ConfTree, WandbAndFoldsAndTheIssueExample) {
  Config w = load(source_conf(), {"logging=wandb"});
  const Config d;
  EXPECT_EQ(w.logging.logger, "wandb");
  EXPECT_EQ(w.logging.wandb.entity, d.logging.wandb.entity);
  EXPECT_EQ(w.logging.wandb.tags, d.logging.wandb.tags);
  EXPECT_EQ(w.logging.wandb.notes, d.logging.wandb.notes);
  EXPECT_EQ(w.logging.wandb.log_freq, d.logging.wandb.log_freq);
  EXPECT_EQ(w.logging.wandb.save_code, d.logging.wandb.save_code);
  EXPECT_EQ(w.logging.wandb.save_model, d.logging.wandb.save_model);
  EXPECT_EQ(w.logging.wandb.mode, d.logging.wandb.mode);

  std::set<std::string> all_val;
  for (int k = 0; k < 5; ++k) {
    Config f = load(source_conf(), {"split=fold_" + std::to_string(k)});
    EXPECT_EQ(f.split.fold_id, k);
    EXPECT_EQ(f.split.train_patients.size(), 8u);
    ASSERT_EQ(f.split.val_patients.size(), 2u);
    for (auto& p : f.split.val_patients) {
      EXPECT_EQ(p.rfind("sub-phantom", 0), 0u);
      all_val.insert(p);
      EXPECT_EQ(std::count(f.split.train_patients.begin(), f.split.train_patients.end(), p), 0);
    }
  }
  EXPECT_EQ(all_val.size(), 10u);

  // The command line from the issue.
  Config c = load(source_conf(), {"logging=wandb", "split=fold_1", "logging.project_name=p",
                                  "logging.wandb.tags=[yolov8,experiment1]",
                                  "logging.wandb.notes=\"Testing new augmentation\"", "logging.wandb.mode=offline",
                                  "data.hu_windows.bone.min=500"});
  EXPECT_EQ(c.split.fold_id, 1);
  EXPECT_EQ(c.logging.project_name, "p");
  EXPECT_EQ(c.logging.wandb.tags, (std::vector<std::string>{"yolov8", "experiment1"}));
  EXPECT_EQ(c.logging.wandb.notes, "Testing new augmentation");
  EXPECT_EQ(c.data.hu_windows.bone.min, 500);
  EXPECT_EQ(c.data.hu_windows.bone.max, 1800);
}

TEST_F(TempDir, UpstreamShapedTreeLoadsThroughAConfigDir) {
  // The upstream layout: `constants` as the data group, a hydra: section, training.hyp naming a separate file next
  // to the config dir, HU windows as center/width and image_size as a list.
  write("conf/config.yaml",
        "defaults:\n  - model: yolo_baseline\n  - constants: yolo_data\n  - split: fold_0\n"
        "  - logging: tensorboard\n  - _self_\n\n"
        "training:\n  lr0: 0.001\n  epochs: 100\n  patience: 20\n  optimizer: AdamW\n  use_focal_loss: false\n"
        "  hyp: hyp/custom.yaml\ncheckpoint:\n  save_top_k: 3\n  monitor: val/map_50\n  mode: max\n"
        "seed: 42\nhydra:\n  run:\n    dir: outputs/${now:%Y-%m-%d}/${now:%H-%M-%S}\n");
  write("conf/model/yolo_baseline.yaml", "name: yolov8\nvariant: yolov8s\nnum_classes: 1\npretrained: true\n");
  write("conf/constants/yolo_data.yaml",
        "data_dir: data/yolo_format\nimage_size: [256, 256]\nhu_windows:\n  bone:\n    center: 1100\n"
        "    width: 1400\n  soft_tissue:\n    min: -100\n    max: 300\nnames: {0: fracture}\nextra_upstream_key: 1\n");
  write("conf/split/fold_0.yaml", "fold_id: 0\ntrain_patients: [inp001, inp002, inp003]\nval_patients: [inp004]\n");
  write("conf/split/fold_1.yaml", "fold_id: 1\ntrain_patients: [inp002, inp003, inp004]\nval_patients: [inp001]\n");
  write("conf/logging/tensorboard.yaml", "logger: tensorboard\nproject_name: vertebrae\nlog_dir: outputs\n");
  write("conf/logging/wandb.yaml",
        "logger: wandb\nproject_name: vertebrae\nwandb:\n  entity: lab\n  tags: []\n  notes: ''\n  mode: online\n");
  write("hyp/custom.yaml", "degrees: 5.0\nmosaic: 0.5\nlr0: 0.01\nbox: 8.0\n");

  Config c = load(dir_ / "conf", {"split=fold_1", "logging=wandb", "logging.wandb.tags=[a,b]",
                                  "constants.hu_windows.soft_tissue.min=-50"});
  EXPECT_EQ(c.model.variant, "yolov8s");
  EXPECT_EQ(c.model.pretrained, "yolov8s.safetensors");
  EXPECT_EQ(c.data.data_dir, "data/yolo_format");
  EXPECT_EQ(c.data.image_size, 256);
  EXPECT_DOUBLE_EQ(c.data.hu_windows.bone.min, 400);
  EXPECT_DOUBLE_EQ(c.data.hu_windows.bone.max, 1800);
  EXPECT_DOUBLE_EQ(c.data.hu_windows.soft_tissue.min, -50);
  EXPECT_EQ(c.data.names, (std::vector<std::string>{"fracture"}));
  EXPECT_EQ(c.split.fold_id, 1);
  EXPECT_EQ(c.split.val_patients, (std::vector<std::string>{"inp001"}));
  EXPECT_EQ(c.logging.logger, "wandb");
  EXPECT_EQ(c.logging.wandb.entity, "lab");
  EXPECT_EQ(c.logging.wandb.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(c.hyp.degrees, 5.0);  // from the file next to the config dir
  EXPECT_DOUBLE_EQ(c.hyp.mosaic, 0.5);
  EXPECT_DOUBLE_EQ(c.hyp.box, 8.0);
  EXPECT_DOUBLE_EQ(c.hyp.fliplr, 0.5);   // not in the file: the default
  EXPECT_DOUBLE_EQ(c.training.lr0, 0.001);
  EXPECT_TRUE(fs::equivalent(c.training.hyp, dir_ / "hyp" / "custom.yaml"));
  EXPECT_EQ(c.tree["constants"]["extra_upstream_key"].as<int>(), 1);
  EXPECT_FALSE(c.tree["hydra"]);

  // A `hyp:` node in the tree wins over the file.
  Config h = load(dir_ / "conf", {"+hyp={degrees: 9.0}"});
  EXPECT_DOUBLE_EQ(h.hyp.degrees, 9.0);
  EXPECT_DOUBLE_EQ(h.hyp.mosaic, 1.0);

  // A named hyp file that does not exist is an error naming where it looked.
  try {
    load(dir_ / "conf", {"training.hyp=missing.yaml"});
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.yaml"), std::string::npos) << e.what();
  }
}

TEST(LoadConfig, WrongTypesNameTheKey) {
  auto error_of = [](const std::string& yaml) -> std::string {
    try {
      load_config(YAML::Load(yaml), "");
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of("training:\n  epochs: abc\n").find("training.epochs"), std::string::npos);
  EXPECT_NE(error_of("training:\n  lr0: fast\n").find("training.lr0"), std::string::npos);
  EXPECT_NE(error_of("training: 3\n").find("training"), std::string::npos);
  EXPECT_NE(error_of("logging:\n  wandb:\n    save_code: maybe\n").find("logging.wandb.save_code"), std::string::npos);
  EXPECT_NE(error_of("data:\n  image_size: [256, 128]\n").find("data.image_size"), std::string::npos);
  EXPECT_EQ(error_of("training:\n  epochs: '12'\n  lr0: 1\n"), "");
  Config c = load_config(YAML::Load("training:\n  epochs: '12'\n  lr0: 1\nseed: 7\ndata: /some/dir\nweights: w\n"), "");
  EXPECT_EQ(c.training.epochs, 12);
  EXPECT_DOUBLE_EQ(c.training.lr0, 1.0);
  EXPECT_EQ(c.seed, 7);
  EXPECT_EQ(c.tree["weights"].as<std::string>(), "w");
  EXPECT_EQ(c.data.image_size, 256);  // `data` used as a path by a command: the data defaults stay
}

TEST_F(TempDir, HydraFilesAreWritten) {
  Composed c = compose({source_conf(), "config", "weights: null\n"}, {"split=fold_2", "training.epochs=3"});
  Node resolved = c.tree;
  resolve_interpolations(resolved);
  CommandContext ctx;
  ctx.command = "train";
  ctx.overrides = {"split=fold_2", "training.epochs=3"};
  ctx.config_dir = source_conf();
  ctx.cfg = load_config(to_yaml(resolved), source_conf().string());
  ctx.cfg.run.config_dir = source_conf().string();
  ctx.cfg.run.choices = c.choices;
  write_hydra_files(dir_ / "run", ctx);

  Node config = load_yaml_file(dir_ / "run/.hydra/config.yaml");
  EXPECT_EQ(config, resolved);
  EXPECT_EQ(find_path(config, "split.fold_id")->text, "2");
  EXPECT_EQ(find_path(config, "training.epochs")->text, "3");
  Node overrides = load_yaml_file(dir_ / "run/.hydra/overrides.yaml");
  ASSERT_TRUE(overrides.is_seq());
  ASSERT_EQ(overrides.seq.size(), 2u);
  EXPECT_EQ(overrides.seq[0].text, "split=fold_2");
  Node hydra = load_yaml_file(dir_ / "run/.hydra/hydra.yaml");
  for (auto key : {"hydra.job.name", "hydra.runtime.version", "hydra.runtime.cwd", "hydra.runtime.choices.split",
                   "hydra.job.override_dirname", "hydra.mode", "hydra.time"})
    ASSERT_TRUE(find_path(hydra, key)) << key << " missing in\n" << to_yaml_string(hydra);
  EXPECT_EQ(find_path(hydra, "hydra.job.name")->text, "train");
  EXPECT_EQ(find_path(hydra, "hydra.runtime.version")->text, VYOLO_VERSION);
  EXPECT_EQ(find_path(hydra, "hydra.runtime.cwd")->text, fs::current_path().string());
  EXPECT_EQ(find_path(hydra, "hydra.runtime.choices.split")->text, "fold_2");
  EXPECT_EQ(find_path(hydra, "hydra.job.override_dirname")->text, "split=fold_2,training.epochs=3");
  EXPECT_EQ(find_path(hydra, "hydra.mode")->text, "RUN");
  EXPECT_FALSE(find_path(hydra, "hydra.time")->text.empty());
  int files = 0;
  for (auto& e : fs::directory_iterator(dir_ / "run/.hydra")) {
    ++files;
    EXPECT_EQ(e.path().extension(), ".yaml") << "left behind: " << e.path();
  }
  EXPECT_EQ(files, 3);
}

TEST(Job, MakeJobAndRecompose) {
  JobRequest r;
  r.config_dir = source_conf();
  r.command = "cv";
  r.command_keys_yaml = "folds: null\n";
  r.overrides = {"training.epochs=2", "+tag=${split.fold_id}_${now:%Y}"};
  Job j = make_job(r);
  EXPECT_EQ(j.cfg.training.epochs, 2);
  EXPECT_EQ(j.cfg.split.fold_id, 0);
  EXPECT_EQ(find_path(j.composed.tree, "tag")->text, "${split.fold_id}_${now:%Y}");  // kept for --cfg job
  EXPECT_EQ(find_path(j.resolved, "tag")->text.substr(0, 2), "0_");
  EXPECT_EQ(j.cfg.tree["tag"].as<std::string>().substr(0, 2), "0_");
  EXPECT_EQ(j.cfg.run.command_keys_yaml, "folds: null\n");
  ASSERT_FALSE(j.cfg.run.choices.empty());

  CommandContext ctx;
  ctx.command = "cv";
  ctx.overrides = r.overrides;
  ctx.config_dir = source_conf();
  ctx.cfg = j.cfg;
  Config fold3 = recompose(ctx, {"split=fold_3"});
  EXPECT_EQ(fold3.split.fold_id, 3);
  EXPECT_EQ(fold3.training.epochs, 2);  // the original overrides still apply
  EXPECT_EQ(fold3.tree["tag"].as<std::string>().substr(0, 2), "3_");
  EXPECT_TRUE(fold3.tree["folds"].IsNull());
  EXPECT_THROW(recompose(ctx, {"split=fold_7"}), UsageError);
}
