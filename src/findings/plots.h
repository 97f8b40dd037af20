// Clinical PNG plots (ROC, PR, F1, confusion, FROC, slice overlay montages), drawn with the kit in eval/plot_kit.h.
// write_png (the kit's) writes atomically.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "eval/plot_kit.h"
#include "findings/calibration.h"
#include "findings/candidate.h"
#include "findings/clinical_metrics.h"

namespace vyolo::findings {

// Step::Pre rises before moving right (a PR curve: area = AP); Step::Post moves right first (FROC).
using plot::Step;
struct Series {
  std::string name;
  std::vector<double> x, y;  // NaN points are skipped
  Step step = Step::None;
};

// A line chart on [0,1]x[0,1]. x_ticks: (position in [0,1], label); empty = 0, 0.2, ... 1.
cv::Mat line_plot(const std::string& title, const std::string& x_label, const std::string& y_label,
                  const std::vector<Series>& series, bool diagonal = false,
                  const std::vector<std::pair<double, std::string>>& x_ticks = {});
cv::Mat roc_plot(const RocCurve& roc, double auc, const std::string& title);
cv::Mat pr_plot(const PrCurve& pr, double ap, const std::string& title);
cv::Mat f1_threshold_plot(const std::vector<double>& scores, const std::vector<int>& labels, const std::string& title);
cv::Mat confusion_plot(const Confusion& cm, double threshold, const std::string& title);
cv::Mat froc_plot(const FrocResult& froc, const std::string& title);
// Observed fraction fractured against mean predicted probability per bin, with the diagonal of perfect calibration.
cv::Mat reliability_plot(const std::vector<ReliabilityBin>& bins, const std::string& title);

// One tile of a montage: an 8-bit grey or BGR slice image, the boxes to draw on it (pixel coordinates of the image)
// with their labels, and a caption.
struct MontageTile {
  cv::Mat image;
  std::vector<SliceBox> boxes;
  std::vector<std::string> box_labels;  // optional, one per box
  std::string caption;
};
// Tiles scaled to tile_size (longest side), `cols` per row, boxes in red with their label.
cv::Mat overlay_montage(const std::vector<MontageTile>& tiles, int cols = 4, int tile_size = 256);

// For each candidate (in order, at most max_tiles), the slice of its highest-scoring member box: the slices worth
// showing in a montage. Returns (slice index, candidate index) pairs.
std::vector<std::pair<int, int>> montage_slices(const std::vector<Candidate>& candidates, int max_tiles = 16);

using plot::write_png;

}  // namespace vyolo::findings
