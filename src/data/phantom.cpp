#include "data/phantom.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "common/error.h"
#include "common/fs_util.h"
#include "common/rng.h"

namespace fs = std::filesystem;

namespace vyolo {

namespace {

// Portable random numbers (std distributions differ between standard libraries).
struct Rng {
  std::mt19937_64 g;
  explicit Rng(uint64_t s) : g(s) {}
  double uniform() { return (g() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  double normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

struct VertebraGeom {
  int label;
  double z0, z1;     // body from z0 (inferior endplate) to z1 (superior endplate), mm
  double cx, cy;     // body centre
  double rx, ry;     // body radii
  int fracture = 0;  // instance, 0 = none
  bool wedge = false;
  double depth = 0;                 // wedge: anterior height loss (mm)
  double nx = 0, ny = 0, nz = 1, d = 0;  // line: plane n.p = d
};

}  // namespace

std::string phantom_case_id(int index) {
  char b[32];
  std::snprintf(b, sizeof b, "sub-phantom%03d", index);
  return b;
}

PhantomCase make_phantom_case(int index, uint64_t seed, const PhantomOptions& opt) {
  if (index < 1) throw UsageError("phantom case index must be >= 1");
  if (opt.vertebrae < 1 || opt.vertebrae > 12) throw UsageError("phantom vertebrae must be 1..12");
  const int pair = (index - 1) / 2;
  Rng pair_rng(splitmix(seed * 0x100000001b3ULL + static_cast<uint64_t>(pair) + 0x51ed));
  const bool fractured = (pair_rng.uniform() < 0.5) == ((index - 1) % 2 == 0);
  Rng rng(splitmix(seed ^ splitmix(static_cast<uint64_t>(index))));

  const int nx = opt.nx, ny = opt.ny;
  const double body_h = 12, disc_h = 4, margin = 6;
  const int nz = static_cast<int>(2 * margin + opt.vertebrae * (body_h + disc_h) - disc_h + 2);
  // Lowest vertebra first (k grows toward superior): T10..L4 for 7 -> labels 23 (L4) up to 17 (T10).
  const int top_label = 23 - opt.vertebrae + 1;
  std::vector<VertebraGeom> verts;
  double z = margin;
  for (int v = 0; v < opt.vertebrae; ++v) {
    VertebraGeom g;
    g.label = 23 - v;
    const double h = body_h + rng.uniform(-1, 1);
    g.z0 = z;
    g.z1 = z + h;
    z = g.z1 + disc_h;
    g.cx = nx / 2.0 + rng.uniform(-2, 2);
    g.cy = ny * 0.45 + rng.uniform(-2, 2);
    g.rx = 17 + rng.uniform(-1.5, 1.5) + v * 0.3;
    g.ry = 13 + rng.uniform(-1, 1) + v * 0.2;
    verts.push_back(g);
  }
  (void)top_label;
  PhantomCase pc;
  pc.id = phantom_case_id(index);
  if (fractured) {
    std::vector<int> order(verts.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.g() % i]);
    const int n = std::max(1, static_cast<int>(std::lround(verts.size() / 3.0 + rng.uniform(-0.5, 0.5))));
    std::sort(order.begin(), order.begin() + n);
    int inst = 0;
    for (int t = 0; t < n; ++t) {
      VertebraGeom& g = verts[order[t]];
      g.fracture = ++inst;
      g.wedge = rng.uniform() < 0.5;
      if (g.wedge) {
        g.depth = (0.3 + rng.uniform() * 0.15) * (g.z1 - g.z0);
      } else {
        // An oblique plane through the body centre, tilted 20-40 degrees from axial.
        const double tilt = rng.uniform(0.35, 0.7), az = rng.uniform(0, 6.283185307179586);
        g.nx = std::sin(tilt) * std::cos(az);
        g.ny = std::sin(tilt) * std::sin(az);
        g.nz = std::cos(tilt);
        const double zc = (g.z0 + g.z1) / 2 + rng.uniform(-1.5, 1.5);
        g.d = g.nx * g.cx + g.ny * g.cy + g.nz * zc;
      }
      pc.fractures.push_back({g.fracture, g.label, g.wedge ? "wedge" : "line"});
    }
  }

  auto init = [&](Volume& v) {
    v.dims = {nx, ny, nz};
    v.spacing = {1, 1, 1};
    v.affine = make_affine(v.spacing, {-nx / 2.0, -ny / 2.0, 0});
    v.voxels.assign(v.size(), 0.0f);
  };
  init(pc.ct);
  init(pc.vertebrae);
  init(pc.fracture);
  const double bx = nx / 2.0, by = ny / 2.0, brx = nx * 0.46, bry = ny * 0.4;
  for (int k = 0; k < nz; ++k) {
    const double zc = k + 0.5;
    // The vertebra whose body (or arch) spans this height, and the discs between bodies.
    const VertebraGeom* vg = nullptr;
    const VertebraGeom* disc_below = nullptr;
    for (size_t v = 0; v < verts.size(); ++v) {
      if (zc >= verts[v].z0 && zc < verts[v].z1) vg = &verts[v];
      if (v + 1 < verts.size() && zc >= verts[v].z1 && zc < verts[v + 1].z0) disc_below = &verts[v];
    }
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        const double x = i + 0.5, y = j + 0.5;
        double hu = -1000;
        int label = 0, frac = 0;
        const double bq = ((x - bx) / brx) * ((x - bx) / brx) + ((y - by) / bry) * ((y - by) / bry);
        if (bq <= 1) hu = bq > 0.93 ? -80 : 40;  // skin-side fat, then soft tissue
        if (disc_below) {
          const VertebraGeom& g = *disc_below;
          const double q = ((x - g.cx) / (g.rx - 0.5)) * ((x - g.cx) / (g.rx - 0.5)) +
                           ((y - g.cy) / (g.ry - 0.5)) * ((y - g.cy) / (g.ry - 0.5));
          if (q <= 1) hu = 80;
        }
        if (vg) {
          const VertebraGeom& g = *vg;
          const double dx = (x - g.cx) / g.rx, dy = (y - g.cy) / g.ry;
          const double q = dx * dx + dy * dy;
          // Distance (mm, approximate) to the elliptic wall, and to the endplates.
          const double wall = (1 - std::sqrt(q)) * std::min(g.rx, g.ry);
          double top = g.z1;
          if (g.fracture && g.wedge && y < g.cy) top = g.z1 - g.depth * (g.cy - y) / g.ry;
          if (q <= 1 && zc < top) {
            const double plate = std::min(zc - g.z0, top - zc);
            hu = (wall < 1.8 || plate < 1.3) ? 1250 : 260;
            label = g.label;
            if (g.fracture && g.wedge) {
              // Compressed trabeculae: a dense band under the sloped endplate.
              if (y < g.cy + 2 && top - zc < 3.5 && hu < 1000) hu = 800;
              if (y < g.cy + 2 && zc >= top - 4.5) frac = g.fracture;
            } else if (g.fracture) {
              const double dist = g.nx * x + g.ny * y + g.nz * zc - g.d;
              if (std::abs(dist) < 0.9) hu = 90;                      // the gap
              else if (std::abs(dist) < 2.2) hu = std::max(hu, 850.0);  // sclerotic edges
              if (std::abs(dist) < 3.0) frac = g.fracture;
            }
          } else if (g.fracture && g.wedge && q <= 1 && zc < g.z1) {
            hu = 80;  // the collapsed part is filled by disc / soft tissue
          }
          // Posterior arch: ring around the spinal canal plus the spinous process, same label.
          const double ccx = g.cx, ccy = g.cy + g.ry + 8;
          const double rc = std::hypot(x - ccx, y - ccy);
          if (zc > g.z0 + 1 && zc < g.z1 - 1) {
            if (rc < 7) hu = 15;
            else if (rc < 11) hu = 700, label = g.label;
            else if (std::abs(x - ccx) < 2.5 && y > ccy && y < ccy + 22) hu = 700, label = g.label;
          }
        }
        const size_t idx = pc.ct.index(i, j, k);
        pc.ct.voxels[idx] = static_cast<float>(std::lround(hu + opt.noise_hu * rng.normal()));
        pc.vertebrae.voxels[idx] = static_cast<float>(label);
        pc.fracture.voxels[idx] = static_cast<float>(frac);
      }
  }
  return pc;
}

SynthSummary write_phantoms(const fs::path& out, int n, uint64_t seed, const PhantomOptions& opt) {
  if (n < 1) throw UsageError("cases must be >= 1");
  SynthSummary s;
  for (int i = 1; i <= n; ++i) {
    PhantomCase pc = make_phantom_case(i, seed, opt);
    // The case folder appears complete or not at all: written under a temp name, then renamed.
    const fs::path dir = out / pc.id, tmp = out / ("." + pc.id + ".tmp");
    std::error_code ec;
    fs::remove_all(tmp, ec);
    write_nifti(pc.ct, tmp / "ct.nii.gz", 4);
    write_nifti(pc.vertebrae, tmp / "vertebrae.nii.gz", 2);
    write_nifti(pc.fracture, tmp / "fracture.nii.gz", 2);
    fs::remove_all(dir, ec);
    fs::rename(tmp, dir, ec);
    if (ec) throw RuntimeError("cannot move " + tmp.string() + " to " + dir.string() + ": " + ec.message());
    ++s.cases;
    s.fractured_cases += !pc.fractures.empty();
    s.fractures += static_cast<int>(pc.fractures.size());
  }
  return s;
}

}  // namespace vyolo
