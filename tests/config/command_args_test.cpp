// Command keys (command_args.h): the defaults each command merges into the composed tree, reading them back typed,
// which keys the command line set (Config::given), and keys nothing reads (Config::ignored_keys).
#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"
#include "config/command_args.h"
#include "config/job.h"
#include "config/node.h"

using namespace vyolo;
namespace fs = std::filesystem;

namespace {

fs::path source_conf() { return fs::path(VYOLO_SOURCE_DIR) / "conf"; }

Config with_tree(const std::string& text) {
  Config c;
  c.tree = YAML::Load(text);
  return c;
}

Job job(const std::string& command, const std::string& keys_yaml, const std::vector<std::string>& overrides) {
  JobRequest r;
  r.config_dir = source_conf();
  r.command = command;
  r.command_keys_yaml = keys_yaml;
  r.overrides = overrides;
  return make_job(r);
}

// The keys as a map in key order (the listing order follows the tables' groups).
Node sorted(Node n) {
  std::sort(n.map.begin(), n.map.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return n;
}

Node yaml(const std::string& text) { return sorted(load_yaml_string(text, "test")); }

}  // namespace

// The key lists the commands had as hand-written YAML before the key tables: same keys, values and types.
TEST(CommandArgs, DefaultsEqualTheCommandsKeys) {
  // train, cv, evaluate, predict: the operating-point keys are new (issue 18); threshold null = the checkpoint's.
  EXPECT_EQ(yaml(command_keys<TrainArgs>().defaults_yaml),
            yaml("weights: null\nstudies: null\noperating_point: f1\ncalibration: none\n"));
  EXPECT_EQ(yaml(command_keys<ValArgs>().defaults_yaml),
            yaml("weights: null\nconf: 0.001\niou: 0.7\nmax_det: 300\nproject: runs/val\nname: val\nexist_ok: false\n"));
  EXPECT_EQ(yaml(command_keys<PredictArgs>().defaults_yaml),
            yaml("weights: null\nsource: null\nconf: 0.25\niou: 0.7\nimgsz: null\nmax_det: 300\ndevice: cpu\n"
                 "save: true\nsave_txt: false\nproject: runs/predict\nname: predict\nexist_ok: false\nbatch: 16\n"
                 "mask: null\nvertebra_labels: verse\ncrop: null\nmargin: null\nthreshold: null\n"));
  EXPECT_EQ(yaml(command_keys<EvaluateArgs>().defaults_yaml),
            yaml("weights: null\nsource: null\nout: null\nconf: 0.01\niou: 0.7\nmax_det: 300\ndevice: cpu\nbatch: 16\n"
                 "threshold: null\ngrades: null\nmin_grade: 1\nvertebra_labels: verse\ncrop: null\nmargin: null\n"
                 "studies: null\noperating_point: null\ncalibration: null\nupdate_weights: false\n"));
  EXPECT_EQ(yaml(command_keys<PrepareArgs>().defaults_yaml),
            yaml("source: null\nout: null\nview: null\nimage_size: null\nmode: hu16\nslab_window: bone\n"
                 "crop: vertebra\nmargin: 5\nkeep: all\nmax_negatives: -1\nvertebra_labels: verse\n"
                 "allow_unlabeled: false\nworkers: 2\npng_compression: 1\n"));
  EXPECT_EQ(yaml(command_keys<SplitArgs>().defaults_yaml),
            yaml("data: null\nfolds: 5\nout: null\noverwrite: false\n"));  // overwrite: new (issue 14)
  EXPECT_EQ(yaml(command_keys<SynthArgs>().defaults_yaml), yaml("out: null\ncases: 8\nvertebrae: 7\nnoise: 20\n"));
  EXPECT_EQ(yaml(command_keys<ExportArgs>().defaults_yaml),
            yaml("weights: null\nformat: onnx\nimgsz: null\nbatch: 1\ndynamic: false\nopset: 12\nsimplify: true\n"
                 "out: null\noverwrite: false\n"));
  // cv: the NMS settings of its vertebra-level evaluation are keys now (they were fixed in the code).
  EXPECT_EQ(yaml(command_keys<CvArgs>().defaults_yaml),
            yaml("folds: null\nstudies: null\nthreshold: null\nvertebra_labels: null\noperating_point: f1\n"
                 "calibration: none\nconf: 0.01\niou: 0.7\nmax_det: 300\n"));
}

TEST(CommandArgs, HelpNamesEveryKey) {
  const auto keys = command_keys<PredictArgs>();
  const Node defaults = yaml(keys.defaults_yaml);
  ASSERT_TRUE(defaults.is_map());
  for (const auto& [k, v] : defaults.map) {
    EXPECT_NE(keys.help.find("  " + k + ": "), std::string::npos) << k;
  }
  EXPECT_NE(keys.help.find("# "), std::string::npos);
}

TEST(CommandArgs, ReadsTypedValuesAndLists) {
  auto p = read_args<PredictArgs>(with_tree("weights: [a.safetensors, b.safetensors]\nsource: ct.nii.gz\nconf: 0.5\n"
                                            "imgsz: 320\nsave: false\nmargin: 3\ncrop: null\n"));
  EXPECT_EQ(p.weights, (std::vector<std::string>{"a.safetensors", "b.safetensors"}));
  EXPECT_EQ(p.source, "ct.nii.gz");
  EXPECT_DOUBLE_EQ(p.conf, 0.5);
  EXPECT_EQ(p.imgsz, 320);
  EXPECT_FALSE(p.save);
  EXPECT_EQ(p.margin, 3);
  EXPECT_TRUE(p.crop.empty());
  EXPECT_DOUBLE_EQ(p.iou, 0.7);  // absent: the default
  EXPECT_FALSE(read_args<PredictArgs>(with_tree("{}")).imgsz.has_value());

  // A list typed as one string, with or without brackets.
  EXPECT_EQ(read_args<PredictArgs>(with_tree("weights: 'a, b'")).weights, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(read_args<CvArgs>(with_tree("folds: '[0,2]'")).folds, (std::vector<std::string>{"0", "2"}));
  EXPECT_EQ(read_args<CvArgs>(with_tree("folds: 3")).folds, (std::vector<std::string>{"3"}));
}

TEST(CommandArgs, WrongTypeNamesTheKey) {
  try {
    read_args<SynthArgs>(with_tree("cases: many"));
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("cases"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_args<ValArgs>(with_tree("exist_ok: maybe")), UsageError);
}

TEST(CommandArgs, ComposedThroughAJob) {
  Job j = job("predict", command_keys<PredictArgs>().defaults_yaml, {"conf=0.4", "weights=[x,y]"});
  auto a = read_args<PredictArgs>(j.cfg);
  EXPECT_DOUBLE_EQ(a.conf, 0.4);
  EXPECT_EQ(a.weights, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(a.max_det, 300);
  EXPECT_THROW(job("predict", command_keys<PredictArgs>().defaults_yaml, {"confidence=0.4"}), UsageError);
}

TEST(CommandArgs, GivenKnowsWhatTheCommandLineSet) {
  Job j = job("val", command_keys<ValArgs>().defaults_yaml,
              {"training.epochs=3", "data.hu_windows.bone.min=300", "conf=0.1"});
  const Config& c = j.cfg;
  EXPECT_TRUE(c.given("training.epochs"));
  EXPECT_TRUE(c.given("data.hu_windows"));           // a key below it
  EXPECT_TRUE(c.given("data.hu_windows.bone.min"));  // itself
  EXPECT_TRUE(c.given("conf"));
  EXPECT_FALSE(c.given("training.epoch"));
  EXPECT_FALSE(c.given("data.image_size"));
  EXPECT_TRUE(c.given("training"));  // a section with a given key below it
  EXPECT_FALSE(c.given("model"));
  Job k = job("val", command_keys<ValArgs>().defaults_yaml, {"training={epochs: 4}"});
  EXPECT_TRUE(k.cfg.given("training.epochs"));  // a section above it
  EXPECT_EQ(k.cfg.training.epochs, 4);
}

TEST(CommandArgs, KeysNothingReadsAreReportedWithASuggestion) {
  Job clean = job("train", command_keys<TrainArgs>().defaults_yaml, {});
  EXPECT_TRUE(clean.cfg.ignored_keys.empty()) << clean.cfg.ignored_keys.front();
  Job typo = job("train", command_keys<TrainArgs>().defaults_yaml, {"+training.epoch=5"});
  ASSERT_EQ(typo.cfg.ignored_keys.size(), 1u);
  EXPECT_NE(typo.cfg.ignored_keys[0].find("training.epoch"), std::string::npos);
  EXPECT_NE(typo.cfg.ignored_keys[0].find("did you mean training.epochs?"), std::string::npos)
      << typo.cfg.ignored_keys[0];
}

// Every key the typed config reads is in the project's conf/ tree, with its default (so `--cfg job` shows it); the
// W&B keys are in the wandb option of the logging group.
TEST(CommandArgs, EveryConfigKeyIsInTheConfTree) {
  Job j = job("train", command_keys<TrainArgs>().defaults_yaml, {"logging=wandb"});
  for (const auto& key : config_keys()) EXPECT_TRUE(find_path(j.resolved, key)) << key << " is not in conf/";
}
