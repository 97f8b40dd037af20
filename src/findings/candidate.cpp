#include "findings/candidate.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace vyolo::findings {

std::string view_name(View v) {
  switch (v) {
    case View::Axial: return "axial";
    case View::Coronal: return "coronal";
    case View::Sagittal: return "sagittal";
  }
  return "axial";
}

View parse_view(const std::string& s) {
  if (s == "axial") return View::Axial;
  if (s == "coronal") return View::Coronal;
  if (s == "sagittal") return View::Sagittal;
  throw UsageError("unknown view '" + s + "' (expected axial, coronal or sagittal)");
}

long long VoxelBox::voxels() const {
  if (empty()) return 0;
  return 1LL * (hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1);
}

SliceGeometry make_slice_geometry(View view, std::array<int, 3> dims, std::array<double, 3> spacing) {
  SliceGeometry g;
  g.view = view;
  g.dims = dims;
  g.spacing = spacing;
  switch (view) {
    case View::Axial: g.slice_axis = 2, g.u_axis = 0, g.v_axis = 1; break;
    case View::Coronal: g.slice_axis = 1, g.u_axis = 0, g.v_axis = 2, g.flip_v = true; break;
    case View::Sagittal: g.slice_axis = 0, g.u_axis = 1, g.v_axis = 2, g.flip_v = true; break;
  }
  return g;
}

void set_letterbox(SliceGeometry& g, int image_size) {
  if (image_size <= 0) throw UsageError("letterbox: image size must be positive");
  const int cols = g.dims[size_t(g.u_axis)], rows = g.dims[size_t(g.v_axis)];
  if (cols <= 0 || rows <= 0) throw UsageError("letterbox: slice geometry has no dims");
  g.scale = double(image_size) / std::max(cols, rows);
  const int w = std::max(1, int(std::lround(cols * g.scale))), h = std::max(1, int(std::lround(rows * g.scale)));
  g.pad_u = (image_size - w) / 2;
  g.pad_v = (image_size - h) / 2;
}

void slice_box_to_voxels(const SliceGeometry& g, int slice, const SliceBox& b, std::array<double, 3>& lo,
                         std::array<double, 3>& hi) {
  if (g.scale <= 0) throw UsageError("slice geometry: scale must be positive");
  auto inv = [&](double px, double pad, bool flip, int axis) {
    double c = (px - pad) / g.scale;
    return flip ? g.dims[axis] - c : c;
  };
  double u1 = inv(b.x1, g.pad_u, g.flip_u, g.u_axis), u2 = inv(b.x2, g.pad_u, g.flip_u, g.u_axis);
  double v1 = inv(b.y1, g.pad_v, g.flip_v, g.v_axis), v2 = inv(b.y2, g.pad_v, g.flip_v, g.v_axis);
  lo[g.u_axis] = std::min(u1, u2);
  hi[g.u_axis] = std::max(u1, u2);
  lo[g.v_axis] = std::min(v1, v2);
  hi[g.v_axis] = std::max(v1, v2);
  lo[g.slice_axis] = slice;
  hi[g.slice_axis] = slice + 1;
}

VoxelBox to_voxel_box(const std::array<double, 3>& lo, const std::array<double, 3>& hi,
                      const std::array<int, 3>& dims) {
  VoxelBox v;
  for (int a = 0; a < 3; ++a) {
    // A box edge within 1e-6 of a voxel border does not spill into the next voxel (float noise from the letterbox).
    v.lo[a] = std::max(0, int(std::floor(lo[a] + 1e-6)));
    v.hi[a] = std::min(dims[a] - 1, int(std::ceil(hi[a] - 1e-6)) - 1);
    if (hi[a] - lo[a] < 1e-6) v.hi[a] = std::min(dims[a] - 1, v.lo[a]);  // a degenerate side still marks its voxel
  }
  return v;
}

double iou_3d(const std::array<double, 3>& alo, const std::array<double, 3>& ahi, const std::array<double, 3>& blo,
              const std::array<double, 3>& bhi) {
  double inter = 1, va = 1, vb = 1;
  for (int a = 0; a < 3; ++a) {
    inter *= std::max(0.0, std::min(ahi[a], bhi[a]) - std::max(alo[a], blo[a]));
    va *= std::max(0.0, ahi[a] - alo[a]);
    vb *= std::max(0.0, bhi[a] - blo[a]);
  }
  double uni = va + vb - inter;
  return uni > 0 ? inter / uni : 0.0;
}

VoxelBox Candidate::voxel_box(const std::array<int, 3>& dims) const { return to_voxel_box(lo, hi, dims); }

std::array<double, 3> Candidate::mm_lo(const std::array<double, 3>& spacing) const {
  return {lo[0] * spacing[0], lo[1] * spacing[1], lo[2] * spacing[2]};
}
std::array<double, 3> Candidate::mm_hi(const std::array<double, 3>& spacing) const {
  return {hi[0] * spacing[0], hi[1] * spacing[1], hi[2] * spacing[2]};
}

}  // namespace vyolo::findings
