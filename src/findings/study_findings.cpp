#include "findings/study_findings.h"

#include <cstdio>

#include "common/error.h"

namespace vyolo::findings {

StudyFindings make_study_findings(const std::string& case_id, const std::vector<SourceDetections>& sources,
                                  const Volume* mask, const FindingsOptions& opt) {
  if (sources.empty()) throw UsageError(case_id + ": no detections to build findings from");
  const auto& g0 = sources.front().geometry;
  std::vector<std::vector<Candidate>> per_source;
  for (const auto& s : sources) {
    if (s.geometry.dims != g0.dims)
      throw UsageError(case_id + ": source '" + s.name + "' was cut from a volume of another size than '" +
                       sources.front().name + "'");
    auto c = link_slices(s.per_slice, s.geometry, opt.link);
    for (auto& x : c) x.source = s.name.empty() ? view_name(s.geometry.view) : s.name;
    per_source.push_back(std::move(c));
  }
  std::vector<Candidate> cands = per_source.size() == 1 ? per_source.front() : fuse_candidates(per_source, opt.fuse);
  StudyFindings f = assign_vertebrae(std::move(cands), mask, g0.dims, g0.spacing, opt.assign);
  f.case_id = case_id;
  return f;
}

void check_same_grid(const Volume& ct, const Volume& mask, const std::string& mask_name, double tol_mm) {
  auto dims = [](const Volume& v) {
    return std::to_string(v.dims[0]) + "x" + std::to_string(v.dims[1]) + "x" + std::to_string(v.dims[2]);
  };
  if (ct.dims != mask.dims)
    throw RuntimeError(mask_name + ": mask is " + dims(mask) + " voxels but the CT is " + dims(ct) +
                       "; the mask must lie on the CT's grid");
  double d = affine_distance(ct.affine, mask.affine);
  if (d > tol_mm) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g", d);
    throw RuntimeError(mask_name + ": mask affine differs from the CT's by up to " + buf +
                       " mm; the mask must lie on the CT's grid");
  }
}

std::vector<MontageTile> montage_tiles(const std::vector<Candidate>& candidates,
                                       const std::function<cv::Mat(View, int)>& get_slice, int max_tiles) {
  std::vector<MontageTile> tiles;
  for (const auto& [slice, ci] : montage_slices(candidates, max_tiles)) {
    const Candidate& c = candidates[size_t(ci)];
    MontageTile t;
    t.image = get_slice(c.view, slice);
    for (const auto& o : candidates) {
      if (o.view != c.view) continue;
      for (const auto& m : o.members) {
        if (m.slice != slice) continue;
        char lab[64];
        std::snprintf(lab, sizeof lab, "#%d %s %.2f", o.id, o.vertebra.c_str(), o.score);
        t.boxes.push_back(m.box);
        t.box_labels.push_back(lab);
      }
    }
    char cap[96];
    std::snprintf(cap, sizeof cap, "#%d %s %s %d (%d-%d)", c.id, c.vertebra.empty() ? "-" : c.vertebra.c_str(),
                  view_name(c.view).c_str(), slice, c.slice_first, c.slice_last);
    t.caption = cap;
    tiles.push_back(std::move(t));
  }
  return tiles;
}

}  // namespace vyolo::findings
