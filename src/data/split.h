// Patient-level K-fold assignment (`vyolo split`): no patient in two sets, folds balanced by patients with and
// without fractures, deterministic per seed. Written as conf/split/fold_K.yaml (fold_id, train_patients,
// val_patients).
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace vyolo {

struct Fold {
  int fold_id = 0;
  std::vector<std::string> train_patients, val_patients;  // sorted
};

// Patient id of a dataset file: its name up to the first '_' (without extension if there is no '_').
std::string patient_id(const std::string& file_name);

// Patients of a prepared dataset -> whether any of their label files holds a box. Reads labels/**.txt and
// images/** (an image without a label file is a negative); a folder without images/ and labels/ is scanned whole.
// Throws RuntimeError when the folder is missing or holds no image or label file.
std::map<std::string, bool> scan_patients(const std::filesystem::path& data_dir);

// K folds; fractured and fracture-free patients are each shuffled (seeded) and dealt round-robin, continuing the
// deal from one group to the next, so fold sizes differ by at most one and each group by at most one per fold.
// Throws UsageError when k < 2 or there are fewer patients than folds.
std::vector<Fold> make_folds(const std::map<std::string, bool>& patients, int k, uint64_t seed);

// Writes <dir>/fold_<K>.yaml for every fold, atomically; returns the paths. A fold file that exists with other
// content is a UsageError naming it (nothing written) unless `overwrite`.
std::vector<std::filesystem::path> write_folds(const std::vector<Fold>& folds, const std::filesystem::path& dir,
                                               bool overwrite = false);

}  // namespace vyolo
