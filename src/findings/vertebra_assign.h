// Vertebra names from label masks, assignment of candidates to vertebrae, per-vertebra and patient probabilities.
//
// Label maps: VerSe 1-7 C1-C7, 8-19 T1-T12, 20-24 L1-L5, 25 L6, 28 T13. TotalSegmentator v2 ("total" task):
// 26 S1, 27-31 L5..L1, 32-43 T12..T1, 44-50 C7..C1 (25 is the sacrum, not a vertebra). Other label values (ribs,
// organs of a whole-body TotalSegmentator mask) are ignored.
#pragma once
#include <string>
#include <vector>

#include "data/vertebra_labels.h"
#include "data/volume.h"
#include "findings/candidate.h"

namespace vyolo::findings {

using LabelScheme = VertebraLabels;  // the label maps of data/vertebra_labels.h
using vyolo::vertebra_name;          // "" when the label is not a vertebra
inline LabelScheme parse_label_scheme(const std::string& s) { return parse_vertebra_labels(s); }
std::string label_scheme_name(LabelScheme s);
int vertebra_label(const std::string& name, LabelScheme s);  // 0 when the name has no label in the scheme
// Normalises "l1", "vertebrae_L1", "L1_fx-g" to "L1"; "" when it does not name a vertebra.
std::string normalize_vertebra_name(const std::string& s);
// Cranio-caudal rank (C1 = 0 ... S1) for sorting; -1 for an unknown name.
int vertebra_rank(const std::string& name);

// vertebra_name with a per-label cache, for loops over every voxel of a mask.
class VertebraNames {
 public:
  explicit VertebraNames(LabelScheme s) : scheme_(s) {}
  const std::string& operator()(int label);

 private:
  LabelScheme scheme_;
  std::vector<std::string> names_;
  std::vector<char> known_;
};

// How a vertebra's candidates combine into its fracture probability. Max (default): the strongest candidate, so the
// probability keeps the detector's calibration and two views of one fracture (split into two candidates) do not
// inflate it. NoisyOr: 1 - prod(1 - s_i), treating candidates as independent evidence; it rises with the number of
// weak candidates, false positives included.
enum class VertebraAggregate { Max, NoisyOr };

struct AssignOptions {
  LabelScheme scheme = LabelScheme::Verse;
  VertebraAggregate aggregate = VertebraAggregate::Max;
};

struct VertebraResult {
  int label = 0;
  std::string name;
  double score = 0;                 // the detector's vertebra score, 0 when no candidate lies in it; calls compare it
                                    // with the operating threshold
  double probability = 0;           // the score through the model's calibration (calibration.h); = score without one
  std::vector<int> candidate_ids;
  long long voxels = 0;             // size in the mask
  VoxelBox extent;                  // bounding box in the mask (canonical voxels)
};

struct StudyFindings {
  std::string case_id;
  std::array<int, 3> dims{0, 0, 0};
  std::array<double, 3> spacing{1, 1, 1};
  std::vector<Candidate> candidates;     // vertebra_label / vertebra set when a mask was given
  bool has_mask = false;
  std::vector<VertebraResult> vertebrae;  // every vertebra present in the mask, cranio-caudal; empty without mask
  double patient_score = 0;              // max over vertebrae; without a mask, max over candidates
  double patient_probability = 0;        // patient_score through the calibration (= patient_score without one)
};

// Assigns each candidate to the vertebra with the largest voxel overlap of its 3D box (none when its box holds no
// vertebra voxel). `mask` may be null: then only candidates and the patient probability are filled. Throws
// RuntimeError when the mask's dims differ from `dims` (the grid the candidates live on).
StudyFindings assign_vertebrae(std::vector<Candidate> candidates, const Volume* mask, const std::array<int, 3>& dims,
                               const std::array<double, 3>& spacing, const AssignOptions& opt = {});

}  // namespace vyolo::findings
