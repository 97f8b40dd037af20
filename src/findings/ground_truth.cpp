#include "findings/ground_truth.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs_util.h"

namespace vyolo::findings {

namespace {

int to_label(float v) { return int(std::lround(v)); }

int slice_axis_of(View v) { return v == View::Axial ? 2 : v == View::Coronal ? 1 : 0; }

std::string lower(std::string s) {
  for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n\"'");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n\"'");
  return s.substr(a, b - a + 1);
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    else if ((ch == ',' || ch == ';') && !quoted) out.push_back(trim(cur)), cur.clear();
    else cur += ch;
  }
  out.push_back(trim(cur));
  return out;
}

bool is_missing(const std::string& v) {
  std::string l = lower(v);
  return l.empty() || l == "nan" || l == "na" || l == "-" || l == "none" || l == "null";
}

// Grade from a cell; throws with the place on anything but an integer-valued number.
int parse_grade(const std::string& cell, const std::string& where) {
  try {
    size_t used = 0;
    double g = std::stod(cell, &used);
    if (used != cell.size() || g < 0 || g != std::floor(g)) throw std::invalid_argument("");
    return int(g);
  } catch (const std::exception&) {
    throw RuntimeError(where + ": grade '" + cell + "' is not a non-negative integer");
  }
}

std::string vertebra_from_cell(const std::string& cell, const std::string& where) {
  std::string n = normalize_vertebra_name(cell);
  if (!n.empty()) return n;
  try {
    size_t used = 0;
    int l = std::stoi(cell, &used);
    if (used == cell.size()) n = vertebra_name(l, LabelScheme::Verse);
  } catch (const std::exception&) {
  }
  if (n.empty()) throw RuntimeError(where + ": '" + cell + "' does not name a vertebra");
  return n;
}

void sort_truth(std::vector<VertebraTruth>& v) {
  std::stable_sort(v.begin(), v.end(), [](const VertebraTruth& a, const VertebraTruth& b) {
    return vertebra_rank(a.name) < vertebra_rank(b.name);
  });
}

GradeTable read_grade_csv(const std::filesystem::path& path, const std::string& text) {
  GradeTable t;
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> header;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (trim(line).empty()) continue;
    header = split_csv(line);
    break;
  }
  if (header.empty()) throw RuntimeError(path.string() + ": empty grade file");
  int c_case = -1, c_vert = -1, c_grade = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    std::string h = lower(header[i]);
    if (c_case < 0 && (h == "case" || h == "case_id" || h == "subject" || h == "patient" || h == "patient_id" ||
                       h == "verse_id" || h == "id"))
      c_case = int(i);
    else if (c_vert < 0 && (h == "vertebra" || h == "label" || h == "level"))
      c_vert = int(i);
    else if (c_grade < 0 && (h == "grade" || h == "genant" || h == "genant_grade" || h == "fx-g" || h == "fx_grade"))
      c_grade = int(i);
  }
  const bool long_form = c_vert >= 0 && c_grade >= 0;
  std::vector<std::pair<int, std::string>> wide_cols;  // column -> vertebra name
  if (!long_form) {
    if (c_case < 0) c_case = 0;
    for (size_t i = 0; i < header.size(); ++i) {
      if (int(i) == c_case) continue;
      std::string h = header[i];
      size_t cut = h.find_first_of("_- ");
      std::string n = normalize_vertebra_name(cut == std::string::npos ? h : h.substr(0, cut));
      if (!n.empty()) wide_cols.push_back({int(i), n});
    }
    if (wide_cols.empty())
      throw RuntimeError(path.string() + ":" + std::to_string(lineno) +
                         ": header has neither vertebra/grade columns nor columns named by vertebra (L1, T12, ...)");
  } else if (c_case < 0) {
    throw RuntimeError(path.string() + ":" + std::to_string(lineno) + ": header has no case column");
  }
  while (std::getline(in, line)) {
    ++lineno;
    if (trim(line).empty()) continue;
    auto cells = split_csv(line);
    const std::string where = path.string() + ":" + std::to_string(lineno);
    auto cell = [&](int c) { return c < int(cells.size()) ? cells[size_t(c)] : std::string(); };
    std::string case_id = cell(c_case);
    if (case_id.empty()) throw RuntimeError(where + ": empty case id");
    if (long_form) {
      if (is_missing(cell(c_grade))) continue;
      t[case_id][vertebra_from_cell(cell(c_vert), where)] = parse_grade(cell(c_grade), where);
    } else {
      auto& row = t[case_id];
      for (const auto& [c, n] : wide_cols)
        if (!is_missing(cell(c))) row[n] = parse_grade(cell(c), where);
    }
  }
  return t;
}

