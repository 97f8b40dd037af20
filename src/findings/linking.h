// 3D linking of per-slice boxes into fracture candidates, and fusion of candidates from several models or views.
#pragma once
#include <map>
#include <vector>

#include "findings/candidate.h"

namespace vyolo::findings {

enum class Overlap {
  IoU,       // intersection / union
  MinRatio,  // intersection / smaller area: links a box that shrinks toward a fracture's end
};
enum class ScoreMode { Max, Mean, TopKMean };

struct LinkOptions {
  double iou_thr = 0.3;   // a box continues a track when its overlap with the track's last box is >= this
  Overlap overlap = Overlap::IoU;
  int max_gap = 1;        // slices without a box that a track may skip (1: slices s and s+2 still link)
  double min_score = 0;   // boxes below this are ignored
  int min_slices = 1;     // candidates with fewer boxes are dropped
  // Candidate::score. TopKMean (default) = sum of the top_k highest box scores / top_k, absent boxes counting 0:
  // a box seen on one slice only gets half its score with top_k = 2, so isolated single-slice hits (the most common
  // false positive) rank below a fracture seen on neighbouring slices, while a long run cannot exceed its best boxes.
  // score_max and score_mean are always filled too.
  ScoreMode score_mode = ScoreMode::TopKMean;
  int top_k = 2;
};

// per_slice: slice index -> boxes on that slice (pixel coordinates of g.view). Tracks are grown slice by slice in
// increasing order; on each slice, boxes and open tracks are matched greedily by decreasing overlap (one box per track
// per slice, so two overlapping-free fractures on the same slices stay two candidates). Ids are 1..N in order of
// decreasing score. Throws UsageError for a slice index outside the volume along g.slice_axis.
std::vector<Candidate> link_slices(const std::map<int, std::vector<SliceBox>>& per_slice, const SliceGeometry& g,
                                   const LinkOptions& opt = {});

struct FuseOptions {
  double iou_thr = 0.2;  // 3D IoU between a candidate and a cluster's fused box to join the cluster
  int n_sources = 0;     // models/views averaged over; 0 = the number of lists passed
};

// Weighted box fusion in 3D across models or views (all candidates already in the same canonical voxel space).
// Candidates are taken by decreasing score; each joins the cluster whose fused box it overlaps most (3D IoU >= iou_thr)
// or opens a new cluster. A cluster's box is the score-weighted mean of its members' boxes; its score is the mean over
// n_sources of each source's best member score, absent sources counting 0, so a finding seen by one model of five
// scores a fifth of one seen by all five. score_max/score_mean are the max/mean of the member scores; the footprint is
// the union of the members'; view, slice range and n_slices are the best member's, and `members` holds the slice
// boxes of the members in that view. `source` joins the members' sources ("axial+coronal"). Ids 1..N by score.
std::vector<Candidate> fuse_candidates(const std::vector<std::vector<Candidate>>& per_source,
                                       const FuseOptions& opt = {});

// Candidates whose score is >= thr.
std::vector<Candidate> filter_by_score(const std::vector<Candidate>& c, double thr);

}  // namespace vyolo::findings
