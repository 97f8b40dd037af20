// The DICOM series reader (src/data/dicom_series.cpp, read_dicom_series, through GDCM). The input is split at each
// "\nVYOLO-SLICE\n" into up to 4 files of one series folder. An accepted volume must have as many voxels as its
// dimensions say and a finite geometry.
#include <cmath>

#include "data/volume.h"
#include "fuzz_util.h"

using namespace vyolo;
using vyolo::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path dir = fuzz::scratch() / "series";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);
  const auto parts = fuzz::split(fuzz::as_text(data, size), "\nVYOLO-SLICE\n");
  if (parts.size() > 4) return 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string name = "slice_" + std::to_string(i) + ".dcm";
    fuzz::write_bytes(dir / name, reinterpret_cast<const uint8_t*>(parts[i].data()), parts[i].size());
  }
  fuzz::expect_errors_naming(dir.string(), [&] {
    const Volume v = read_dicom_series(dir);
    for (int d : v.dims) check(d >= 1, "dimension < 1");
    check(v.voxels.size() == v.size(), "voxel count differs from the dimensions");
    for (const auto& row : v.affine)
      for (double a : row) check(std::isfinite(a), "affine not finite");
  });
  return 0;
}
