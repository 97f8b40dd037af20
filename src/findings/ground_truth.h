// Ground truth for evaluation: slice-, vertebra- and patient-level labels and fracture lesions, from fracture instance
// masks plus vertebra masks, or from a per-vertebra grade file (VerSe-style Genant grades).
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/volume.h"
#include "findings/candidate.h"
#include "findings/vertebra_assign.h"

namespace vyolo::findings {

struct VertebraTruth {
  std::string name;   // "L1"
  int label = 0;      // in the mask's scheme; 0 when from a grade file without a mask
  bool fractured = false;
  int grade = -1;     // Genant grade when from a grade file
};

struct Lesion {
  int id = 0;                // fracture instance value
  long long voxels = 0;
  VoxelBox extent;
  std::string vertebra;      // the vertebra holding most of its voxels ("" without a vertebra mask)
};

struct StudyTruth {
  std::string case_id;
  std::vector<VertebraTruth> vertebrae;  // cranio-caudal; empty when unknown
  bool patient_fractured = false;
  std::vector<Lesion> lesions;           // empty when from a grade file
  std::vector<int> slice_labels;         // per slice of `view` (1 = a fracture voxel on it); empty from a grade file
  View view = View::Axial;
};

// fracture: 0 background, 1..N instances, on the same grid as `vertebrae` (may be null). A vertebra is fractured
// when any fracture voxel lies in it. Throws RuntimeError when the grids differ.
StudyTruth truth_from_masks(const std::string& case_id, const Volume& fracture, const Volume* vertebrae,
                            LabelScheme scheme, View view = View::Axial);

// Per slice along the view's axis (axial: k, coronal: j, sagittal: i): 1 when the slice holds a fracture voxel.
std::vector<int> slice_labels(const Volume& fracture, View view);

// case id -> vertebra name -> Genant grade. Accepted files (errors name the file and line):
//  - CSV, long:  a header with columns case (or subject/patient/verse_id/id), vertebra (or label/level), grade;
//                vertebra as a name ("L1", "vertebrae_L1") or a VerSe label number.
//  - CSV, wide:  a header whose first column is the case id and whose other columns start with a vertebra name
//                ("L1", "L1_fx-g"); one row per case.
//  - JSON:       {"<case>": {"L1": 2, ...}, ...} or [{"case": ..., "vertebra": ..., "grade": ...}, ...].
// Empty, "nan", "na", "-" cells mean "not graded" and are skipped.
using GradeTable = std::map<std::string, std::map<std::string, int>>;
GradeTable read_grade_file(const std::filesystem::path& path);

// A vertebra counts as fractured when its grade >= min_grade (default 1: any Genant grade). Throws RuntimeError
// when the table has no row for case_id.
StudyTruth truth_from_grades(const GradeTable& table, const std::string& case_id, int min_grade = 1);

// For FROC: per candidate, the instance value of the lesion with the most voxels in its footprint, or -1.
std::vector<int> match_lesions(const std::vector<Candidate>& candidates, const Volume& fracture);

}  // namespace vyolo::findings
