// A synthetic spine CT phantom (the built-in data): a column of vertebral bodies with cortical shell, trabecular
// core, posterior arch, discs, soft tissue, air and noise; VerSe vertebra labels; fracture instances (anterior
// compression wedges and oblique fracture lines) that are visible in the bone window. Deterministic per seed.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/volume.h"

namespace vyolo {

struct PhantomOptions {
  int nx = 128, ny = 128;      // voxels (1 mm) across; the height follows from the vertebra count
  int vertebrae = 7;           // T10 .. L4 for 7 (VerSe labels 17..23)
  double noise_hu = 20;        // Gaussian noise sigma
};

struct PhantomFracture {
  int instance = 0;            // value in the fracture volume
  int vertebra_label = 0;      // VerSe label of the fractured vertebra
  std::string kind;            // "wedge" | "line"
};

struct PhantomCase {
  std::string id;              // sub-phantom001, ...
  Volume ct;                   // HU
  Volume vertebrae;            // VerSe labels
  Volume fracture;             // 0 background, 1..N instances
  std::vector<PhantomFracture> fractures;
};

// Patient id of case `index` (1-based): "sub-phantom001".
std::string phantom_case_id(int index);

// Builds case `index` (1-based). Cases come in pairs of which exactly one has fractures (about a third of its
// vertebrae, at least one), so about half of all cases are fractured.
PhantomCase make_phantom_case(int index, uint64_t seed, const PhantomOptions& opt = {});

struct SynthSummary {
  int cases = 0, fractured_cases = 0, fractures = 0;
};

// Writes cases 1..n as <out>/<id>/{ct.nii.gz (int16), vertebrae.nii.gz, fracture.nii.gz (uint8)}; each case folder
// is written under a temp name and renamed, replacing an existing one.
SynthSummary write_phantoms(const std::filesystem::path& out, int n, uint64_t seed, const PhantomOptions& opt = {});

}  // namespace vyolo
