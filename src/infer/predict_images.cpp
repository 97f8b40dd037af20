#include "infer/predict_images.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/fs_util.h"
#include "common/format.h"
#include "common/image_check.h"
#include "common/json_text.h"

namespace fs = std::filesystem;

namespace vyolo::infer {

namespace {

std::string fmt_g(double v) { return format_number("%g", v); }

std::string encode_like(const fs::path& p, const cv::Mat& img) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  if (ext != ".png" && ext != ".jpg" && ext != ".jpeg" && ext != ".bmp") ext = ".png";
  std::vector<uchar> buf;
  cv::imencode(ext, img, buf);
  return std::string(buf.begin(), buf.end());
}

}  // namespace

bool is_image_path(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  static const char* exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".jp2"};
  return std::any_of(std::begin(exts), std::end(exts), [&](const char* e) { return ext == e; });
}

std::vector<fs::path> list_image_sources(const fs::path& source) {
  if (!fs::exists(source)) throw RuntimeError("source=" + source.string() + ": no such file or folder");
  if (!fs::is_directory(source)) return {source};
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(source))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

cv::Mat draw_detections(const cv::Mat& img, const std::vector<Detection>& dets, const std::vector<std::string>& names) {
  cv::Mat out;
  if (img.channels() == 1)
    cv::cvtColor(img, out, cv::COLOR_GRAY2BGR);
  else
    out = img.clone();
  const int thick = std::max(1, static_cast<int>(std::round((out.rows + out.cols) / 2.0 * 0.003)));
  for (auto& d : dets) {
    const cv::Scalar color(56, 56, 255);
    cv::rectangle(out, cv::Point(int(d.x1), int(d.y1)), cv::Point(int(d.x2), int(d.y2)), color, thick, cv::LINE_AA);
    std::string name = d.cls < static_cast<int>(names.size()) ? names[d.cls] : std::to_string(d.cls);
    char label[128];
    std::snprintf(label, sizeof label, "%s %.2f", name.c_str(), d.conf);
    int base = 0;
    const double scale = std::max(0.35, thick / 3.0);
    auto ts = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
    const int y = std::max(int(d.y1), ts.height + 2);
    cv::rectangle(out, cv::Point(int(d.x1), y - ts.height - 2), cv::Point(int(d.x1) + ts.width, y), color, cv::FILLED);
    cv::putText(out, label, cv::Point(int(d.x1), y - 1), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(255, 255, 255), 1,
                cv::LINE_AA);
  }
  return out;
}

ImagePredictSummary predict_images(Predictor& predictor, const std::vector<fs::path>& files,
                                   const ImagePredictOptions& opt) {
  ImagePredictSummary sum;
  nlohmann::json records = nlohmann::json::array();
  std::vector<fs::path> batch_paths;
  std::vector<cv::Mat> batch;
  auto flush = [&]() {
    if (batch.empty()) return;
    auto results = predictor.predict(batch);
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& p = batch_paths[i];
      const auto& img = batch[i];
      const auto& dets = results[i];
      nlohmann::json boxes = nlohmann::json::array();
      std::string txt;
      for (auto& d : dets) {
        std::string name = d.cls < static_cast<int>(opt.names.size()) ? opt.names[d.cls] : std::to_string(d.cls);
        boxes.push_back({{"cls", d.cls}, {"name", name}, {"conf", d.conf}, {"xyxy", {d.x1, d.y1, d.x2, d.y2}}});
        const double cx = (d.x1 + d.x2) / 2 / img.cols, cy = (d.y1 + d.y2) / 2 / img.rows;
        const double w = (d.x2 - d.x1) / img.cols, h = (d.y2 - d.y1) / img.rows;
        txt += std::to_string(d.cls) + " " + fmt_g(cx) + " " + fmt_g(cy) + " " + fmt_g(w) + " " + fmt_g(h) + " " +
               fmt_g(d.conf) + "\n";
      }
      if (opt.save) write_file_atomic(opt.out_dir / p.filename(), encode_like(p, draw_detections(img, dets, opt.names)));
      if (opt.save_txt) write_file_atomic(opt.out_dir / "labels" / (p.stem().string() + ".txt"), txt);
      records.push_back({{"image", p.string()}, {"width", img.cols}, {"height", img.rows}, {"boxes", boxes}});
      std::cout << "image " << (sum.images + 1) << ": " << p.filename().string() << " " << img.cols << "x" << img.rows
                << ", " << dets.size() << " box" << (dets.size() == 1 ? "" : "es") << "\n";
      ++sum.images;
      sum.boxes += static_cast<int>(dets.size());
    }
    batch.clear();
    batch_paths.clear();
  };
  for (auto& p : files) {
    if (!is_image_path(p)) {
      sum.skipped.push_back({p.string(), "not an image file (extension " + p.extension().string() + ")"});
      continue;
    }
    if (std::string problem = jpeg_problem(p); !problem.empty()) {
      sum.skipped.push_back({p.string(), problem});
      continue;
    }
    cv::Mat img = cv::imread(p.string(), cv::IMREAD_COLOR);
    if (img.empty()) {
      sum.skipped.push_back({p.string(), "cannot decode the image (corrupt or unsupported)"});
      continue;
    }
    if (!batch.empty() && img.size() != batch[0].size()) flush();  // one batch = one shape: exact letterbox
    batch.push_back(img);
    batch_paths.push_back(p);
    if (static_cast<int>(batch.size()) >= std::max(1, opt.batch)) flush();
  }
  flush();
  nlohmann::json skipped = nlohmann::json::array();
  for (auto& [p, why] : sum.skipped) {
    std::cerr << "skipped " << p << ": " << why << "\n";
    skipped.push_back({{"path", p}, {"reason", why}});
  }
  nlohmann::json summary = {{"images", sum.images}, {"boxes", sum.boxes}, {"skipped", skipped},
                            {"predictions", records}};
  write_file_atomic(opt.out_dir / "predictions.json", json_text(summary, 2));  // names need not be UTF-8
  return sum;
}

}  // namespace vyolo::infer
