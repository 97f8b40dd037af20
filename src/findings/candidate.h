// A fracture candidate: per-slice boxes of one view linked across slices, placed in the canonical volume.
//
// Coordinates. The canonical volume (the grid src/data brings every input to) is indexed (x, y, z) = NIfTI (i, j, k).
// Continuous voxel coordinates put voxel i on [i, i+1), so a box [lo, hi) covers voxels floor(lo) .. ceil(hi)-1.
// Millimetres are continuous voxel coordinates times the spacing, measured from the outer corner of voxel 0 (grid
// millimetres, not scanner world coordinates; world = affine * (c - 0.5) per axis).
// A view cuts slices along one axis; SliceGeometry says which voxel axes a slice image's columns (u) and rows (v) run
// along, whether they are flipped, and the letterbox that took the slice to the model's input size.
#pragma once
#include <array>
#include <string>
#include <vector>

namespace vyolo::findings {

enum class View { Axial, Coronal, Sagittal };
std::string view_name(View v);
View parse_view(const std::string& s);  // "axial" | "coronal" | "sagittal"; UsageError otherwise

// Inclusive integer voxel ranges per axis (x, y, z); empty when any hi < lo.
struct VoxelBox {
  std::array<int, 3> lo{0, 0, 0}, hi{-1, -1, -1};
  bool empty() const { return hi[0] < lo[0] || hi[1] < lo[1] || hi[2] < lo[2]; }
  long long voxels() const;
};

struct SliceGeometry {
  View view = View::Axial;
  std::array<int, 3> dims{0, 0, 0};           // canonical volume size (x, y, z)
  std::array<double, 3> spacing{1, 1, 1};     // mm per voxel (x, y, z)
  int slice_axis = 2, u_axis = 0, v_axis = 1;  // voxel axis of the slice index, image columns, image rows
  bool flip_u = false, flip_v = false;         // image column 0 is the last voxel of u_axis (resp. rows)
  double scale = 1, pad_u = 0, pad_v = 0;      // pixel = c' * scale + pad, c' = flip ? dim - c : c (letterbox)
};
// The axes src/data's prepare cuts slices with (canonical LPS volume): axial (u=x, v=y, slice=z), coronal (u=x, v=z,
// slice=y) and sagittal (u=y, v=z, slice=x), coronal and sagittal rows running from superior down (flip_v). No
// letterbox; see set_letterbox.
SliceGeometry make_slice_geometry(View view, std::array<int, 3> dims, std::array<double, 3> spacing);
// Sets scale/pad for a whole slice letterboxed to image_size x image_size as src/data does (longer side scaled to
// image_size, centred; pad = (image_size - round(len * scale)) / 2, integer division).
void set_letterbox(SliceGeometry& g, int image_size);

// A detection on one slice, in the slice image's pixel coordinates.
struct SliceBox {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0, score = 0;
};

struct SliceDetection {
  int slice = 0;
  SliceBox box;
};

struct Candidate {
  int id = 0;
  View view = View::Axial;
  std::string source;                    // model / view name(s) it came from
  int slice_first = 0, slice_last = 0;   // slice range in `view` (inclusive)
  int n_slices = 0;                      // slices that carry a box
  std::array<double, 3> lo{0, 0, 0}, hi{0, 0, 0};  // 3D box, continuous voxel coordinates (see top)
  double score = 0;                      // the ranking score (see LinkOptions / FuseOptions)
  double score_max = 0, score_mean = 0;
  int n_sources = 1;                     // models / views that contributed (after fusion)
  std::vector<SliceDetection> members;   // the per-slice boxes (slice pixel coordinates of `view`)
  std::vector<VoxelBox> footprint;       // voxels the member boxes cover, one slab per member
  int vertebra_label = 0;                // set by assign_vertebrae; 0 = none
  std::string vertebra;                  // e.g. "L1"; empty = none

  VoxelBox voxel_box(const std::array<int, 3>& dims) const;  // integer extent of [lo, hi), clamped to the grid
  std::array<double, 3> mm_lo(const std::array<double, 3>& spacing) const;
  std::array<double, 3> mm_hi(const std::array<double, 3>& spacing) const;
};

// Continuous voxel box of a slice box on slice `slice` (inverse letterbox, flips, axis mapping).
void slice_box_to_voxels(const SliceGeometry& g, int slice, const SliceBox& b, std::array<double, 3>& lo,
                         std::array<double, 3>& hi);
VoxelBox to_voxel_box(const std::array<double, 3>& lo, const std::array<double, 3>& hi,
                      const std::array<int, 3>& dims);
double iou_3d(const std::array<double, 3>& alo, const std::array<double, 3>& ahi, const std::array<double, 3>& blo,
              const std::array<double, 3>& bhi);

}  // namespace vyolo::findings
