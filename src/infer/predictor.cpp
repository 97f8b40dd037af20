#include "infer/predictor.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "common/error.h"

namespace vyolo::infer {

torch::Tensor to_tensor(const cv::Mat& img, int channels) {
  cv::Mat rgb;
  if (channels == 1) {
    if (img.channels() == 3)
      cv::cvtColor(img, rgb, cv::COLOR_BGR2GRAY);
    else
      rgb = img;
  } else if (img.channels() == 1) {
    cv::cvtColor(img, rgb, cv::COLOR_GRAY2RGB);
  } else {
    cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
  }
  if (!rgb.isContinuous()) rgb = rgb.clone();
  auto t = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, rgb.channels()}, torch::kUInt8);
  return t.permute({2, 0, 1}).to(torch::kFloat).div_(255.0).contiguous();
}


Predictor::Predictor(std::shared_ptr<Backend> backend, int imgsz, ops::NmsOptions nms)
    : backend_(std::move(backend)), imgsz_(imgsz), nms_(nms) {
  if (imgsz_ % 32 != 0) imgsz_ = (imgsz_ / 32 + 1) * 32;  // Ultralytics' check_imgsz rounds up to the stride
  const int fh = backend_->fixed_height(), fw = backend_->fixed_width();
  if (fh > 0 && (fh != imgsz_ || fw != imgsz_))
    throw UsageError(backend_->origin() + " was exported for " + std::to_string(fh) + "x" + std::to_string(fw) +
                     " input only (dynamic=false), not imgsz=" + std::to_string(imgsz_) +
                     "; drop imgsz, or export again with imgsz=" + std::to_string(imgsz_) + " or dynamic=true");
}

Predictor::Predictor(model::YoloV8 net, int imgsz, ops::NmsOptions nms, torch::Device device)
    : Predictor(make_torch_backend(std::move(net), device), imgsz, nms) {}

torch::Tensor Predictor::forward(const torch::Tensor& batch) {
  const int64_t fb = backend_->fixed_batch();
  if (fb <= 0 || batch.size(0) == fb) return backend_->forward(batch);
  std::vector<torch::Tensor> outs;
  for (int64_t i = 0; i < batch.size(0); i += fb) {
    auto part = batch.slice(0, i, std::min(batch.size(0), i + fb));
    const int64_t n = part.size(0);
    if (n < fb) part = torch::cat({part, torch::zeros({fb - n, part.size(1), part.size(2), part.size(3)}, part.options())});
    outs.push_back(backend_->forward(part).slice(0, 0, n));
  }
  return torch::cat(outs, 0);
}

std::vector<std::vector<Detection>> Predictor::predict(const std::vector<cv::Mat>& images) {
  std::vector<std::vector<Detection>> results;
  if (images.empty()) return results;
  // A fixed-size model takes the square letterbox (Ultralytics' AutoBackend for exported models).
  const bool fixed = backend_->fixed_height() > 0;
  bool same = !fixed;
  for (auto& im : images) same = same && im.size() == images[0].size();
  std::vector<ops::LetterboxGeometry> lbs;
  std::vector<torch::Tensor> ts;
  for (auto& im : images) {
    lbs.push_back(ops::letterbox_geometry(im.rows, im.cols, imgsz_, imgsz_, /*auto_pad=*/same));
    ts.push_back(to_tensor(ops::apply_letterbox(im, lbs.back()), backend_->input_channels()));
  }
  auto out = forward(torch::stack(ts));
  auto dets = ops::non_max_suppression(out, nms_);
  for (size_t i = 0; i < images.size(); ++i) {
    auto d = dets[i];
    // As Ultralytics' predictor: the mapping back is recomputed from the two shapes (scale_boxes without ratio_pad).
    const auto m = ops::scale_boxes_mapping(lbs[i].out_h(), lbs[i].out_w(), images[i].rows, images[i].cols);
    const float W = static_cast<float>(images[i].cols), H = static_cast<float>(images[i].rows);
    std::vector<Detection> r;
    auto a = d.accessor<float, 2>();
    for (int64_t k = 0; k < d.size(0); ++k) {
      // float32 arithmetic as the tensor ops upstream
      auto x = [&](float v) { return std::clamp((v - float(m.pad_x)) / float(m.gain), 0.f, W); };
      auto y = [&](float v) { return std::clamp((v - float(m.pad_y)) / float(m.gain), 0.f, H); };
      r.push_back({x(a[k][0]), y(a[k][1]), x(a[k][2]), y(a[k][3]), a[k][4], static_cast<int>(a[k][5])});
    }
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace vyolo::infer
