// Corrupt NIfTI and DICOM inputs found by fuzzing (fuzz/nifti.cpp, fuzz/dicom.cpp): each is a RuntimeError naming
// the file, without a huge allocation, undefined behaviour or GDCM aborting the process on an assertion.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include <gdcmImageChangeTransferSyntax.h>
#include <gdcmImageReader.h>
#include <gdcmImageWriter.h>

#include "common/error.h"
#include "common/fs_util.h"
#include "data/dicom_check.h"
#include "data/volume.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace vyolo;
using vyolo::test::TempDir;

namespace {

Volume small_volume() {
  Volume v;
  v.dims = {16, 12, 3};
  v.spacing = {0.8, 0.7, 2.5};
  v.affine = make_affine(v.spacing, {-12.5, 30.0, 100.0});
  v.voxels.resize(v.size());
  for (size_t i = 0; i < v.voxels.size(); ++i) v.voxels[i] = static_cast<float>(-1000 + 37 * static_cast<int>(i));
  return v;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const RuntimeError& e) {
    return e.what();
  }
  return "";
}

void put(std::string& b, size_t at, const void* v, size_t n) { std::memcpy(&b[at], v, n); }

}  // namespace

TEST(CorruptVolume, NiftiHeaderSizesAreCheckedBeforeAllocating) {
  TempDir d("corrupt_nifti");
  write_nifti(small_volume(), d.path / "ok.nii", 4);
  const std::string good = read_file(d.path / "ok.nii");
  ASSERT_EQ(read_nifti(d.path / "ok.nii").dims, (std::array<int, 3>{16, 12, 3}));
  auto variant = [&](const std::string& name, auto&& edit) {
    std::string b = good;
    edit(b);
    write_file_atomic(d.path / name, b);
    return error_of([&] { read_nifti(d.path / name); });
  };
  // dims 32767^3 of int16: the header asks for 70 TB
  std::string why = variant("huge.nii", [](std::string& b) {
    const int16_t dims[3] = {32767, 32767, 32767};
    put(b, 42, dims, sizeof dims);
  });
  EXPECT_NE(why.find("huge.nii"), std::string::npos) << why;
  EXPECT_NE(why.find("truncated"), std::string::npos) << why;
  // vox_offset 1e30 / NaN (was UB in the float -> size_t conversion)
  for (float off : {1e30f, NAN}) {
    why = variant("offset.nii", [&](std::string& b) { put(b, 108, &off, 4); });
    EXPECT_NE(why.find("offset.nii"), std::string::npos) << why;
  }
  // a byte-swapped header (niftilib's path) with large dims and little data: niftilib used to calloc it all first
  why = variant("swapped.nii", [](std::string& b) {
    for (size_t at : {size_t(0)}) std::reverse(b.begin() + at, b.begin() + at + 4);  // sizeof_hdr, swapped
    const int16_t dims[8] = {0x0300, static_cast<int16_t>(0xff7f), static_cast<int16_t>(0xff7f), 0x1000, 0x0100, 0x0100, 0x0100, 0x0100};
    put(b, 40, dims, sizeof dims);
    b.resize(400);
  });
  EXPECT_NE(why.find("swapped.nii"), std::string::npos) << why;
  // a dimension of 0 or less
  why = variant("zero.nii", [](std::string& b) {
    const int16_t zero = 0;
    put(b, 44, &zero, 2);
  });
  EXPECT_NE(why.find("zero.nii"), std::string::npos) << why;
}

TEST(CorruptVolume, DicomFilesGdcmWouldAbortOnAreErrorsNamingTheFile) {
  TempDir d("corrupt_dicom");
  write_dicom_series(small_volume(), d.path / "ok");
  ASSERT_EQ(read_dicom_series(d.path / "ok").dims, (std::array<int, 3>{16, 12, 3}));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(d.path / "ok")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const std::string slice = read_file(files[0]);
  std::string why;
  EXPECT_EQ(check_dicom_structure(slice, &why), DicomCheck::Ok) << why;

  auto series_with = [&](const std::string& name, const std::string& bytes) {
    const fs::path dir = d.path / name;
    fs::create_directories(dir);
    for (size_t i = 1; i < files.size(); ++i) fs::copy_file(files[i], dir / files[i].filename());
    write_file_atomic(dir / "broken.dcm", bytes);
    return error_of([&] { read_dicom_series(dir); });
  };
  // Truncated inside the File Meta Information: GDCM 3.0.21 asserts (gdcmFileMetaInformation.cxx:436).
  why = series_with("cut", slice.substr(0, 200));
  EXPECT_NE(why.find("broken.dcm"), std::string::npos) << why;
  EXPECT_NE(why.find("corrupt DICOM file"), std::string::npos) << why;
  // Truncated in the pixel data.
  why = series_with("short", slice.substr(0, slice.size() - 10));
  EXPECT_NE(why.find("broken.dcm"), std::string::npos) << why;
  // Samples per Pixel 2 (GDCM asserts in PixelFormat::SetSamplesPerPixel); Bits Allocated 12 (RAWCodec asserts).
  auto with_us = [&](uint16_t element, uint16_t value) {
    std::string b = slice;
    const char tag[4] = {0x28, 0x00, static_cast<char>(element & 0xff), static_cast<char>(element >> 8)};
    const size_t at = b.find(std::string(tag, 4));
    EXPECT_NE(at, std::string::npos);
    put(b, at + 8, &value, 2);  // implicit VR: tag, 4-byte length, value
    return b;
  };
  why = series_with("spp", with_us(0x0002, 2));
  EXPECT_NE(why.find("Samples per Pixel"), std::string::npos) << why;
  why = series_with("bits", with_us(0x0100, 12));
  EXPECT_NE(why.find("Bits Allocated"), std::string::npos) << why;
  // RLE Lossless, even a valid stream: GDCM asserts on RLE streams of the wrong length (a fuzz finding), so RLE is
  // refused with a reason that says what to do.
  {
    gdcm::ImageReader r;
    r.SetFileName(files[0].string().c_str());
    ASSERT_TRUE(r.Read());
    gdcm::ImageChangeTransferSyntax change;
    change.SetTransferSyntax(gdcm::TransferSyntax::RLELossless);
    change.SetInput(r.GetImage());
    ASSERT_TRUE(change.Change());
    gdcm::ImageWriter w;
    const fs::path rle = d.path / "slice_rle.dcm";
    w.SetFileName(rle.string().c_str());
    w.SetFile(r.GetFile());
    w.SetImage(change.GetOutput());
    ASSERT_TRUE(w.Write());
    EXPECT_EQ(check_dicom_structure(read_file(rle), &why), DicomCheck::Malformed);
    EXPECT_NE(why.find("RLE"), std::string::npos) << why;
    why = series_with("rle", read_file(rle));
    EXPECT_NE(why.find("broken.dcm"), std::string::npos) << why;
    EXPECT_NE(why.find("gdcmconv"), std::string::npos) << why;
  }
  // A file that is not DICOM at all is still skipped (a README beside the slices).
  const fs::path dir = d.path / "readme";
  fs::create_directories(dir);
  for (const auto& f : files) fs::copy_file(f, dir / f.filename());
  write_file_atomic(dir / "README.txt", "slices exported from the scanner\n");
  EXPECT_EQ(read_dicom_series(dir).dims[2], 3);
}
