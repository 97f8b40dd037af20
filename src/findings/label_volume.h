// The candidates as a NIfTI label volume on the input CT's own grid and affine, so that it opens over the CT in
// ITK-SNAP or 3D Slicer. Voxel value = candidate id (1..N); where candidates overlap the better-scoring (lower id)
// one wins. Written with src/data's write_nifti (int16, atomic).
#pragma once
#include <filesystem>
#include <vector>

#include "data/volume.h"
#include "findings/candidate.h"

namespace vyolo::findings {

// `canonical` is the grid the candidates live on (to_canonical(input)); `input` the grid to write on. Only dims and
// affine of both are read. Footprints (the member boxes' voxels) are painted, not the enclosing 3D box. Throws
// RuntimeError when the two grids are not related by an axis permutation/flip (what to_canonical produces).
Volume candidate_label_volume(const std::vector<Candidate>& candidates, const Volume& canonical, const Volume& input);

void write_candidate_labels(const std::filesystem::path& path, const std::vector<Candidate>& candidates,
                            const Volume& canonical, const Volume& input);

}  // namespace vyolo::findings
