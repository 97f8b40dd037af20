#include <map>
#include <set>

#include <unistd.h>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/fs_util.h"
#include "data/phantom.h"
#include "data/split.h"

#include <yaml-cpp/yaml.h>

namespace fs = std::filesystem;

using namespace vyolo;

TEST(Phantom, DeterministicPerSeedAndRealisticHu) {
  PhantomCase a = make_phantom_case(2, 7), b = make_phantom_case(2, 7), c = make_phantom_case(2, 8);
  EXPECT_EQ(a.id, "sub-phantom002");
  EXPECT_EQ(a.ct.voxels, b.ct.voxels);
  EXPECT_EQ(a.fracture.voxels, b.fracture.voxels);
  EXPECT_NE(a.ct.voxels, c.ct.voxels);
  // Air, soft tissue and cortical bone are all there.
  float mn = 1e9f, mx = -1e9f;
  for (float v : a.ct.voxels) mn = std::min(mn, v), mx = std::max(mx, v);
  EXPECT_LT(mn, -900);
  EXPECT_GT(mx, 1100);
  // Vertebra labels are VerSe T10..L4.
  std::set<int> labels;
  for (float v : a.vertebrae.voxels) labels.insert(static_cast<int>(v));
  EXPECT_EQ(labels, (std::set<int>{0, 17, 18, 19, 20, 21, 22, 23}));
}

TEST(Phantom, AboutHalfTheCasesFracturedWithInstancesInBone) {
  int fractured = 0;
  for (int i = 1; i <= 6; ++i) {
    PhantomCase pc = make_phantom_case(i, 42);
    if (pc.fractures.empty()) {
      for (float v : pc.fracture.voxels) ASSERT_EQ(v, 0.0f);
      continue;
    }
    ++fractured;
    EXPECT_LE(pc.fractures.size(), 4u);
    for (const auto& f : pc.fractures) {
      // Every instance has voxels, all inside its vertebra.
      long n = 0;
      for (size_t v = 0; v < pc.fracture.voxels.size(); ++v)
        if (static_cast<int>(pc.fracture.voxels[v]) == f.instance) {
          ++n;
          ASSERT_EQ(static_cast<int>(pc.vertebrae.voxels[v]), f.vertebra_label);
        }
      EXPECT_GT(n, 50) << pc.id << " instance " << f.instance;
    }
  }
  EXPECT_EQ(fractured, 3);  // one per pair of cases
}

TEST(Split, PatientIdIsNameUpToFirstUnderscore) {
  EXPECT_EQ(patient_id("sub-verse004_L1_slice_012.png"), "sub-verse004");
  EXPECT_EQ(patient_id("case7.png"), "case7");
}

TEST(Split, FoldsDisjointCoveringBalancedDeterministic) {
  std::map<std::string, bool> pats;
  for (int i = 0; i < 23; ++i) pats["p" + std::to_string(i)] = (i % 3 == 0);  // 8 fractured, 15 not
  auto folds = make_folds(pats, 5, 42);
  ASSERT_EQ(folds.size(), 5u);
  std::set<std::string> all_val;
  for (const Fold& f : folds) {
    std::set<std::string> tr(f.train_patients.begin(), f.train_patients.end());
    std::set<std::string> va(f.val_patients.begin(), f.val_patients.end());
    for (auto& p : va) {
      EXPECT_EQ(tr.count(p), 0u) << "patient in train and val of fold " << f.fold_id;
      EXPECT_TRUE(all_val.insert(p).second) << p << " in two validation sets";
    }
    EXPECT_EQ(tr.size() + va.size(), pats.size());
    EXPECT_TRUE(va.size() == 4 || va.size() == 5);
    int fr = 0;
    for (auto& p : va) fr += pats[p];
    EXPECT_TRUE(fr == 1 || fr == 2) << "fold " << f.fold_id << " has " << fr << " fractured patients";
  }
  EXPECT_EQ(all_val.size(), pats.size());
  auto again = make_folds(pats, 5, 42);
  for (int f = 0; f < 5; ++f) EXPECT_EQ(again[f].val_patients, folds[f].val_patients);
  auto other = make_folds(pats, 5, 43);
  bool differs = false;
  for (int f = 0; f < 5; ++f) differs |= other[f].val_patients != folds[f].val_patients;
  EXPECT_TRUE(differs);
  EXPECT_THROW(make_folds(pats, 1, 0), UsageError);
  EXPECT_THROW(make_folds({{"a", true}}, 2, 0), UsageError);
}

