// The NIfTI reader (src/data/volume.cpp, read_nifti, through niftilib and zlib), then to_canonical as `prepare` and
// volume inference call it. The input is written to a file named .nii.gz when it starts with the gzip magic, else
// .nii. An accepted volume must have as many voxels as its dimensions say and a finite, non-degenerate geometry.
#include <cmath>

#include "data/volume.h"
#include "fuzz_util.h"

using namespace vyolo;
using vyolo::fuzz::check;

namespace {

void check_volume(const Volume& v) {
  for (int d : v.dims) check(d >= 1, "dimension < 1");
  check(v.voxels.size() == v.size(), "voxel count differs from the dimensions");
  for (double s : v.spacing) check(std::isfinite(s) && s > 0, "spacing not finite and positive");
  for (const auto& row : v.affine)
    for (double a : row) check(std::isfinite(a), "affine not finite");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const std::filesystem::path p = fuzz::scratch() / (gz ? "ct.nii.gz" : "ct.nii");
  fuzz::write_bytes(p, data, size);
  fuzz::expect_errors_naming(p.string(), [&] {
    const Volume v = read_nifti(p);
    check_volume(v);
    check_volume(to_canonical(v));
  });
  std::error_code ec;
  std::filesystem::remove(p, ec);
  return 0;
}
