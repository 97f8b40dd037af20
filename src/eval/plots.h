// Validation plots as PNG files (OpenCV drawing, no LibTorch): PR curve, F1-confidence curve, confusion matrix.
// Files are written atomically; parent folders are created.
#pragma once
#include <string>
#include <vector>

#include "eval/detection_metrics.h"

namespace vyolo::eval {

// Precision against recall at IoU 0.5, one thin line per class (legend with AP50 when fewer than 21 classes) and the
// class mean as a thick blue line labelled with mAP50.
void plot_pr_curve(const DetectionMetrics& m, const std::vector<std::string>& names, const std::string& path);

// F1 against confidence per class and the box-filtered class mean, labelled with its maximum and where it is.
void plot_f1_curve(const DetectionMetrics& m, const std::vector<std::string>& names, const std::string& path);

// Predicted (rows) x true (columns) with a background row/column; normalize divides every column by its sum.
void plot_confusion_matrix(const ConfusionMatrix& cm, const std::vector<std::string>& names, const std::string& path,
                           bool normalize = true);

}  // namespace vyolo::eval
