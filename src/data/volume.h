// A 3-D scalar volume (CT in Hounsfield units, or an integer label mask) with its voxel-to-world geometry, plus
// NIfTI / DICOM-series IO and reorientation to one canonical orientation.
//
// World coordinates are DICOM patient coordinates, LPS+ (x to the patient's Left, y Posterior, z Superior), in mm.
// NIfTI files (RAS+ world) are converted on read and write. The canonical voxel orientation is LPS as well: after
// `to_canonical`, index i grows toward Left, j toward Posterior, k toward Superior, so an axial slice is the plane of
// constant k shown radiologically (row = j anterior->posterior, column = i right->left).
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vyolo {

using Mat4 = std::array<std::array<double, 4>, 4>;

struct Volume {
  std::array<int, 3> dims{0, 0, 0};          // nx, ny, nz (x fastest in `voxels`)
  std::array<double, 3> spacing{1, 1, 1};    // mm along i, j, k
  Mat4 affine{};                             // (i, j, k, 1) -> LPS mm
  std::vector<float> voxels;                 // HU for CT (slope/intercept applied), label ids for masks

  size_t size() const { return static_cast<size_t>(dims[0]) * dims[1] * dims[2]; }
  size_t index(int i, int j, int k) const {
    return (static_cast<size_t>(k) * dims[1] + j) * dims[0] + i;
  }
  float at(int i, int j, int k) const { return voxels[index(i, j, k)]; }
  float& at(int i, int j, int k) { return voxels[index(i, j, k)]; }
};

// An identity-direction affine with the given spacing and origin (LPS).
Mat4 make_affine(const std::array<double, 3>& spacing, const std::array<double, 3>& origin = {0, 0, 0});

// Reads .nii or .nii.gz (3-D; a 4-D file with one volume is accepted). scl_slope/scl_inter are applied; the sform
// is used when its code is set, else the qform, else the pixdim diagonal. Throws RuntimeError naming the file on a
// truncated/corrupt file or unsupported type.
Volume read_nifti(const std::filesystem::path& path);

// Writes a NIfTI-1 file (gzip when the name ends in .gz) atomically. `dtype` is a NIfTI datatype code
// (2 uint8, 4 int16, 8 int32, 16 float32); values are rounded for integer types. Keeps the volume's affine.
void write_nifti(const Volume& v, const std::filesystem::path& path, int dtype = 16);

// Reads a DICOM series folder (every readable DICOM file in it, JPEG-2000 and other compressed transfer syntaxes
// included). Slices are sorted by ImagePositionPatient along the slice normal; RescaleSlope/Intercept are applied.
// Throws RuntimeError naming the folder when it holds several series, slices of different size or orientation,
// duplicate positions, or no DICOM image.
Volume read_dicom_series(const std::filesystem::path& dir);

// Writes `v` (values rounded to int16) as an uncompressed CT DICOM series, one file per k, into `dir` (for tests
// and tools). Geometry comes from the affine (which must be orthogonal).
void write_dicom_series(const Volume& v, const std::filesystem::path& dir, const std::string& series_uid = "");

// Reads a NIfTI file or a DICOM folder, whichever `path` is.
Volume read_volume(const std::filesystem::path& path);

// Permutes/flips axes so that i->L, j->P, k->S (the axis of each voxel direction chosen by its largest world
// component, as nibabel's io_orientation). The world position of every voxel is unchanged.
Volume to_canonical(const Volume& v);

// Largest absolute difference between two affines' entries (to check that a mask lies on its CT's grid).
double affine_distance(const Mat4& a, const Mat4& b);

}  // namespace vyolo