GradeTable read_grade_json(const std::filesystem::path& path, const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw RuntimeError(path.string() + ": not valid JSON: " + e.what());
  }
  GradeTable t;
  auto grade_of = [&](const nlohmann::json& g, const std::string& where) -> int {
    if (g.is_null()) return -1;
    if (g.is_number()) return parse_grade(g.dump(), where);
    if (g.is_string()) return is_missing(g.get<std::string>()) ? -1 : parse_grade(g.get<std::string>(), where);
    throw RuntimeError(where + ": grade is neither a number nor a string");
  };
  if (j.is_object()) {
    for (const auto& [case_id, row] : j.items()) {
      if (!row.is_object()) throw RuntimeError(path.string() + ": entry '" + case_id + "' is not an object");
      for (const auto& [v, g] : row.items()) {
        std::string where = path.string() + ": " + case_id + "/" + v;
        int grade = grade_of(g, where);
        if (grade >= 0) t[case_id][vertebra_from_cell(v, where)] = grade;
      }
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      const auto& e = j[i];
      std::string where = path.string() + ": entry " + std::to_string(i);
      if (!e.is_object() || !e.contains("vertebra") || !e.contains("grade"))
        throw RuntimeError(where + ": expected an object with case, vertebra and grade");
      std::string case_id;
      for (const char* k : {"case", "case_id", "subject", "patient", "id"})
        if (e.contains(k)) {
          case_id = e[k].is_string() ? e[k].get<std::string>() : e[k].dump();
          break;
        }
      if (case_id.empty()) throw RuntimeError(where + ": no case id");
      std::string v = e["vertebra"].is_string() ? e["vertebra"].get<std::string>() : e["vertebra"].dump();
      int grade = grade_of(e["grade"], where);
      if (grade >= 0) t[case_id][vertebra_from_cell(v, where)] = grade;
    }
  } else {
    throw RuntimeError(path.string() + ": expected a JSON object or array of grades");
  }
  return t;
}

}  // namespace

std::vector<int> slice_labels(const Volume& fracture, View view) {
  const int ax = slice_axis_of(view);
  std::vector<int> out(size_t(fracture.dims[size_t(ax)]), 0);
  for (int k = 0; k < fracture.dims[2]; ++k)
    for (int j = 0; j < fracture.dims[1]; ++j)
      for (int i = 0; i < fracture.dims[0]; ++i)
        if (to_label(fracture.at(i, j, k)) > 0) out[size_t(ax == 2 ? k : ax == 1 ? j : i)] = 1;
  return out;
}

