// `vyolo export format=onnx`: the fused YOLOv8 network (Conv+BN folded) as an ONNX graph built with Debian's libonnx
// (protobuf types, checker, shape inference), with Ultralytics' contract: input `images` (B, C, H, W) float 0..1,
// output `output0` (B, 4 + nc, A) = cx, cy, w, h in input pixels and sigmoid scores, and Ultralytics' metadata
// (names, stride, imgsz, task, batch, args, channels as Python literals) plus the checkpoint's slicing recipe.
//
// The graph uses only forms that ONNX opsets 12..17 define alike and OpenCV 4.6's importer runs: Split into equal
// halves (no `split` attribute or input), Softmax over the last axis (the same under both Softmax definitions),
// Resize with constant scales, no Shape/Range arithmetic. With dynamic=true the anchor grid is computed from the
// input (a zero 1x1 convolution of the stride gives ones, CumSum numbers them) instead of being a constant.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "model/weights.h"

namespace vyolo::exporter {

struct OnnxOptions {
  int imgsz = 640;       // square input side, a multiple of 32 (export_onnx: 0 = the checkpoint's, rounded up to 32)
  int batch = 1;         // fixed batch size (dynamic=false)
  bool dynamic = false;  // symbolic batch, height and width
  int opset = 12;        // 12..17
  bool simplify = true;  // keep the inferred shape of every intermediate tensor in the file (as onnxslim does)
};

// The serialised model of `net` (put in eval mode and fused here), with `metadata` after Ultralytics' keys.
std::string build_onnx(model::YoloV8& net, const std::vector<std::string>& names, const OnnxOptions& opt,
                       const std::map<std::string, std::string>& metadata = {});

// ONNX's full check: the checker, then shape inference in strict mode with type checks (every node's inferred
// output must agree with what the graph declares). RuntimeError naming `origin` with ONNX's message.
void check_onnx(const std::string& bytes, const std::string& origin);

struct ExportResult {
  std::string path;
  size_t bytes = 0;
  std::string input_shape, output_shape;  // (1, 3, 256, 256), (batch, 5, anchors)
  double opencv_error = 0;  // max |OpenCV DNN - LibTorch| / max(1, |LibTorch|) over the check inputs
};

// Reads a checkpoint, builds and checks the model (ONNX checker and shape inference, then OpenCV DNN against LibTorch
// on seeded random inputs: relative difference above 1e-3 is a RuntimeError) and writes it atomically to `out`
// (empty: the weights path with .onnx). An existing `out` with other content needs `overwrite`.
ExportResult export_onnx(const std::string& weights, const std::string& out, const OnnxOptions& opt,
                         bool overwrite = false);

}  // namespace vyolo::exporter
