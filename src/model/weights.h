// Weights and checkpoints in the safetensors layout (DESIGN.md §4). Tensor names are Ultralytics' state_dict names,
// so a converted Ultralytics `.pt` (tools/pt_to_safetensors.py) loads directly.
#pragma once
#include <map>
#include <string>

#include "common/safetensors.h"
#include "model/yolo.h"

namespace vyolo::model {

// Copies module parameters and buffers into a file (names as in the module, dtypes preserved) under `prefix`.
void add_module_tensors(st::File& f, const torch::nn::Module& m, const std::string& prefix = "");
st::Tensor to_st(const torch::Tensor& t);
torch::Tensor from_st(const st::Tensor& t);

struct LoadReport {
  int loaded = 0;
  int reinitialised = 0;   // head classification tensors skipped because the class count differs
};

// Loads the tensors without a prefix from `f` into the model. Strict: a missing, extra or mis-shaped tensor throws
// RuntimeError naming it (and `origin`). With `allow_class_change`, tensors of the classification branch
// (model.22.cv3.*) whose shapes differ are left at their fresh initialisation, the way Ultralytics transfers
// weights between class counts.
LoadReport load_weights(YoloV8& net, const st::File& f, const std::string& origin, bool allow_class_change = false);

// What a weights file says (or implies, for a bare Ultralytics state_dict) about the network it holds.
struct ModelSpec {
  std::string variant;
  int num_classes = 0;
  int input_channels = 3;
  int img_size = 0;                     // 0 when unknown
  std::vector<std::string> names;
  std::map<std::string, std::string> metadata;
};
// Metadata first; otherwise inferred from tensor shapes (stem width → scale, cv3 output channels → classes).
ModelSpec inspect_weights(const st::File& f, const std::string& origin);

// Reads a weights file and builds the network it describes (metadata, else tensor shapes). Used by predict and val.
// An .onnx path is a RuntimeError saying that it needs the checkpoint (infer::load_backend runs ONNX models).
YoloV8 load_model(const std::string& path, ModelSpec* spec_out = nullptr);

}  // namespace vyolo::model
