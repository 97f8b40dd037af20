#include "findings/vertebra_assign.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "common/error.h"

namespace vyolo::findings {

namespace {

// Cranio-caudal order of every name either scheme knows.
const std::vector<std::string>& ordered_names() {
  static const std::vector<std::string> n = [] {
    std::vector<std::string> v;
    for (int i = 1; i <= 7; ++i) v.push_back("C" + std::to_string(i));
    for (int i = 1; i <= 13; ++i) v.push_back("T" + std::to_string(i));
    for (int i = 1; i <= 6; ++i) v.push_back("L" + std::to_string(i));
    v.push_back("S1");
    return v;
  }();
  return n;
}

int to_label(float v) { return int(std::lround(v)); }

}  // namespace

std::string label_scheme_name(LabelScheme s) { return s == LabelScheme::Verse ? "verse" : "totalseg"; }

int vertebra_label(const std::string& name, LabelScheme s) {
  for (int l = 1; l <= 60; ++l)
    if (vertebra_name(l, s) == name) return l;
  return 0;
}

std::string normalize_vertebra_name(const std::string& raw) {
  std::string s;
  for (char ch : raw) s += char(std::toupper(static_cast<unsigned char>(ch)));
  if (s.rfind("VERTEBRAE_", 0) == 0) s = s.substr(10);
  if (s.empty() || (s[0] != 'C' && s[0] != 'T' && s[0] != 'L' && s[0] != 'S')) return "";
  size_t i = 1;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 1 || (i < s.size() && std::isalnum(static_cast<unsigned char>(s[i])))) return "";
  std::string n = s.substr(0, i);
  return vertebra_rank(n) >= 0 ? n : "";
}

int vertebra_rank(const std::string& name) {
  const auto& n = ordered_names();
  auto it = std::find(n.begin(), n.end(), name);
  return it == n.end() ? -1 : int(it - n.begin());
}

const std::string& VertebraNames::operator()(int label) {
  static const std::string none;
  if (label <= 0 || label > 65535) return none;
  if (size_t(label) >= known_.size()) {
    known_.resize(size_t(label) + 1, 0);
    names_.resize(size_t(label) + 1);
  }
  if (!known_[size_t(label)]) {
    names_[size_t(label)] = vertebra_name(label, scheme_);
    known_[size_t(label)] = 1;
  }
  return names_[size_t(label)];
}

StudyFindings assign_vertebrae(std::vector<Candidate> candidates, const Volume* mask, const std::array<int, 3>& dims,
                               const std::array<double, 3>& spacing, const AssignOptions& opt) {
  StudyFindings f;
  f.dims = dims;
  f.spacing = spacing;
  f.has_mask = mask != nullptr;
  for (auto& c : candidates) c.vertebra_label = 0, c.vertebra.clear();
  if (!mask) {
    for (const auto& c : candidates) f.patient_score = std::max(f.patient_score, c.score);
    f.patient_probability = f.patient_score;
    f.candidates = std::move(candidates);
    return f;
  }
  if (mask->dims != dims)
    throw RuntimeError("vertebra mask is " + std::to_string(mask->dims[0]) + "x" + std::to_string(mask->dims[1]) +
                       "x" + std::to_string(mask->dims[2]) + " but the CT is " + std::to_string(dims[0]) + "x" +
                       std::to_string(dims[1]) + "x" + std::to_string(dims[2]) + ": the mask must lie on the CT's grid");
  if (mask->voxels.size() != mask->size()) throw RuntimeError("vertebra mask: voxel buffer does not match its dims");

  // Vertebrae present in the mask, with size and extent.
  VertebraNames names(opt.scheme);
  std::vector<VertebraResult> by_label;  // indexed by label; label 0 = not a vertebra
  const float* p = mask->voxels.data();
  for (int k = 0; k < dims[2]; ++k)
    for (int j = 0; j < dims[1]; ++j)
      for (int i = 0; i < dims[0]; ++i) {
        const float x = *p++;
        if (x < 0.5f) continue;
        const int l = to_label(x);
        if (names(l).empty()) continue;
        if (size_t(l) >= by_label.size()) by_label.resize(size_t(l) + 1);
        VertebraResult& v = by_label[size_t(l)];
        if (v.label == 0) {
          v.label = l;
          v.name = names(l);
          v.extent.lo = v.extent.hi = {i, j, k};
        }
        auto& e = v.extent;
        if (i < e.lo[0]) e.lo[0] = i;
        if (j < e.lo[1]) e.lo[1] = j;
        if (k < e.lo[2]) e.lo[2] = k;
        if (i > e.hi[0]) e.hi[0] = i;
        if (j > e.hi[1]) e.hi[1] = j;
        if (k > e.hi[2]) e.hi[2] = k;
        v.voxels++;
      }
  std::map<int, VertebraResult> verts;
  for (const auto& v : by_label)
    if (v.label > 0) verts.emplace(v.label, v);

  std::map<int, std::vector<double>> scores_of;
  for (auto& c : candidates) {
    VoxelBox b = c.voxel_box(dims);
    if (b.empty()) continue;
    std::map<int, long long> count;
    for (int k = b.lo[2]; k <= b.hi[2]; ++k)
      for (int j = b.lo[1]; j <= b.hi[1]; ++j)
        for (int i = b.lo[0]; i <= b.hi[0]; ++i) {
          int l = to_label(mask->at(i, j, k));
          if (l > 0 && verts.count(l)) count[l]++;
        }
    int best = 0;
    long long best_n = 0;
    for (const auto& [l, n] : count)  // ties: the lower label, deterministically
      if (n > best_n) best = l, best_n = n;
    if (best == 0) continue;
    c.vertebra_label = best;
    c.vertebra = verts[best].name;
    verts[best].candidate_ids.push_back(c.id);
    scores_of[best].push_back(c.score);
  }
  for (auto& [l, v] : verts) {
    const auto& s = scores_of[l];
    if (opt.aggregate == VertebraAggregate::Max) {
      for (double x : s) v.score = std::max(v.score, x);
    } else {
      double keep = 1;
      for (double x : s) keep *= 1 - std::clamp(x, 0.0, 1.0);
      v.score = s.empty() ? 0.0 : 1 - keep;
    }
    v.probability = v.score;
    f.vertebrae.push_back(v);
    f.patient_score = std::max(f.patient_score, v.score);
  }
  f.patient_probability = f.patient_score;
  std::stable_sort(f.vertebrae.begin(), f.vertebrae.end(), [](const VertebraResult& a, const VertebraResult& b) {
    return vertebra_rank(a.name) < vertebra_rank(b.name);
  });
  f.candidates = std::move(candidates);
  return f;
}

}  // namespace vyolo::findings
