#include "data/study_folder.h"

#include <algorithm>
#include <initializer_list>

namespace vyolo {

namespace fs = std::filesystem;

namespace {

fs::path first_existing(const fs::path& dir, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    std::error_code ec;
    if (fs::exists(dir / n, ec)) return dir / n;
  }
  return {};
}

}  // namespace

StudyFiles describe_study(const fs::path& dir) {
  StudyFiles s;
  s.dir = dir;
  s.id = dir.filename().string();
  s.ct = first_existing(dir, {"ct.nii.gz", "ct.nii", "ct", "dicom"});
  s.fracture = first_existing(dir, {"fracture.nii.gz", "fracture.nii"});
  s.vertebrae =
      first_existing(dir, {"vertebrae.nii.gz", "vertebrae.nii", "vertebrae_mask.nii.gz", "multilabel_mask.nii.gz"});
  return s;
}

std::vector<StudyFiles> find_study_folders(const fs::path& root) {
  StudyFiles self = describe_study(root);
  if (!self.ct.empty()) return {self};
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && e.path().filename().string()[0] != '.') dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  std::vector<StudyFiles> out;
  for (const auto& d : dirs) out.push_back(describe_study(d));
  return out;
}

}  // namespace vyolo
