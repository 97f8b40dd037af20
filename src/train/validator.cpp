#include "train/validator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>

#include <opencv2/imgproc.hpp>

#include "ops/nms.h"

namespace vyolo::train {

torch::Tensor batch_tensor(const dataset::Batch& b, int channels, torch::Device device) {
  auto t = torch::from_blob(const_cast<float*>(b.images.data()), {b.n, b.c, b.h, b.w}, torch::kFloat32);
  if (channels < b.c) t = t.narrow(1, 0, channels);
  return t.to(torch::TensorOptions().device(device).dtype(torch::kFloat32), /*non_blocking=*/false, /*copy=*/true)
      .contiguous();
}

torch::Tensor targets_tensor(const dataset::Batch& b) {
  auto t = torch::empty({static_cast<int64_t>(b.targets.size()), 6}, torch::kFloat32);
  auto* p = t.data_ptr<float>();
  for (size_t i = 0; i < b.targets.size(); ++i)
    for (int k = 0; k < 6; ++k) p[i * 6 + k] = b.targets[i][k];
  return t;
}

std::map<std::string, double> ValResult::row() const {
  const auto& m = metrics;
  std::map<std::string, double> r{
      {"metrics/precision(B)", m.precision}, {"metrics/recall(B)", m.recall},  {"metrics/mAP50(B)", m.map50},
      {"metrics/mAP50-95(B)", m.map50_95},   {"val/map_50", m.map50},          {"val/map_50_95", m.map50_95},
      {"val/precision", m.precision},        {"val/recall", m.recall},         {"val/f1", m.f1},
      {"fitness", m.fitness}};
  if (has_loss) {
    r["val/box_loss"] = loss[0];
    r["val/cls_loss"] = loss[1];
    r["val/dfl_loss"] = loss[2];
  }
  return r;
}

ValResult validate(model::YoloV8& net, dataset::DataLoader& loader, const loss::DetectionLoss* loss,
                   torch::Device device, int nc, const ValOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool was_training = net->is_training();
  net->eval();
  torch::NoGradGuard ng;
  eval::MetricsAccumulator acc(nc);
  ValResult res;
  res.images_per_class.assign(nc, 0);
  res.instances_per_class.assign(nc, 0);
  ops::NmsOptions nms;
  nms.conf = opt.conf, nms.iou = opt.iou, nms.max_det = opt.max_det;
  nms.multi_label = true;  // as the upstream validator (a no-op for one class)
  torch::Tensor loss_sum = torch::zeros({3});
  int batches = 0;
  loader.set_epoch(0, 1);
  // NHWC input for a network whose weights are NHWC (the trainer's channels-last EMA): no layout reorders.
  bool nhwc = false;
  for (const auto& p : net->parameters())
    if (p.dim() == 4) {
      nhwc = !p.is_contiguous() && p.is_contiguous(torch::MemoryFormat::ChannelsLast);
      break;
    }
  for (dataset::Batch b; loader.next(b);) {
    auto x = batch_tensor(b, net->input_channels, device);
    if (nhwc) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    auto raw = net->forward(x);
    if (loss) {
      std::vector<torch::Tensor> feats;
      for (auto& r : raw) feats.push_back(r.to(torch::kFloat32));
      loss_sum += loss->forward(feats, targets_tensor(b).to(device)).items.to(torch::kCPU);
    }
    ++batches;
    auto dets = ops::non_max_suppression(net->decode(raw).to(torch::kFloat32), nms);
    // Matched in the batch's pixel frame, as Ultralytics 8.4.50's DetectionValidator ("native space"): labels and
    // predictions both letterboxed, predictions not clipped. IoU is unchanged by the letterbox's uniform scaling.
    std::vector<std::vector<eval::Detection>> frame_dets(b.n);
    for (int i = 0; i < b.n; ++i) {
      auto d = dets[i].to(torch::kCPU).contiguous();
      const auto* p = d.data_ptr<float>();
      for (int64_t k = 0; k < d.size(0); ++k)
        frame_dets[i].push_back({p[k * 6], p[k * 6 + 1], p[k * 6 + 2], p[k * 6 + 3], p[k * 6 + 4],
                                 static_cast<int>(p[k * 6 + 5])});
      std::vector<eval::GroundTruth> gt;
      std::set<int> classes;
      for (const auto& t : b.targets) {
        if (static_cast<int>(t[0]) != i) continue;
        const int c = static_cast<int>(t[1]);
        gt.push_back({c, (t[2] - t[4] / 2) * b.w, (t[3] - t[5] / 2) * b.h, (t[2] + t[4] / 2) * b.w,
                      (t[3] + t[5] / 2) * b.h});
        if (c >= 0 && c < nc) ++res.instances_per_class[c], classes.insert(c);
      }
      for (int c : classes) ++res.images_per_class[c];
      acc.add_image(frame_dets[i], gt);
    }
    if (opt.preview && res.preview.empty()) {
      for (auto& v : frame_dets)
        v.erase(std::remove_if(v.begin(), v.end(), [](const eval::Detection& e) { return e.conf < 0.25f; }), v.end());
      res.preview = draw_batch(b, opt.names, &frame_dets);
    }
  }
  res.metrics = acc.compute();
  res.confusion = acc.confusion();
  res.images = acc.images();
  res.instances = acc.instances();
  if (loss && batches > 0) {
    res.has_loss = true;
    for (int k = 0; k < 3; ++k) res.loss[k] = loss_sum[k].item<double>() / batches;
  }
  if (was_training) net->train();
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

std::string metrics_table(const ValResult& r, const std::vector<std::string>& names) {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%22s%11s%11s%11s%11s%11s%11s\n", "Class", "Images", "Instances", "Box(P", "R",
                "mAP50", "mAP50-95)");
  out += buf;
  const auto& m = r.metrics;
  std::snprintf(buf, sizeof buf, "%22s%11lld%11lld%11.3g%11.3g%11.3g%11.3g\n", "all", (long long)r.images,
                (long long)r.instances, m.precision, m.recall, m.map50, m.map50_95);
  out += buf;
  if (r.images_per_class.size() > 1) {
    for (const auto& c : m.per_class) {
      std::string name = c.cls < static_cast<int>(names.size()) ? names[c.cls] : std::to_string(c.cls);
      long long ni = c.cls < static_cast<int>(r.images_per_class.size()) ? r.images_per_class[c.cls] : 0;
      std::snprintf(buf, sizeof buf, "%22s%11lld%11lld%11.3g%11.3g%11.3g%11.3g\n", name.c_str(), ni,
                    (long long)c.n_gt, c.p, c.r, c.ap50(), c.ap50_95());
      out += buf;
    }
  }
  return out;
}

cv::Mat draw_batch(const dataset::Batch& b, const std::vector<std::string>& names,
                   const std::vector<std::vector<eval::Detection>>* detections) {
  const int n = std::min(b.n, 16);
  if (n <= 0 || b.h <= 0 || b.w <= 0) return {};
  const int cols = static_cast<int>(std::ceil(std::sqrt(double(n))));
  const int rows = (n + cols - 1) / cols;
  cv::Mat grid(rows * b.h, cols * b.w, CV_8UC3, cv::Scalar(114, 114, 114));
  const size_t plane = static_cast<size_t>(b.h) * b.w;
  auto label_of = [&](int c) { return c >= 0 && c < static_cast<int>(names.size()) ? names[c] : std::to_string(c); };
  for (int i = 0; i < n; ++i) {
    cv::Mat tile = grid(cv::Rect((i % cols) * b.w, (i / cols) * b.h, b.w, b.h));
    const float* src = b.images.data() + static_cast<size_t>(i) * b.c * plane;
    for (int y = 0; y < b.h; ++y)
      for (int x = 0; x < b.w; ++x) {
        auto& px = tile.at<cv::Vec3b>(y, x);
        for (int ch = 0; ch < 3; ++ch) {
          const int sc = std::min(ch, b.c - 1);  // RGB planes -> BGR pixel
          px[2 - ch] = cv::saturate_cast<uchar>(src[sc * plane + y * b.w + x] * 255.f);
        }
      }
    const double fs = std::max(0.3, b.w / 640.0);
    if (detections) {
      if (i < static_cast<int>(detections->size()))
        for (const auto& d : (*detections)[i]) {
          cv::rectangle(tile, cv::Point(int(d.x1), int(d.y1)), cv::Point(int(d.x2), int(d.y2)), {0, 0, 255}, 1);
          char s[64];
          std::snprintf(s, sizeof s, "%s %.2f", label_of(d.cls).c_str(), d.conf);
          cv::putText(tile, s, cv::Point(int(d.x1), std::max(8, int(d.y1) - 2)), cv::FONT_HERSHEY_SIMPLEX, fs,
                      {0, 0, 255}, 1);
        }
    } else {
      for (const auto& t : b.targets) {
        if (static_cast<int>(t[0]) != i) continue;
        const int x1 = int((t[2] - t[4] / 2) * b.w), y1 = int((t[3] - t[5] / 2) * b.h);
        const int x2 = int((t[2] + t[4] / 2) * b.w), y2 = int((t[3] + t[5] / 2) * b.h);
        cv::rectangle(tile, cv::Point(x1, y1), cv::Point(x2, y2), {0, 255, 0}, 1);
        cv::putText(tile, label_of(int(t[1])), cv::Point(x1, std::max(8, y1 - 2)), cv::FONT_HERSHEY_SIMPLEX, fs,
                    {0, 255, 0}, 1);
      }
    }
    cv::rectangle(tile, cv::Rect(0, 0, b.w, b.h), {255, 255, 255}, 1);
  }
  return grid;
}

}  // namespace vyolo::train
