// Study folders as prepare and evaluate find them.
#include <gtest/gtest.h>

#include <fstream>

#include "data/study_folder.h"
#include "temp_dir.h"

using namespace vyolo;
namespace fs = std::filesystem;

namespace {

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

}  // namespace

TEST(StudyFolder, FindsCasesByTheirFileNames) {
  test::TempDir tmp;
  touch(tmp.path / "b_case" / "ct.nii.gz");
  touch(tmp.path / "b_case" / "fracture.nii");
  touch(tmp.path / "b_case" / "multilabel_mask.nii.gz");
  fs::create_directories(tmp.path / "a_case" / "dicom");
  touch(tmp.path / "a_case" / "vertebrae.nii.gz");
  fs::create_directories(tmp.path / "c_empty");
  fs::create_directories(tmp.path / ".hidden" / "ct");
  touch(tmp.path / "notes.txt");

  const auto found = find_study_folders(tmp.path);
  ASSERT_EQ(found.size(), 3u);  // name order; hidden folders and files left out; one without a CT kept
  EXPECT_EQ(found[0].id, "a_case");
  EXPECT_EQ(found[0].ct, tmp.path / "a_case" / "dicom");
  EXPECT_EQ(found[0].vertebrae, tmp.path / "a_case" / "vertebrae.nii.gz");
  EXPECT_TRUE(found[0].fracture.empty());
  EXPECT_EQ(found[1].id, "b_case");
  EXPECT_EQ(found[1].ct, tmp.path / "b_case" / "ct.nii.gz");
  EXPECT_EQ(found[1].fracture, tmp.path / "b_case" / "fracture.nii");
  EXPECT_EQ(found[1].vertebrae, tmp.path / "b_case" / "multilabel_mask.nii.gz");
  EXPECT_EQ(found[2].id, "c_empty");
  EXPECT_TRUE(found[2].ct.empty());

  // A folder that is itself a study.
  const auto self = find_study_folders(tmp.path / "b_case");
  ASSERT_EQ(self.size(), 1u);
  EXPECT_EQ(self[0].id, "b_case");
}
