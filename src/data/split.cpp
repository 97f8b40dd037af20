#include "data/split.h"

#include <algorithm>
#include <random>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/fs_util.h"

namespace fs = std::filesystem;

namespace vyolo {

std::string patient_id(const std::string& file_name) {
  const auto us = file_name.find('_');
  if (us != std::string::npos) return file_name.substr(0, us);
  return fs::path(file_name).stem().string();
}

namespace {

bool has_box(const fs::path& label) {
  const std::string text = read_file(label);
  for (char ch : text)
    if (!std::isspace(static_cast<unsigned char>(ch))) return true;
  return false;
}

bool is_image(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp" || e == ".tif" || e == ".tiff";
}

void scan_dir(const fs::path& dir, std::map<std::string, bool>& out, bool labels, bool images) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    if (name[0] == '.') continue;
    if (labels && p.extension() == ".txt") {
      bool& f = out[patient_id(name)];
      f = f || has_box(p);
    } else if (images && is_image(p)) {
      out.emplace(patient_id(name), false);
    }
  }
}

}  // namespace

std::map<std::string, bool> scan_patients(const fs::path& data_dir) {
  if (!fs::is_directory(data_dir)) throw RuntimeError("data folder " + data_dir.string() + " does not exist");
  std::map<std::string, bool> out;
  if (fs::is_directory(data_dir / "images") || fs::is_directory(data_dir / "labels")) {
    scan_dir(data_dir / "labels", out, true, false);
    scan_dir(data_dir / "images", out, false, true);
  } else {
    scan_dir(data_dir, out, true, true);
  }
  if (out.empty()) throw RuntimeError("no image or label files under " + data_dir.string());
  return out;
}

std::vector<Fold> make_folds(const std::map<std::string, bool>& patients, int k, uint64_t seed) {
  if (k < 2) throw UsageError("folds must be >= 2, got " + std::to_string(k));
  if (static_cast<int>(patients.size()) < k)
    throw UsageError("" + std::to_string(patients.size()) + " patients cannot fill " + std::to_string(k) +
                     " folds");
  std::vector<std::string> groups[2];
  for (auto& [p, f] : patients) groups[f ? 0 : 1].push_back(p);  // map order: sorted
  // Fisher-Yates with raw mt19937_64 output: the same on every standard library.
  std::mt19937_64 g(seed);
  std::vector<std::vector<std::string>> val(k);
  int next = 0;
  for (auto& grp : groups) {
    for (size_t i = grp.size(); i > 1; --i) std::swap(grp[i - 1], grp[g() % i]);
    for (auto& p : grp) val[next++ % k].push_back(p);
  }
  std::vector<Fold> folds(k);
  for (int f = 0; f < k; ++f) {
    folds[f].fold_id = f;
    folds[f].val_patients = val[f];
    std::sort(folds[f].val_patients.begin(), folds[f].val_patients.end());
    for (int o = 0; o < k; ++o)
      if (o != f) folds[f].train_patients.insert(folds[f].train_patients.end(), val[o].begin(), val[o].end());
    std::sort(folds[f].train_patients.begin(), folds[f].train_patients.end());
  }
  return folds;
}

std::vector<fs::path> write_folds(const std::vector<Fold>& folds, const fs::path& dir, bool overwrite) {
  std::vector<std::pair<fs::path, std::string>> files;
  for (const Fold& f : folds) {
    YAML::Emitter e;
    e << YAML::BeginMap << YAML::Key << "fold_id" << YAML::Value << f.fold_id;
    for (auto* kv : {&f.train_patients, &f.val_patients}) {
      e << YAML::Key << (kv == &f.train_patients ? "train_patients" : "val_patients") << YAML::Value;
      if (kv->empty()) e << YAML::Flow;
      e << YAML::BeginSeq;
      for (auto& p : *kv) e << YAML::DoubleQuoted << p;
      e << YAML::EndSeq;
    }
    e << YAML::EndMap;
    files.emplace_back(dir / ("fold_" + std::to_string(f.fold_id) + ".yaml"), std::string(e.c_str()) + "\n");
  }
  // Every file is checked before any is written: a refused split leaves the folder as it was.
  std::string differing;
  for (const auto& [p, text] : files) {
    std::error_code ec;
    if (!overwrite && fs::exists(p, ec) && read_file(p) != text) differing += "\n  " + p.string();
  }
  if (!differing.empty())
    throw UsageError("these fold files exist with other patients (pass overwrite=true to replace them):" + differing);
  std::vector<fs::path> paths;
  for (const auto& [p, text] : files) {
    write_file_atomic(p, text);
    paths.push_back(p);
  }
  return paths;
}

}  // namespace vyolo
