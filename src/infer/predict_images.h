// `vyolo predict` on images: files or folders → overlays, Ultralytics label files, predictions.json.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "infer/predictor.h"

namespace vyolo::infer {

struct ImagePredictOptions {
  std::filesystem::path out_dir;       // already chosen (runs/predict/predictN)
  std::vector<std::string> names;      // class names
  bool save = true;                    // overlay images
  bool save_txt = false;               // labels/<stem>.txt: cls cx cy w h conf, normalised to the original image
  int batch = 16;
};

struct ImagePredictSummary {
  int images = 0;
  int boxes = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // path, reason
};

bool is_image_path(const std::filesystem::path& p);

// Image files of `source` (a file, or the files of a folder sorted by name).
std::vector<std::filesystem::path> list_image_sources(const std::filesystem::path& source);

ImagePredictSummary predict_images(Predictor& predictor, const std::vector<std::filesystem::path>& files,
                                   const ImagePredictOptions& opt);

// Draws boxes with class name and score on a copy of `img`.
cv::Mat draw_detections(const cv::Mat& img, const std::vector<Detection>& dets, const std::vector<std::string>& names);

}  // namespace vyolo::infer
