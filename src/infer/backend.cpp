#include "infer/backend.h"

#include <deque>
#include <map>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "common/error.h"
#include "common/fs_util.h"
#include "model/onnx_model.h"

namespace vyolo::infer {

namespace {

class TorchBackend final : public Backend {
 public:
  TorchBackend(model::YoloV8 net, torch::Device device, std::string origin)
      : net_(std::move(net)), device_(device), origin_(std::move(origin)) {
    net_->to(device_);
    net_->eval();
    net_->fuse();
  }
  torch::Tensor forward(const torch::Tensor& batch) override {
    torch::NoGradGuard ng;
    return net_->predict(batch.to(device_));
  }
  int input_channels() const override { return net_->input_channels; }
  int num_classes() const override { return net_->nc; }
  std::string name() const override { return "LibTorch"; }
  std::string origin() const override { return origin_; }

 private:
  model::YoloV8 net_;
  torch::Device device_;
  std::string origin_;
};

std::string dims_text(const std::array<int64_t, 4>& d) {
  std::string s;
  for (auto v : d) s += (s.empty() ? "" : "x") + (v < 0 ? std::string("?") : std::to_string(v));
  return s;
}

class OpenCvDnnBackend final : public Backend {
 public:
  OpenCvDnnBackend(std::string bytes, const std::string& origin) : path_(origin), bytes_(std::move(bytes)) {
    info_ = model::inspect_onnx(bytes_, path_);
    // OpenCV parallelises its layers over its own pool: the same number of threads LibTorch was given
    // (training.threads, else every core), so that the two backends compare like for like.
    cv::setNumThreads(torch::get_num_threads());
    // A static model is imported now, so a graph OpenCV cannot run fails at load with the file named.
    if (!info_.dynamic()) net_for(info_.input_dims);
  }

  torch::Tensor forward(const torch::Tensor& batch) override {
    auto x = batch.to(torch::kCPU, torch::kFloat).contiguous();
    if (x.dim() != 4 || x.size(1) != info_.spec.input_channels)
      throw RuntimeError(path_ + ": expected an input batch of shape B x " + std::to_string(info_.spec.input_channels) +
                         " x H x W, got " + std::to_string(x.dim()) + "-D");
    std::array<int64_t, 4> dims{x.size(0), x.size(1), x.size(2), x.size(3)};
    for (size_t k = 0; k < 4; ++k)
      if (info_.input_dims[k] >= 0 && info_.input_dims[k] != dims[k])
        throw RuntimeError(path_ + ": the model takes input '" + info_.input_name + "' of " +
                           dims_text(info_.input_dims) + " only (exported with dynamic=false), not " + dims_text(dims) +
                           "; export with that imgsz/batch or with dynamic=true");
    if (dims[2] % 32 || dims[3] % 32)
      throw RuntimeError(path_ + ": input " + dims_text(dims) + ": image sides must be multiples of 32");
    cv::dnn::Net& net = net_for(dims);
    const int sz[4] = {int(dims[0]), int(dims[1]), int(dims[2]), int(dims[3])};
    cv::Mat blob(4, sz, CV_32F, x.data_ptr<float>());
    cv::Mat out;
    try {
      net.setInput(blob, info_.input_name);
      out = net.forward(info_.output_name);
    } catch (const cv::Exception& e) {
      throw RuntimeError(path_ + ": OpenCV DNN failed on input " + dims_text(dims) + " (" + e.msg + ")");
    }
    const int64_t no = 4 + info_.spec.num_classes;
    if (out.dims != 3 || out.size[0] != sz[0] || out.size[1] != no || !out.isContinuous())
      throw RuntimeError(path_ + ": OpenCV DNN returned an output of unexpected shape for input " + dims_text(dims));
    return torch::from_blob(out.ptr<float>(), {out.size[0], out.size[1], out.size[2]}, torch::kFloat).clone();
  }

  int input_channels() const override { return info_.spec.input_channels; }
  int num_classes() const override { return info_.spec.num_classes; }
  int fixed_batch() const override { return int(std::max<int64_t>(0, info_.input_dims[0])); }
  int fixed_height() const override { return int(std::max<int64_t>(0, info_.input_dims[2])); }
  int fixed_width() const override { return int(std::max<int64_t>(0, info_.input_dims[3])); }
  std::string name() const override { return "OpenCV DNN"; }
  std::string origin() const override { return path_; }
  const model::OnnxInfo& info() const { return info_; }

 private:
  // One imported network per input shape (model::specialise_onnx says why); the last few are kept.
  cv::dnn::Net& net_for(const std::array<int64_t, 4>& dims) {
    auto it = nets_.find(dims);
    if (it != nets_.end()) return it->second;
    const std::string bytes = info_.dynamic() ? model::specialise_onnx(bytes_, dims, path_) : bytes_;
    cv::dnn::Net net;
    try {
      net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
    } catch (const cv::Exception& e) {
      throw RuntimeError(path_ + ": OpenCV DNN cannot import this graph (" + e.msg + ")");
    }
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    if (order_.size() >= 8) {
      nets_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(dims);
    return nets_.emplace(dims, std::move(net)).first->second;
  }

  std::string path_, bytes_;
  model::OnnxInfo info_;
  std::map<std::array<int64_t, 4>, cv::dnn::Net> nets_;
  std::deque<std::array<int64_t, 4>> order_;
};

}  // namespace

std::shared_ptr<Backend> make_torch_backend(model::YoloV8 net, torch::Device device, const std::string& origin) {
  return std::make_shared<TorchBackend>(std::move(net), device, origin);
}

std::shared_ptr<Backend> make_opencv_backend_from_bytes(const std::string& bytes, const std::string& origin,
                                                        model::ModelSpec* spec) {
  auto b = std::make_shared<OpenCvDnnBackend>(bytes, origin);
  if (spec) *spec = b->info().spec;
  return b;
}

std::shared_ptr<Backend> make_opencv_backend(const std::string& onnx_path, model::ModelSpec* spec) {
  return make_opencv_backend_from_bytes(read_file(onnx_path), onnx_path, spec);
}

void hand_threads_to_opencv() {
  const int n = torch::get_num_threads();
  if (n > 1) {
    cv::setNumThreads(n);
    torch::set_num_threads(1);
  }
}

std::shared_ptr<Backend> load_backend(const std::string& path, torch::Device device, model::ModelSpec* spec) {
  if (model::is_onnx_path(path)) {
    if (!device.is_cpu())
      throw UsageError(path + ": ONNX models run on the CPU through OpenCV DNN; use device=cpu, or the .safetensors "
                       "checkpoint for device=" + device.str());
    auto b = make_opencv_backend(path, spec);
    hand_threads_to_opencv();
    return b;
  }
  model::ModelSpec s;
  auto net = model::load_model(path, &s);
  if (spec) *spec = s;
  return make_torch_backend(std::move(net), device, path);
}

}  // namespace vyolo::infer
