#include "findings/linking.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "common/error.h"

namespace vyolo::findings {

namespace {

double overlap_2d(const SliceBox& a, const SliceBox& b, Overlap mode) {
  double iw = std::max(0.0, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  double ih = std::max(0.0, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  double inter = iw * ih;
  double aa = std::max(0.0, a.x2 - a.x1) * std::max(0.0, a.y2 - a.y1);
  double ab = std::max(0.0, b.x2 - b.x1) * std::max(0.0, b.y2 - b.y1);
  double den = mode == Overlap::IoU ? aa + ab - inter : std::min(aa, ab);
  return den > 0 ? inter / den : 0.0;
}

double ranking_score(std::vector<double> s, ScoreMode mode, int top_k) {
  if (s.empty()) return 0;
  std::sort(s.rbegin(), s.rend());
  if (mode == ScoreMode::Max) return s.front();
  if (mode == ScoreMode::Mean) {
    double sum = 0;
    for (double v : s) sum += v;
    return sum / double(s.size());
  }
  int k = std::max(1, top_k);
  double sum = 0;
  for (int i = 0; i < k && i < int(s.size()); ++i) sum += s[size_t(i)];
  return sum / k;
}

void number_by_score(std::vector<Candidate>& c) {
  std::stable_sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(b.score, a.slice_first) < std::tie(a.score, b.slice_first);
  });
  for (size_t i = 0; i < c.size(); ++i) c[i].id = int(i) + 1;
}

struct Track {
  std::vector<SliceDetection> dets;
  int last = 0;
};

}  // namespace

std::vector<Candidate> link_slices(const std::map<int, std::vector<SliceBox>>& per_slice, const SliceGeometry& g,
                                   const LinkOptions& opt) {
  const int n_slices = g.dims[size_t(g.slice_axis)];
  std::vector<Track> tracks;
  std::vector<size_t> open;  // indices into tracks
  for (const auto& [s, raw] : per_slice) {
    if (s < 0 || s >= n_slices)
      throw UsageError("linking: slice " + std::to_string(s) + " outside the volume (" + std::to_string(n_slices) +
                       " " + view_name(g.view) + " slices)");
    std::vector<SliceBox> boxes;
    for (const auto& b : raw)
      if (b.score >= opt.min_score) boxes.push_back(b);
    // Close tracks that ended more than max_gap empty slices ago.
    std::vector<size_t> still;
    for (size_t t : open)
      if (s - tracks[t].last - 1 <= opt.max_gap) still.push_back(t);
    open.swap(still);

    struct Pair {
      double ov, score;
      size_t t, b;
    };
    std::vector<Pair> pairs;
    for (size_t t : open)
      for (size_t b = 0; b < boxes.size(); ++b) {
        double ov = overlap_2d(tracks[t].dets.back().box, boxes[b], opt.overlap);
        if (ov >= opt.iou_thr && ov > 0) pairs.push_back({ov, boxes[b].score, t, b});
      }
    std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
      return std::tie(b.ov, b.score) < std::tie(a.ov, a.score);
    });
    std::set<size_t> used_t, used_b;
    for (const auto& p : pairs) {
      if (used_t.count(p.t) || used_b.count(p.b)) continue;
      used_t.insert(p.t);
      used_b.insert(p.b);
      tracks[p.t].dets.push_back({s, boxes[p.b]});
      tracks[p.t].last = s;
    }
    for (size_t b = 0; b < boxes.size(); ++b) {
      if (used_b.count(b)) continue;
      tracks.push_back({{{s, boxes[b]}}, s});
      open.push_back(tracks.size() - 1);
    }
  }

  std::vector<Candidate> out;
  for (const auto& t : tracks) {
    if (int(t.dets.size()) < std::max(1, opt.min_slices)) continue;
    Candidate c;
    c.view = g.view;
    c.source = view_name(g.view);
    c.slice_first = t.dets.front().slice;
    c.slice_last = t.dets.back().slice;
    c.n_slices = int(t.dets.size());
    c.members = t.dets;
    std::vector<double> scores;
    for (size_t i = 0; i < t.dets.size(); ++i) {
      std::array<double, 3> lo, hi;
      slice_box_to_voxels(g, t.dets[i].slice, t.dets[i].box, lo, hi);
      for (int a = 0; a < 3; ++a) {
        c.lo[a] = i == 0 ? lo[a] : std::min(c.lo[a], lo[a]);
        c.hi[a] = i == 0 ? hi[a] : std::max(c.hi[a], hi[a]);
      }
      VoxelBox vb = to_voxel_box(lo, hi, g.dims);
      if (!vb.empty()) c.footprint.push_back(vb);
      scores.push_back(t.dets[i].box.score);
    }
    c.score_max = ranking_score(scores, ScoreMode::Max, 1);
    c.score_mean = ranking_score(scores, ScoreMode::Mean, 1);
    c.score = ranking_score(scores, opt.score_mode, opt.top_k);
    out.push_back(std::move(c));
  }
  number_by_score(out);
  return out;
}

