// Output parity with Hydra/OmegaConf: the expected texts below were produced by OmegaConf 2.2.2 (the library Hydra
// prints with), composing the same files in Hydra's order and applying the same overrides with
// OmegaConf.update(cfg, key, value, merge=True); `--cfg job` prints OmegaConf.to_yaml(cfg[, resolve=True]).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "config/compose.h"
#include "config/interpolate.h"

using namespace vyolo;
namespace fs = std::filesystem;

namespace {

class Parity : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("vyolo_parity_" + std::to_string(rd()));
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  fs::path dir_;
};

}  // namespace

TEST_F(Parity, UpstreamShapedTreeWithOverrides) {
  write("config.yaml", R"(defaults:
  - model: yolo_baseline
  - constants: yolo_data
  - split: fold_0
  - logging: tensorboard
  - _self_

training:
  lr0: 1e-3
  epochs: 100
  hyp: hyp/custom.yaml
  note: "quoted: yes"
  empty: ""
  list_of_maps:
    - {a: 1, b: [x, y]}
    - c: ~
seed: 42
hydra:
  run:
    dir: outputs/${now:%Y-%m-%d}
)");
  write("constants/yolo_data.yaml", R"(image_size: [256, 256]
hu_windows:
  bone: {center: 1100, width: 1400}
names: {0: fracture}
ratio: .5
big: 1_000
hex: 0x1F
yes_flag: yes
when: 2024-01-01
)");
  write("logging/tensorboard.yaml", R"(logger: tensorboard
log_dir: outputs
)");
  write("logging/wandb.yaml", R"(logger: wandb
wandb:
  tags: []
)");
  write("model/yolo_baseline.yaml", R"(name: yolov8
variant: yolov8s
pretrained: true
)");
  write("split/fold_0.yaml", R"(fold_id: 0
train_patients: [p1, p2]
val_patients: [p3]
)");
  write("split/fold_1.yaml", R"(fold_id: 1
train_patients: [p2, p3]
val_patients: [p1]
)");
  auto c = compose({dir_, "config", ""}, {"split=fold_1", "logging=wandb", "logging.wandb.tags=[a,b]",
                                         "constants.hu_windows.bone={width: 1000}",
                                         "+extra={k: [1, 2.5, null, 's t']}"});
  const char* expected = R"(model:
  name: yolov8
  variant: yolov8s
  pretrained: true
constants:
  image_size:
  - 256
  - 256
  hu_windows:
    bone:
      center: 1100
      width: 1000
  names:
    0: fracture
  ratio: 0.5
  big: 1000
  hex: 31
  yes_flag: true
  when: '2024-01-01'
split:
  fold_id: 1
  train_patients:
  - p2
  - p3
  val_patients:
  - p1
logging:
  logger: wandb
  wandb:
    tags:
    - a
    - b
training:
  lr0: 0.001
  epochs: 100
  hyp: hyp/custom.yaml
  note: 'quoted: yes'
  empty: ''
  list_of_maps:
  - a: 1
    b:
    - x
    - 'y'
  - c: null
seed: 42
extra:
  k:
  - 1
  - 2.5
  - null
  - s t
)";
  EXPECT_EQ(to_yaml_string(c.tree), expected);
}

TEST_F(Parity, InterpolationResolvedAndNot) {
  write("config.yaml", R"(data:
  image_size: 256
  view: axial
  ratio: 1.0e-05
  flag: true
  nothing: null
model:
  img_size: ${data.image_size}
  copy: ${.img_size}
  up: ${..data.view}
name: run_${data.view}_${data.image_size}_${data.ratio}_${data.flag}_${data.nothing}
which: view
picked: ${data.${which}}
section: ${data}
escaped: \${data.view}
env_default: ${oc.env:VYOLO_NOPE_X,10}
env_null: ${oc.env:VYOLO_NOPE_X,null}
list:
  - ${data.view}
  - x_${data.image_size}
dec: ${oc.decode:'[1, 2]'}
sel: ${oc.select:data.view,zz}
sel2: ${oc.select:data.nope,zz}
)");
  ::unsetenv("VYOLO_NOPE_X");
  auto c = compose({dir_, "config", ""}, {});
  const char* unresolved = R"(data:
  image_size: 256
  view: axial
  ratio: 1.0e-05
  flag: true
  nothing: null
model:
  img_size: ${data.image_size}
  copy: ${.img_size}
  up: ${..data.view}
name: run_${data.view}_${data.image_size}_${data.ratio}_${data.flag}_${data.nothing}
which: view
picked: ${data.${which}}
section: ${data}
escaped: \${data.view}
env_default: ${oc.env:VYOLO_NOPE_X,10}
env_null: ${oc.env:VYOLO_NOPE_X,null}
list:
- ${data.view}
- x_${data.image_size}
dec: ${oc.decode:'[1, 2]'}
sel: ${oc.select:data.view,zz}
sel2: ${oc.select:data.nope,zz}
)";
  const char* resolved = R"(data:
  image_size: 256
  view: axial
  ratio: 1.0e-05
  flag: true
  nothing: null
model:
  img_size: 256
  copy: 256
  up: axial
name: run_axial_256_1e-05_True_None
which: view
picked: axial
section:
  image_size: 256
  view: axial
  ratio: 1.0e-05
  flag: true
  nothing: null
escaped: ${data.view}
env_default: '10'
env_null: null
list:
- axial
- x_256
dec:
- 1
- 2
sel: axial
sel2: zz
)";
  EXPECT_EQ(to_yaml_string(c.tree), unresolved);
  resolve_interpolations(c.tree);
  EXPECT_EQ(to_yaml_string(c.tree), resolved);
}