StudyTruth truth_from_masks(const std::string& case_id, const Volume& fracture, const Volume* vertebrae,
                            LabelScheme scheme, View view) {
  if (fracture.voxels.size() != fracture.size())
    throw RuntimeError(case_id + ": fracture mask voxel buffer does not match its dims");
  if (vertebrae && vertebrae->dims != fracture.dims)
    throw RuntimeError(case_id + ": the vertebra mask and the fracture mask lie on different grids");
  StudyTruth t;
  t.case_id = case_id;
  t.view = view;
  std::map<int, Lesion> lesions;
  std::map<int, std::map<std::string, long long>> lesion_in;  // lesion -> vertebra -> voxels
  std::map<std::string, VertebraTruth> verts;
  VertebraNames names(scheme);
  std::vector<char> seen;  // by vertebra label
  const float* fp = fracture.voxels.data();
  const float* vp = vertebrae ? vertebrae->voxels.data() : nullptr;
  for (int k = 0; k < fracture.dims[2]; ++k)
    for (int j = 0; j < fracture.dims[1]; ++j)
      for (int i = 0; i < fracture.dims[0]; ++i) {
        const float fx = *fp++;
        const float vx = vp ? *vp++ : 0.f;
        int vl = 0;
        if (vx >= 0.5f && vx < 65535.5f) {
          vl = to_label(vx);
          if (size_t(vl) >= seen.size()) seen.resize(size_t(vl) + 1, 0);
          if (!seen[size_t(vl)]) {
            seen[size_t(vl)] = 1;
            const std::string& n = names(vl);
            if (!n.empty()) verts[n] = {n, vl, false, -1};
          }
        }
        if (fx < 0.5f) continue;
        const int f = to_label(fx);
        const std::string& vname = names(vl);
        auto it = lesions.find(f);
        if (it == lesions.end()) {
          Lesion l;
          l.id = f;
          l.extent.lo = l.extent.hi = {i, j, k};
          it = lesions.emplace(f, l).first;
        }
        auto& e = it->second.extent;
        e.lo = {std::min(e.lo[0], i), std::min(e.lo[1], j), std::min(e.lo[2], k)};
        e.hi = {std::max(e.hi[0], i), std::max(e.hi[1], j), std::max(e.hi[2], k)};
        it->second.voxels++;
        if (!vname.empty()) {
          verts[vname].fractured = true;
          lesion_in[f][vname]++;
        }
      }
  for (auto& [id, l] : lesions) {
    long long best = 0;
    for (const auto& [n, c] : lesion_in[id])
      if (c > best) best = c, l.vertebra = n;
    t.lesions.push_back(l);
  }
  for (auto& [n, v] : verts) t.vertebrae.push_back(v);
  sort_truth(t.vertebrae);
  t.patient_fractured = !lesions.empty();
  t.slice_labels = slice_labels(fracture, view);
  return t;
}

GradeTable read_grade_file(const std::filesystem::path& path) {
  std::string text = read_file(path);
  std::string ext = lower(path.extension().string());
  if (ext == ".json") return read_grade_json(path, text);
  return read_grade_csv(path, text);
}

StudyTruth truth_from_grades(const GradeTable& table, const std::string& case_id, int min_grade) {
  auto it = table.find(case_id);
  if (it == table.end()) throw RuntimeError("grade file has no row for case '" + case_id + "'");
  StudyTruth t;
  t.case_id = case_id;
  for (const auto& [name, grade] : it->second) {
    VertebraTruth v;
    v.name = name;
    v.grade = grade;
    v.fractured = grade >= min_grade;
    t.patient_fractured = t.patient_fractured || v.fractured;
    t.vertebrae.push_back(v);
  }
  sort_truth(t.vertebrae);
  return t;
}

std::vector<int> match_lesions(const std::vector<Candidate>& candidates, const Volume& fracture) {
  std::vector<int> out;
  for (const auto& c : candidates) {
    std::map<int, long long> count;
    for (const auto& b0 : c.footprint) {
      VoxelBox b = b0;
      for (int a = 0; a < 3; ++a) b.lo[a] = std::max(b.lo[a], 0), b.hi[a] = std::min(b.hi[a], fracture.dims[a] - 1);
      if (b.empty()) continue;
      for (int k = b.lo[2]; k <= b.hi[2]; ++k)
        for (int j = b.lo[1]; j <= b.hi[1]; ++j)
          for (int i = b.lo[0]; i <= b.hi[0]; ++i) {
            int f = to_label(fracture.at(i, j, k));
            if (f > 0) count[f]++;
          }
    }
    int best = -1;
    long long n = 0;
    for (const auto& [f, cnt] : count)
      if (cnt > n) best = f, n = cnt;
    out.push_back(best);
  }
  return out;
}

}  // namespace vyolo::findings