std::vector<Candidate> fuse_candidates(const std::vector<std::vector<Candidate>>& per_source,
                                       const FuseOptions& opt) {
  const int n_sources = opt.n_sources > 0 ? opt.n_sources : int(per_source.size());
  if (int(per_source.size()) > n_sources)
    throw UsageError("fuse_candidates: " + std::to_string(per_source.size()) + " sources but n_sources = " +
                     std::to_string(n_sources));
  struct Item {
    int src;
    const Candidate* c;
  };
  std::vector<Item> items;
  for (size_t s = 0; s < per_source.size(); ++s)
    for (const auto& c : per_source[s]) items.push_back({int(s), &c});
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.c->score > b.c->score; });

  struct Cluster {
    std::vector<Item> members;
    std::array<double, 3> lo, hi;
  };
  std::vector<Cluster> clusters;
  auto refit = [](Cluster& k) {
    double w = 0;
    std::array<double, 3> lo{0, 0, 0}, hi{0, 0, 0};
    for (const auto& m : k.members) {
      double s = std::max(m.c->score, 1e-9);  // zero-score members still count, barely
      w += s;
      for (int a = 0; a < 3; ++a) lo[a] += s * m.c->lo[a], hi[a] += s * m.c->hi[a];
    }
    for (int a = 0; a < 3; ++a) k.lo[a] = lo[a] / w, k.hi[a] = hi[a] / w;
  };
  for (const auto& it : items) {
    int best = -1;
    double best_iou = 0;
    for (size_t k = 0; k < clusters.size(); ++k) {
      double iou = iou_3d(clusters[k].lo, clusters[k].hi, it.c->lo, it.c->hi);
      if (iou >= opt.iou_thr && iou > best_iou) best = int(k), best_iou = iou;
    }
    if (best < 0) {
      clusters.push_back({{it}, it.c->lo, it.c->hi});
    } else {
      clusters[size_t(best)].members.push_back(it);
      refit(clusters[size_t(best)]);
    }
  }

  std::vector<Candidate> out;
  for (const auto& k : clusters) {
    const Candidate& top = *k.members.front().c;  // members were added in decreasing score
    Candidate c;
    c.view = top.view;
    c.slice_first = top.slice_first;
    c.slice_last = top.slice_last;
    c.n_slices = top.n_slices;
    c.lo = k.lo;
    c.hi = k.hi;
    std::vector<double> best_of(per_source.size(), 0.0);
    std::set<int> srcs;
    std::set<std::string> names;
    double sum = 0;
    c.score_max = 0;
    for (const auto& m : k.members) {
      best_of[size_t(m.src)] = std::max(best_of[size_t(m.src)], m.c->score);
      srcs.insert(m.src);
      names.insert(m.c->source);
      c.score_max = std::max(c.score_max, m.c->score);
      sum += m.c->score;
      c.footprint.insert(c.footprint.end(), m.c->footprint.begin(), m.c->footprint.end());
      if (m.c->view == top.view) c.members.insert(c.members.end(), m.c->members.begin(), m.c->members.end());
    }
    std::stable_sort(c.members.begin(), c.members.end(),
                     [](const SliceDetection& a, const SliceDetection& b) { return a.slice < b.slice; });
    c.score_mean = sum / double(k.members.size());
    double total = 0;
    for (double b : best_of) total += b;
    c.score = total / double(n_sources);
    c.n_sources = int(srcs.size());
    for (const auto& n : names) c.source += (c.source.empty() ? "" : "+") + n;
    out.push_back(std::move(c));
  }
  number_by_score(out);
  return out;
}

std::vector<Candidate> filter_by_score(const std::vector<Candidate>& c, double thr) {
  std::vector<Candidate> out;
  for (const auto& x : c)
    if (x.score >= thr) out.push_back(x);
  return out;
}

}  // namespace vyolo::findings