TEST(Split, ScansDatasetAndWritesYaml) {
  fs::path d = fs::temp_directory_path() / ("vyolo_split_" + std::to_string(::getpid()));
  fs::remove_all(d);
  write_file_atomic(d / "labels/axial/a_L1_slice_001.txt", "");
  write_file_atomic(d / "labels/axial/a_L1_slice_002.txt", "0 0.5 0.5 0.1 0.1\n");
  write_file_atomic(d / "labels/axial/b_L1_slice_001.txt", "\n");
  write_file_atomic(d / "images/axial/c_L2_slice_001.png", "x");
  write_file_atomic(d / "images/axial/b_L1_slice_001.png", "x");
  auto pats = scan_patients(d);
  EXPECT_EQ(pats, (std::map<std::string, bool>{{"a", true}, {"b", false}, {"c", false}}));
  auto paths = write_folds(make_folds(pats, 3, 1), d / "split");
  ASSERT_EQ(paths.size(), 3u);
  YAML::Node n = YAML::LoadFile((d / "split/fold_2.yaml").string());
  EXPECT_EQ(n["fold_id"].as<int>(), 2);
  EXPECT_EQ(n["val_patients"].size(), 1u);
  EXPECT_EQ(n["train_patients"].size(), 2u);
  EXPECT_THROW(scan_patients(d / "nope"), RuntimeError);
  fs::remove_all(d);
}

TEST(Phantom, WrittenCasesReadBackIdentically) {
  fs::path d = fs::temp_directory_path() / ("vyolo_synth_" + std::to_string(::getpid()));
  fs::remove_all(d);
  SynthSummary s = write_phantoms(d, 2, 5);
  EXPECT_EQ(s.cases, 2);
  EXPECT_EQ(s.fractured_cases, 1);
  int entries = 0;
  for (auto& e : fs::directory_iterator(d)) ++entries, (void)e;
  EXPECT_EQ(entries, 2);  // no temp folders left
  PhantomCase pc = make_phantom_case(2, 5);
  Volume ct = read_nifti(d / "sub-phantom002/ct.nii.gz");
  Volume fr = read_nifti(d / "sub-phantom002/fracture.nii.gz");
  EXPECT_EQ(ct.voxels, pc.ct.voxels);
  EXPECT_EQ(fr.voxels, pc.fracture.voxels);
  EXPECT_LT(affine_distance(ct.affine, pc.ct.affine), 1e-4);
  fs::remove_all(d);
}

TEST(Split, ExistingFoldsWithOtherPatientsAreNotReplacedWithoutOverwrite) {
  const fs::path dir = fs::temp_directory_path() / ("vyolo_split_ow_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::map<std::string, bool> pats;
  for (int i = 0; i < 6; ++i) pats["p" + std::to_string(i)] = i % 2 == 0;
  const auto paths = write_folds(make_folds(pats, 2, 1), dir);
  const std::string fold0 = read_file(paths[0]);
  EXPECT_NO_THROW(write_folds(make_folds(pats, 2, 1), dir));  // the same folds again
  try {
    write_folds(make_folds(pats, 2, 7), dir);
    FAIL() << "replaced folds holding other patients";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("overwrite=true"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fold_0.yaml"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(paths[0]), fold0) << "a refused split changed a file";
  write_folds(make_folds(pats, 2, 7), dir, /*overwrite=*/true);
  EXPECT_NE(read_file(paths[0]), fold0);
  fs::remove_all(dir);
}
