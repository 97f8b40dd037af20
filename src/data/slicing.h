// How `prepare` cuts a canonical (LPS) volume into 2-D slice images, for every module that must make the same pixels
// (inference on volumes, evaluation). Rows/columns: axial (row = j anterior->posterior, col = i right->left),
// coronal (row = k superior->inferior, col = i), sagittal (row = k superior->inferior, col = j anterior->posterior).
#pragma once
#include <array>
#include <string>

#include <opencv2/core.hpp>

#include "data/volume.h"

namespace vyolo {

// Canonical voxel axis a view slices along: axial 2 (k), coronal 1 (j), sagittal 0 (i). Throws UsageError otherwise.
int view_axis(const std::string& view);

// Inclusive canonical voxel range a slice image covers.
struct SliceRegion {
  std::array<int, 3> lo{0, 0, 0}, hi{0, 0, 0};
  static SliceRegion whole(const Volume& v);
};

// Slice `s` along `axis` inside `r` as CV_32FC1 HU.
cv::Mat extract_slice(const Volume& v, int axis, int s, const SliceRegion& r);

// Mean of the n slices centred on s that lie inside the volume (slab channels; summed in double).
cv::Mat slab_mean(const Volume& v, int axis, int s, int n, const SliceRegion& r);

// (row spacing, column spacing) in mm of slices along `axis`.
std::array<double, 2> slice_spacing(const Volume& v, int axis);

// Where letterboxed pixels come from: slice pixel = (px - pad) / scale, per axis.
struct Letterbox {
  double scale_x = 1, scale_y = 1, pad_x = 0, pad_y = 0;
};

// Letterbox to size x size: the physically longer side (row/column spacing sy, sx) is scaled to `size`, the other
// keeps the physical proportion; centred, padded with `pad`. size <= 0: unchanged. `interp`: cv::INTER_LINEAR for
// HU, cv::INTER_NEAREST for masks. `lb` (optional) receives the mapping.
cv::Mat letterbox(const cv::Mat& m, int size, int interp, double pad, double sy = 1, double sx = 1,
                  Letterbox* lb = nullptr);

// HU (CV_32F, any channel count) -> HU + 32768 as CV_16U, rounded, saturated.
cv::Mat hu_to_u16(const cv::Mat& hu);

}  // namespace vyolo
