#include "infer/postprocess.h"

#include <cmath>
#include <numeric>

#include <opencv2/imgproc.hpp>

namespace vyolo::infer {

Letterboxed letterbox(const cv::Mat& img, int new_h, int new_w, bool auto_pad, int stride, bool scaleup,
                      const cv::Scalar& color) {
  const int h = img.rows, w = img.cols;
  double r = std::min(static_cast<double>(new_h) / h, static_cast<double>(new_w) / w);
  if (!scaleup) r = std::min(r, 1.0);
  const int uw = static_cast<int>(std::round(w * r)), uh = static_cast<int>(std::round(h * r));
  double dw = new_w - uw, dh = new_h - uh;
  if (auto_pad) {
    dw = std::fmod(dw, stride);
    dh = std::fmod(dh, stride);
  }
  dw /= 2;
  dh /= 2;
  Letterboxed out;
  out.ratio = r;
  cv::Mat resized = img;
  if (uw != w || uh != h) cv::resize(img, resized, cv::Size(uw, uh), 0, 0, cv::INTER_LINEAR);
  // Python's round() is half-to-even; the -0.1/+0.1 split makes the two sides differ by at most one pixel.
  const int top = static_cast<int>(std::nearbyint(dh - 0.1)), bottom = static_cast<int>(std::nearbyint(dh + 0.1));
  const int left = static_cast<int>(std::nearbyint(dw - 0.1)), right = static_cast<int>(std::nearbyint(dw + 0.1));
  cv::copyMakeBorder(resized, out.image, top, bottom, left, right, cv::BORDER_CONSTANT, color);
  out.pad_x = left;
  out.pad_y = top;
  return out;
}

torch::Tensor nms_indices(const torch::Tensor& boxes_xyxy, const torch::Tensor& scores, double iou) {
  auto b = boxes_xyxy.to(torch::kCPU, torch::kFloat).contiguous();
  auto s = scores.to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t n = b.size(0);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const float* sp = s.data_ptr<float>();
  std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return sp[i] > sp[j]; });
  const float* bp = b.data_ptr<float>();
  std::vector<char> removed(n, 0);
  std::vector<int64_t> keep;
  for (int64_t oi = 0; oi < n; ++oi) {
    const int64_t i = order[oi];
    if (removed[i]) continue;
    keep.push_back(i);
    const float* bi = bp + 4 * i;
    const float area_i = (bi[2] - bi[0]) * (bi[3] - bi[1]);
    for (int64_t oj = oi + 1; oj < n; ++oj) {
      const int64_t j = order[oj];
      if (removed[j]) continue;
      const float* bj = bp + 4 * j;
      const float iw = std::max(0.f, std::min(bi[2], bj[2]) - std::max(bi[0], bj[0]));
      const float ih = std::max(0.f, std::min(bi[3], bj[3]) - std::max(bi[1], bj[1]));
      const float inter = iw * ih;
      const float area_j = (bj[2] - bj[0]) * (bj[3] - bj[1]);
      if (inter / (area_i + area_j - inter) > iou) removed[j] = 1;
    }
  }
  return torch::tensor(keep, torch::kLong);
}

std::vector<torch::Tensor> non_max_suppression(const torch::Tensor& pred_in, const NmsOptions& opt) {
  using torch::indexing::Slice;
  auto pred = pred_in.detach().to(torch::kCPU, torch::kFloat);
  const int64_t bs = pred.size(0), nc = pred.size(1) - 4;
  auto p = pred.transpose(1, 2);  // (B, A, 4 + nc)
  std::vector<torch::Tensor> out;
  for (int64_t bi = 0; bi < bs; ++bi) {
    auto x = p[bi];
    auto cls_scores = x.index({Slice(), Slice(4, 4 + nc)});
    auto [conf, j] = cls_scores.max(1, /*keepdim=*/true);
    auto keep = conf.view(-1) > opt.conf;
    auto xy = x.index({Slice(), Slice(0, 2)}), wh = x.index({Slice(), Slice(2, 4)});
    auto box = torch::cat({xy - wh / 2, xy + wh / 2}, 1);
    auto d = torch::cat({box, conf, j.to(torch::kFloat)}, 1).index({keep});
    if (d.size(0) == 0) {
      out.push_back(torch::zeros({0, 6}));
      continue;
    }
    if (d.size(0) > opt.max_nms) {
      auto order = std::get<1>(d.index({Slice(), 4}).sort(0, /*descending=*/true));
      d = d.index({order.index({Slice(0, opt.max_nms)})});
    }
    auto offset = d.index({Slice(), Slice(5, 6)}) * (opt.agnostic ? 0.0 : opt.max_wh);
    auto idx = nms_indices(d.index({Slice(), Slice(0, 4)}) + offset, d.index({Slice(), 4}), opt.iou);
    if (idx.size(0) > opt.max_det) idx = idx.index({Slice(0, opt.max_det)});
    out.push_back(d.index({idx}));
  }
  return out;
}

void scale_boxes(torch::Tensor& boxes, const Letterboxed& lb, int orig_h, int orig_w) {
  using torch::indexing::Slice;
  if (boxes.size(0) == 0) return;
  // As Ultralytics' scale_boxes: gain and padding recomputed from the two shapes.
  const double h1 = lb.image.rows, w1 = lb.image.cols;
  const double gain = std::min(h1 / orig_h, w1 / orig_w);
  const double px = std::nearbyint((w1 - orig_w * gain) / 2 - 0.1), py = std::nearbyint((h1 - orig_h * gain) / 2 - 0.1);
  auto xs = boxes.index({Slice(), torch::tensor({0, 2})});
  auto ys = boxes.index({Slice(), torch::tensor({1, 3})});
  boxes.index_put_({Slice(), torch::tensor({0, 2})}, ((xs - px) / gain).clamp(0, orig_w));
  boxes.index_put_({Slice(), torch::tensor({1, 3})}, ((ys - py) / gain).clamp(0, orig_h));
}

}  // namespace vyolo::infer
