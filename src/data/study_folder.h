// A CT study folder (DESIGN.md §5), as `vyolo prepare` and `vyolo evaluate` read them: <root>/<case>/ with the CT as
// ct.nii.gz | ct.nii | ct/ | dicom/ (a DICOM series folder), the fracture instance mask fracture.nii.gz |
// fracture.nii and the vertebra mask vertebrae.nii.gz | vertebrae.nii | vertebrae_mask.nii.gz |
// multilabel_mask.nii.gz (TotalSegmentator's name).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace vyolo {

struct StudyFiles {
  std::string id;                                      // the folder name
  std::filesystem::path dir, ct, vertebrae, fracture;  // empty when absent
};

StudyFiles describe_study(const std::filesystem::path& dir);

// The studies below `root`: root itself when it holds a CT, else its sub-folders (hidden ones left out) in name
// order, each described whether it holds a CT or not (the caller reports those that do not).
std::vector<StudyFiles> find_study_folders(const std::filesystem::path& root);

}  // namespace vyolo
