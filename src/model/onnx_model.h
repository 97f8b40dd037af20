// What an exported ONNX detection model says about itself, as inspect_weights does for safetensors: Ultralytics'
// metadata (`names`, `stride`, `imgsz`, `task`, `batch`, written as Python literals), vyolo's recipe keys (view,
// hu_windows, crop, ...), and the shapes of its input `images` (B, C, H, W) and output `output0` (B, 4 + nc, A).
// The protobuf types are Debian's libonnx; the graph itself runs in infer's OpenCV DNN backend.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "model/weights.h"

namespace vyolo::model {

struct OnnxInfo {
  ModelSpec spec;                      // names, num_classes (from output0), input_channels, img_size, metadata
  std::string input_name, output_name;
  std::array<int64_t, 4> input_dims{};  // B, C, H, W; -1 where the dimension is symbolic (dynamic=true)
  int opset = 0;
  bool dynamic() const { return input_dims[0] < 0 || input_dims[2] < 0 || input_dims[3] < 0; }
};

// Parses `bytes` (an .onnx file) and checks that it is a YOLOv8-style detection export: one 4-D float input, a 3-D
// float output with 4 + nc channels, metadata task=detect, names (nc of them) and stride 32. Any problem is a
// RuntimeError naming `origin`.
OnnxInfo inspect_onnx(const std::string& bytes, const std::string& origin);

// The same model with the input's dimensions fixed to `dims` and no intermediate shapes. Why: OpenCV 4.6 infers
// every layer's shape once, at import, from the declared input; with symbolic sizes it guesses wrongly (and then
// treats equal-shaped additions as broadcasts), so a dynamic model is imported once per input shape.
std::string specialise_onnx(const std::string& bytes, const std::array<int64_t, 4>& dims, const std::string& origin);

bool is_onnx_path(const std::string& path);

// Ultralytics writes metadata values with Python's str(): names as `{0: 'a', 1: 'b'}`, strings in repr quotes.
std::string python_str(const std::string& s);
std::string python_names(const std::vector<std::string>& names);
// `{0: 'a', 1: "b's"}` (keys 0..n-1) or `['a', 'b']`; RuntimeError naming `origin` otherwise.
std::vector<std::string> parse_python_names(const std::string& text, const std::string& origin);

}  // namespace vyolo::model
