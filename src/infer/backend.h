// The network behind the predictor: LibTorch running a .safetensors checkpoint, or OpenCV DNN running a model
// exported by `vyolo export format=onnx` (or Ultralytics), with no LibTorch in its forward pass. Both take the same
// letterboxed NCHW float batch and return the decoded output (B, 4 + nc, A), so letterbox, NMS and the mapping back
// to image pixels are shared (infer/predictor.h). The file extension chooses: .onnx → OpenCV DNN.
#pragma once
#include <memory>
#include <string>

#include "model/weights.h"

namespace vyolo::infer {

class Backend {
 public:
  virtual ~Backend() = default;
  // (B, C, H, W) float → (B, 4 + nc, A): cx, cy, w, h in input pixels and sigmoid scores.
  virtual torch::Tensor forward(const torch::Tensor& batch) = 0;
  virtual int input_channels() const = 0;
  virtual int num_classes() const = 0;
  // The input a model was exported for; 0 where any size works (LibTorch, an ONNX export with dynamic=true).
  virtual int fixed_batch() const { return 0; }
  virtual int fixed_height() const { return 0; }
  virtual int fixed_width() const { return 0; }
  virtual std::string name() const = 0;    // "LibTorch" | "OpenCV DNN"
  virtual std::string origin() const = 0;  // the file, for messages
};

// The network in eval mode with BatchNorm folded, on `device`.
std::shared_ptr<Backend> make_torch_backend(model::YoloV8 net, torch::Device device, const std::string& origin = "");

// An exported ONNX model through OpenCV DNN on the CPU, with OpenCV using LibTorch's thread count. Checks the file
// (model::inspect_onnx: RuntimeError naming it for a non-detection model or mismatched names). `spec` receives what
// its metadata says.
std::shared_ptr<Backend> make_opencv_backend(const std::string& onnx_path, model::ModelSpec* spec = nullptr);
// The same from the bytes of an .onnx file (the exporter checks a model before writing it); `origin` names it.
std::shared_ptr<Backend> make_opencv_backend_from_bytes(const std::string& bytes, const std::string& origin,
                                                        model::ModelSpec* spec = nullptr);

// By extension: .onnx → OpenCV DNN (device must be the CPU, else UsageError), anything else → a LibTorch checkpoint.
// When OpenCV DNN runs the network, LibTorch only does the small pre- and post-processing: OpenCV gets the intra-op
// threads LibTorch had and LibTorch keeps one. Otherwise LibTorch's OpenMP workers spin-wait after each of its ops and
// take the cores from OpenCV's workers (yolov8n predict at 256 px: 72 ms per image instead of 33 on 2 cores).
void hand_threads_to_opencv();

// .onnx: an OpenCV DNN backend (and hand_threads_to_opencv); else the checkpoint in LibTorch.
std::shared_ptr<Backend> load_backend(const std::string& path, torch::Device device, model::ModelSpec* spec = nullptr);

}  // namespace vyolo::infer
