#include "data/volume.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <tuple>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/fs_util.h"

namespace fs = std::filesystem;

using namespace vyolo;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("vyolo_data_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

Volume ramp(int nx, int ny, int nz, std::array<double, 3> sp) {
  Volume v;
  v.dims = {nx, ny, nz};
  v.spacing = sp;
  v.affine = make_affine(sp, {-10.5, 20.25, 100.0});
  v.voxels.resize(v.size());
  for (int k = 0; k < nz; ++k)
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) v.at(i, j, k) = static_cast<float>(-1000 + i * 7 + j * 13 + k * 101);
  return v;
}

}  // namespace

TEST(Volume, NiftiRoundTripKeepsHuSpacingAndAffine) {
  auto dir = temp_dir("nifti");
  Volume v = ramp(9, 7, 5, {0.8, 0.9, 2.5});
  for (const char* name : {"a.nii.gz", "b.nii"}) {
    write_nifti(v, dir / name, 4);
    Volume r = read_nifti(dir / name);
    ASSERT_EQ(r.dims, v.dims);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(r.spacing[c], v.spacing[c], 1e-5);
    EXPECT_LT(affine_distance(r.affine, v.affine), 1e-4);
    ASSERT_EQ(r.voxels, v.voxels);
  }
  // Nothing but the two outputs is left behind (atomic writes through temp files).
  int n = 0;
  for (auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  EXPECT_EQ(n, 2);
  fs::remove_all(dir);
}

TEST(Volume, NiftiTruncatedGzIsAnError) {
  auto dir = temp_dir("trunc");
  write_nifti(ramp(40, 40, 30, {1, 1, 1}), dir / "ct.nii.gz", 4);
  std::string bytes = read_file(dir / "ct.nii.gz");
  write_file_atomic(dir / "cut.nii.gz", bytes.substr(0, bytes.size() / 2));
  try {
    read_nifti(dir / "cut.nii.gz");
    FAIL() << "expected an error";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.nii.gz"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_nifti(dir / "missing.nii.gz"), RuntimeError);
  fs::remove_all(dir);
}

TEST(Volume, DicomRoundTripKeepsHuAndSpacing) {
  auto dir = temp_dir("dicom");
  Volume v = ramp(12, 10, 6, {0.7, 0.75, 3.0});
  write_dicom_series(v, dir / "series");
  Volume r = read_dicom_series(dir / "series");
  ASSERT_EQ(r.dims, v.dims);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(r.spacing[c], v.spacing[c], 1e-4);
  EXPECT_LT(affine_distance(r.affine, v.affine), 1e-3);
  ASSERT_EQ(r.voxels, v.voxels);
  fs::remove_all(dir);
}

TEST(Volume, DicomSortsByPositionNotFileName) {
  auto dir = temp_dir("dicomsort");
  Volume v = ramp(8, 8, 5, {1, 1, 2});
  write_dicom_series(v, dir / "s");
  // Reverse the file names: slice_0000 becomes the top slice.
  for (int k = 0; k < 5; ++k) {
    char a[32], b[32];
    std::snprintf(a, sizeof a, "slice_%04d.dcm", k);
    std::snprintf(b, sizeof b, "z_%04d.dcm", 4 - k);
    fs::rename(dir / "s" / a, dir / "s" / b);
  }
  Volume r = read_dicom_series(dir / "s");
  ASSERT_EQ(r.voxels, v.voxels);
  fs::remove_all(dir);
}

TEST(Volume, DicomMixedSeriesIsAnError) {
  auto dir = temp_dir("mixed");
  write_dicom_series(ramp(8, 8, 3, {1, 1, 2}), dir / "a");
  Volume w = ramp(8, 8, 2, {1, 1, 2});
  w.affine[2][3] = 300;
  write_dicom_series(w, dir / "b");
  fs::create_directories(dir / "mixed");
  for (auto& sub : {"a", "b"})
    for (auto& e : fs::directory_iterator(dir / sub))
      fs::copy_file(e.path(), dir / "mixed" / (std::string(sub) + e.path().filename().string()));
  try {
    read_dicom_series(dir / "mixed");
    FAIL() << "expected an error";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("mixed DICOM series"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Volume, CanonicalReorientationKeepsWorldPositions) {
  // A RAS-ordered volume (i -> Right, j -> Anterior, k -> Superior) as many NIfTI files are stored.
  Volume v = ramp(5, 4, 3, {1.0, 2.0, 3.0});
  v.affine = Mat4{};
  v.affine[0][0] = -1.0;  // i -> Right (negative L)
  v.affine[1][1] = -2.0;  // j -> Anterior
  v.affine[2][2] = 3.0;
  v.affine[0][3] = 50;
  v.affine[1][3] = 60;
  v.affine[2][3] = -5;
  v.affine[3][3] = 1;
  Volume c = to_canonical(v);
  ASSERT_EQ(c.dims, v.dims);
  EXPECT_GT(c.affine[0][0], 0);
  EXPECT_GT(c.affine[1][1], 0);
  EXPECT_GT(c.affine[2][2], 0);
  auto world = [](const Mat4& a, int i, int j, int k) {
    std::array<double, 3> w;
    for (int r = 0; r < 3; ++r) w[r] = a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3];
    return w;
  };
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 4; ++j)
      for (int i = 0; i < 5; ++i) {
        // Voxel (i,j,k) of v lies at the canonical voxel with the same world position.
        auto w = world(v.affine, i, j, k);
        int ci = static_cast<int>(std::lround((w[0] - c.affine[0][3]) / c.affine[0][0]));
        int cj = static_cast<int>(std::lround((w[1] - c.affine[1][3]) / c.affine[1][1]));
        int ck = static_cast<int>(std::lround((w[2] - c.affine[2][3]) / c.affine[2][2]));
        EXPECT_EQ(c.at(ci, cj, ck), v.at(i, j, k));
      }
  // A permuted volume (i -> S, j -> L, k -> P) comes back with axes swapped.
  Volume p = ramp(2, 3, 4, {1, 1, 1});
  p.affine = Mat4{};
  p.affine[2][0] = 1;
  p.affine[0][1] = 1;
  p.affine[1][2] = 1;
  p.affine[3][3] = 1;
  Volume pc = to_canonical(p);
  EXPECT_EQ(pc.dims, (std::array<int, 3>{3, 4, 2}));
  EXPECT_EQ(pc.at(2, 1, 0), p.at(0, 2, 1));
}

TEST(Volume, NiftiNanVoxelsAreAnError) {
  // niftilib alone would silently turn NaN into 0.
  auto dir = temp_dir("nan");
  Volume v = ramp(6, 5, 4, {1, 1, 1});
  v.at(3, 2, 1) = std::nanf("");
  for (const char* name : {"nan.nii.gz", "nan.nii"}) {
    write_nifti(v, dir / name, 16);
    try {
      read_nifti(dir / name);
      FAIL() << "expected an error for " << name;
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
    }
  }
  fs::remove_all(dir);
}

TEST(Volume, RealExamplesReadAsTheirReadmeSays) {
  const fs::path shared = shared_dir();
  const fs::path src = shared / "data/ct_spine_examples";
  if (shared.empty() || !fs::is_directory(src)) GTEST_SKIP() << "../shared/data/ct_spine_examples not available";
  Volume n = read_volume(src / "totalseg_example_ct/ct.nii.gz");
  EXPECT_EQ(n.dims, (std::array<int, 3>{122, 101, 112}));
  for (double s : n.spacing) EXPECT_NEAR(s, 3.0, 1e-4);
  float mn = 1e9f, mx = -1e9f;
  for (float v : n.voxels) mn = std::min(mn, v), mx = std::max(mx, v);
  EXPECT_EQ(mn, -1207.0f);
  EXPECT_EQ(mx, 3382.0f);
  // JPEG-2000 DICOM series: 20 slices of 512 x 512, rescale intercept -1024 applied (air at -1024 HU).
  Volume d = read_volume(src / "totalseg_example_ct_dicom/dicom");
  EXPECT_EQ(d.dims, (std::array<int, 3>{512, 512, 20}));
  EXPECT_NEAR(d.spacing[0], 0.977, 1e-3);
  EXPECT_NEAR(d.spacing[2], 2.0, 1e-3);
  mn = 1e9f;
  for (float v : d.voxels) mn = std::min(mn, v);
  EXPECT_EQ(mn, -1024.0f);
  // Its mask is stored with a flipped j axis; on the canonical grid both coincide.
  Volume m = read_volume(src / "totalseg_example_ct_dicom/multilabel_mask.nii.gz");
  EXPECT_GT(affine_distance(m.affine, d.affine), 1.0);
  EXPECT_LT(affine_distance(to_canonical(m).affine, to_canonical(d).affine), 1e-2);
}

// Issue 17: a slice cut short (inside its header: GDCM would abort on an assertion; inside its pixels: GDCM would make
// the rest up), an empty .dcm file or a slice without ImagePositionPatient fails the series, naming that file.
TEST(Volume, DicomBrokenSlicesAreErrorsNamingTheFile) {
  auto dir = temp_dir("dicom_broken");
  write_dicom_series(ramp(12, 10, 4, {1, 1, 2}), dir / "good");
  const fs::path last = dir / "good" / "slice_0003.dcm";
  const std::string bytes = read_file(last);
  auto broken = [&](const std::string& name, const std::string& content) {
    fs::copy(dir / "good", dir / name);
    std::ofstream(dir / name / "slice_0003.dcm", std::ios::binary | std::ios::trunc) << content;
    return dir / name;
  };
  std::string no_ipp = bytes;  // (0020,0032) -> (0020,0033), an unknown tag
  const std::string ipp("\x20\x00\x32\x00", 4);
  ASSERT_NE(no_ipp.find(ipp), std::string::npos);
  no_ipp[no_ipp.find(ipp) + 2] = 0x33;
  for (const auto& [name, content, why] :
       {std::tuple<std::string, std::string, std::string>{"header", bytes.substr(0, 300), "corrupt DICOM"},
        {"pixels", bytes.substr(0, bytes.size() - 50), "corrupt DICOM"},
        {"empty", "", "empty file"},
        {"no_position", no_ipp, "no ImagePositionPatient"}}) {
    const fs::path d = broken(name, content);
    try {
      read_dicom_series(d);
      ADD_FAILURE() << name << ": read";
    } catch (const RuntimeError& e) {
      EXPECT_EQ(std::string(e.what()).rfind((d / "slice_0003.dcm").string() + ": ", 0), 0u) << name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << name << ": " << e.what();
    }
  }
  // A README beside the slices is no slice.
  std::ofstream(dir / "good" / "README.txt") << "CT, 4 slices\n";
  EXPECT_EQ(read_dicom_series(dir / "good").dims[2], 4);
  fs::remove_all(dir);
}
