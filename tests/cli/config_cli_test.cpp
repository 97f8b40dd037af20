// The vyolo front end as users meet it: --cfg job, config errors and their exit codes, -cd, --help.
// Runs the built binary (VYOLO_BINARY) in a scratch folder; skips when the binary is not there.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;

namespace {

struct Result {
  int rc = -1;
  std::string out;  // stdout and stderr together
};

class ConfigCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(VYOLO_BINARY)) GTEST_SKIP() << "vyolo binary not built: " << VYOLO_BINARY;
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("vyolo_cli_cfg_" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs `vyolo <args>` with the scratch folder as the working directory (so ./conf is absent unless a test makes it).
  Result run(const std::string& args) {
    std::string cmd = "cd '" + dir_.string() + "' && '" + std::string(VYOLO_BINARY) + "' " + args + " 2>&1";
    Result r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    int status = pclose(p);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }

  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }

  bool empty_dir() const { return fs::is_empty(dir_); }

  fs::path dir_;
};

}  // namespace

TEST_F(ConfigCli, CfgJobPrintsTheComposedConfig) {
  auto r = run("train --cfg job logging=wandb split=fold_1 logging.project_name=p "
               "'logging.wandb.tags=[yolov8,experiment1]' 'logging.wandb.notes=\"Testing new augmentation\"' "
               "logging.wandb.mode=offline data.hu_windows.bone.min=500");
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* line : {"  image_size: 256\n", "      min: 500\n", "  fold_id: 1\n", "  project_name: p\n",
                           "    - yolov8\n", "    notes: Testing new augmentation\n", "  lr0: 0.001\n",
                           "  weight_decay: 0.0001\n", "  monitor: val/map_50\n", "seed: 42\n"})
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing '" << line << "' in\n" << r.out;
  EXPECT_EQ(r.out.find("defaults:"), std::string::npos);
  EXPECT_EQ(r.out.find("weights:"), std::string::npos) << "unset command keys are not part of Hydra's output";
  auto section = run("train --cfg job -p data.hu_windows.bone");
  EXPECT_EQ(section.out, "# @package data.hu_windows.bone\nmin: 400\nmax: 1800\n");
  auto set = run("train --cfg job weights=best.safetensors");
  EXPECT_NE(set.out.find("weights: best.safetensors\n"), std::string::npos) << set.out;
  EXPECT_TRUE(empty_dir());
}

TEST_F(ConfigCli, ConfigErrorsExitWithTwoAndWriteNothing) {
  auto unknown = run("train training.lr=0.1");
  EXPECT_EQ(unknown.rc, 2);
  EXPECT_NE(unknown.out.find("did you mean training.lr0"), std::string::npos) << unknown.out;
  auto option = run("train split=fold_9");
  EXPECT_EQ(option.rc, 2);
  EXPECT_NE(option.out.find("fold_0, fold_1"), std::string::npos) << option.out;
  auto type = run("train training.epochs=abc");
  EXPECT_EQ(type.rc, 2);
  EXPECT_NE(type.out.find("training.epochs"), std::string::npos) << type.out;
  auto syntax = run("'train' 'training.epochs=[1,2'");
  EXPECT_EQ(syntax.rc, 2);
  EXPECT_NE(syntax.out.find("column 21"), std::string::npos) << syntax.out;
  auto sweep = run("train -m split=fold_0,fold_1 training.epochs=abc");
  EXPECT_EQ(sweep.rc, 2);
  EXPECT_EQ(run("nosuchcommand").rc, 2);
  EXPECT_EQ(run("train --no-such-flag").rc, 2);
  EXPECT_TRUE(empty_dir()) << "a failed config left files behind";
}

TEST_F(ConfigCli, ConfigDirFlagAndLocalConf) {
  write("myconf/config.yaml", "defaults:\n  - constants: yolo_data\n  - _self_\nseed: 7\n");
  write("myconf/constants/yolo_data.yaml", "image_size: 128\n");
  auto r = run("train -cd myconf --cfg job constants.image_size=64");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("constants:\n  image_size: 64\nseed: 7\n"), std::string::npos) << r.out;
  write("conf/exp.yaml", "seed: 3\n");
  auto local = run("train -cn exp --cfg job");
  ASSERT_EQ(local.rc, 0) << local.out;
  EXPECT_NE(local.out.find("seed: 3\n"), std::string::npos) << local.out;
}

TEST_F(ConfigCli, HelpListsCommandsGroupsAndOptions) {
  auto top = run("--help");
  EXPECT_EQ(top.rc, 0);
  for (const char* cmd : {"train", "cv", "val", "predict", "evaluate", "prepare", "split", "synth", "export"})
    EXPECT_NE(top.out.find(std::string("  ") + cmd), std::string::npos) << cmd;
  auto exp = run("export --help");
  EXPECT_EQ(exp.rc, 0) << exp.out;
  for (const char* key : {"weights:", "format: onnx", "imgsz:", "batch: 1", "dynamic: false", "opset: 12", "simplify:"})
    EXPECT_NE(exp.out.find(key), std::string::npos) << key;
  auto train = run("train --help");
  EXPECT_EQ(train.rc, 0) << train.out;
  EXPECT_NE(train.out.find("logging: tensorboard, wandb"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("split: fold_0, fold_1, fold_2, fold_3, fold_4"), std::string::npos) << train.out;
}
