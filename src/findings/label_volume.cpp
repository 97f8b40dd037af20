#include "findings/label_volume.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace vyolo::findings {

namespace {

// Inverse of an affine 4x4 (3x3 linear part + translation).
Mat4 invert_affine(const Mat4& a) {
  const double m00 = a[0][0], m01 = a[0][1], m02 = a[0][2], m10 = a[1][0], m11 = a[1][1], m12 = a[1][2],
               m20 = a[2][0], m21 = a[2][1], m22 = a[2][2];
  const double det = m00 * (m11 * m22 - m12 * m21) - m01 * (m10 * m22 - m12 * m20) + m02 * (m10 * m21 - m11 * m20);
  if (std::abs(det) < 1e-12) throw RuntimeError("label volume: the input affine is singular");
  Mat4 r{};
  r[0][0] = (m11 * m22 - m12 * m21) / det;
  r[0][1] = (m02 * m21 - m01 * m22) / det;
  r[0][2] = (m01 * m12 - m02 * m11) / det;
  r[1][0] = (m12 * m20 - m10 * m22) / det;
  r[1][1] = (m00 * m22 - m02 * m20) / det;
  r[1][2] = (m02 * m10 - m00 * m12) / det;
  r[2][0] = (m10 * m21 - m11 * m20) / det;
  r[2][1] = (m01 * m20 - m00 * m21) / det;
  r[2][2] = (m00 * m11 - m01 * m10) / det;
  for (int i = 0; i < 3; ++i) r[i][3] = -(r[i][0] * a[0][3] + r[i][1] * a[1][3] + r[i][2] * a[2][3]);
  r[3] = {0, 0, 0, 1};
  return r;
}

Mat4 multiply(const Mat4& a, const Mat4& b) {
  Mat4 r{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 4; ++k) r[i][j] += a[i][k] * b[k][j];
  return r;
}

}  // namespace

Volume candidate_label_volume(const std::vector<Candidate>& candidates, const Volume& canonical, const Volume& input) {
  // canonical index -> world -> input index; must be a signed permutation plus an integer shift.
  const Mat4 m = multiply(invert_affine(input.affine), canonical.affine);
  for (int r = 0; r < 3; ++r) {
    int ones = 0;
    for (int c = 0; c < 3; ++c) {
      double v = std::abs(m[r][c]);
      if (std::abs(v - 1) < 1e-3) ++ones;
      else if (v > 1e-3) ones = -9;
    }
    if (ones != 1)
      throw RuntimeError("label volume: the canonical grid is not an axis permutation/flip of the input grid");
  }
  Volume out;
  out.dims = input.dims;
  out.spacing = input.spacing;
  out.affine = input.affine;
  out.voxels.assign(out.size(), 0.0f);

  std::vector<const Candidate*> order;
  for (const auto& c : candidates) order.push_back(&c);
  std::stable_sort(order.begin(), order.end(), [](const Candidate* a, const Candidate* b) { return a->id > b->id; });
  for (const Candidate* c : order) {  // highest id first, so the best candidate is painted last and wins
    for (const auto& b : c->footprint) {
      if (b.empty()) continue;
      std::array<int, 3> lo{}, hi{};
      for (int r = 0; r < 3; ++r) {
        double p = m[r][3], q = m[r][3];
        for (int k = 0; k < 3; ++k) p += m[r][k] * b.lo[size_t(k)], q += m[r][k] * b.hi[size_t(k)];
        lo[size_t(r)] = std::max(0, int(std::lround(std::min(p, q))));
        hi[size_t(r)] = std::min(out.dims[size_t(r)] - 1, int(std::lround(std::max(p, q))));
      }
      for (int k = lo[2]; k <= hi[2]; ++k)
        for (int j = lo[1]; j <= hi[1]; ++j)
          for (int i = lo[0]; i <= hi[0]; ++i) out.at(i, j, k) = float(c->id);
    }
  }
  return out;
}

void write_candidate_labels(const std::filesystem::path& path, const std::vector<Candidate>& candidates,
                            const Volume& canonical, const Volume& input) {
  Volume v = candidate_label_volume(candidates, canonical, input);
  write_nifti(v, path, candidates.size() < 32000 ? 4 : 8);  // int16 unless ids overflow it
}

}  // namespace vyolo::findings
