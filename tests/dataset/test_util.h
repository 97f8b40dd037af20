// Helpers for the dataset tests: a temp folder and small images/labels written to it.
#pragma once
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data/hu_window.h"
#include "temp_dir.h"

namespace vyolo::dataset::test {

namespace fs = std::filesystem;

using vyolo::test::TempDir;

inline void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A 16-bit HU slice (value = HU + 32768): background -1000 HU, a bone-bright rectangle of 1500 HU.
inline cv::Mat hu_slice(int w, int h, cv::Rect bright) {
  cv::Mat m(h, w, CV_16UC1, cv::Scalar(kHuOffset - 1000));
  m(bright).setTo(kHuOffset + 1500);
  return m;
}

inline void write_image(const fs::path& p, const cv::Mat& m) {
  fs::create_directories(p.parent_path());
  if (!cv::imwrite(p.string(), m)) throw std::runtime_error("cannot write " + p.string());
}

// "cls cx cy w h" for a pixel rectangle of an image w x h.
inline std::string yolo_line(int cls, cv::Rect r, int w, int h) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%d %.6f %.6f %.6f %.6f\n", cls, (r.x + r.width / 2.0) / w,
                (r.y + r.height / 2.0) / h, double(r.width) / w, double(r.height) / h);
  return buf;
}

}  // namespace vyolo::dataset::test
