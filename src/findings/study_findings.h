// One call from per-slice detections of one or more models/views to a study's findings, plus the checks and montage
// tiles `vyolo predict` needs around it.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data/volume.h"
#include "findings/linking.h"
#include "findings/plots.h"
#include "findings/vertebra_assign.h"

namespace vyolo::findings {

// The raw output of one model on one study: per slice index, its boxes in slice pixels, cut with `geometry`.
struct SourceDetections {
  std::string name;  // e.g. "fold_0/axial"; becomes Candidate::source
  SliceGeometry geometry;
  std::map<int, std::vector<SliceBox>> per_slice;
};

struct FindingsOptions {
  LinkOptions link;
  FuseOptions fuse;      // used when there are several sources; n_sources 0 = their number
  AssignOptions assign;
};

// Links each source's boxes into candidates; several sources are fused (fuse_candidates), one is taken as is; then
// candidates are assigned to the vertebrae of `mask` (canonical grid, may be null). Throws UsageError when there is
// no source or the sources' geometries disagree on the volume's dims.
StudyFindings make_study_findings(const std::string& case_id, const std::vector<SourceDetections>& sources,
                                  const Volume* mask, const FindingsOptions& opt = {});

// Throws RuntimeError naming `mask_name` when the mask's dims or affine (beyond tol_mm) differ from the CT's.
void check_same_grid(const Volume& ct, const Volume& mask, const std::string& mask_name, double tol_mm = 0.01);

// Montage tiles for the best max_tiles candidates: each candidate's best slice in its view, with every candidate's
// boxes on that slice ("#id vertebra score" labels). get_slice returns the 8-bit image the model saw (the boxes'
// pixel space) for a view and slice index.
std::vector<MontageTile> montage_tiles(const std::vector<Candidate>& candidates,
                                       const std::function<cv::Mat(View, int)>& get_slice, int max_tiles = 16);

}  // namespace vyolo::findings
