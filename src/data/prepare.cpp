#include "data/prepare.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/fs_util.h"
#include "common/json_text.h"
#include "data/hu_window.h"
#include "data/png_encode.h"
#include "data/slicing.h"
#include "data/study_folder.h"
#include "data/vertebra_labels.h"
#include "data/volume.h"

namespace fs = std::filesystem;

namespace vyolo {

using json = nlohmann::json;

namespace {

struct CaseInput {
  std::string id;
  fs::path dir, ct, vertebrae, fracture;  // empty when absent
  fs::path mask_dir;                      // upstream slice layout: <view>_mask/<case>
  bool slice_layout = false;
};

CaseInput describe_case(const StudyFiles& f) {
  CaseInput c;
  c.dir = f.dir;
  c.id = f.id;
  std::replace(c.id.begin(), c.id.end(), '_', '-');
  c.ct = f.ct;
  c.vertebrae = f.vertebrae;
  c.fracture = f.fracture;
  return c;
}

// The upstream slice layout: [slice_train/]<view>/<case>/<vertebra>/slice_NNN.nii with masks in <view>_mask/.
std::vector<CaseInput> find_slice_cases(const fs::path& source, const std::string& view) {
  for (const fs::path& root : {source / "slice_train", source}) {
    if (!fs::is_directory(root / view)) continue;
    std::vector<fs::path> dirs;
    for (auto& e : fs::directory_iterator(root / view))
      if (e.is_directory() && e.path().filename().string()[0] != '.') dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    std::vector<CaseInput> cases;
    for (auto& d : dirs) {
      CaseInput c;
      c.dir = d;
      c.id = d.filename().string();
      std::replace(c.id.begin(), c.id.end(), '_', '-');
      c.mask_dir = root / (view + "_mask") / d.filename();
      c.slice_layout = true;
      cases.push_back(c);
    }
    return cases;
  }
  return {};
}

std::vector<CaseInput> find_cases(const fs::path& source, const std::string& view) {
  if (!fs::is_directory(source)) throw RuntimeError("source " + source.string() + " is not a folder");
  {
    auto sl = find_slice_cases(source, view);
    if (!sl.empty()) return sl;
  }
  std::vector<CaseInput> cases;
  for (const auto& f : find_study_folders(source)) cases.push_back(describe_case(f));
  return cases;
}

// A crop of the canonical volume: a vertebra's box + margin, or the whole volume.
struct Region : SliceRegion {
  std::string name;
  int label = 0;  // vertebra label, 0 = any
};

std::string slice_name(const std::string& id, const std::string& vert, int s) {
  char b[32];
  std::snprintf(b, sizeof b, "%03d", s);
  return id + "_" + vert + "_slice_" + b;
}

uint64_t fnv(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

json file_sig(const fs::path& p) {
  json j;
  j["path"] = p.string();
  std::error_code ec;
  if (fs::is_directory(p)) {
    uintmax_t total = 0;
    long n = 0;
    for (auto it = fs::recursive_directory_iterator(p, ec); it != fs::recursive_directory_iterator(); ++it)
      if (it->is_regular_file()) total += it->file_size(), ++n;
    j["files"] = n;
    j["bytes"] = total;
  } else {
    j["bytes"] = fs::file_size(p, ec);
  }
  auto t = fs::last_write_time(p, ec);
  j["mtime"] = static_cast<long long>(t.time_since_epoch().count());
  return j;
}

// The slicing recipe both the done markers and stats.json record: what decides which slices and pixels a case yields.
// (json objects sort their keys, so the order of fields here does not change either file.)
json recipe_json(const PrepareOptions& o) {
  json j;
  j["view"] = o.view;
  j["image_size"] = o.image_size;
  j["mode"] = o.mode;
  j["crop"] = o.crop;
  j["margin"] = o.margin;
  j["vertebra_labels"] = o.vertebra_labels;
  return j;
}

// Slice and box counts, as both the per-case markers and stats.json keep them.
void put_counts(json& j, const PrepareStats& s) {
  j["slices"] = s.slices;
  j["slices_with_fracture"] = s.slices_with_fracture;
  j["boxes"] = s.boxes;
  json h = json::object();
  for (auto& [k, v] : s.boxes_per_slice) h[std::to_string(k)] = v;
  j["boxes_per_slice"] = h;
}

std::string fingerprint(const CaseInput& c, const PrepareOptions& o) {
  json j = recipe_json(o);
  j["keep"] = o.keep;
  j["max_negatives"] = o.max_negatives;
  j["allow_unlabeled"] = o.allow_unlabeled;
  j["seed"] = o.seed;
  if (o.mode == "slab") j["slab_window"] = o.slab_window;
  if (o.mode == "windowed" || o.mode == "slab")
    j["hu_windows"] = {o.hu_windows.bone.min, o.hu_windows.bone.max, o.hu_windows.soft_tissue.min,
                       o.hu_windows.soft_tissue.max, o.hu_windows.wide.min, o.hu_windows.wide.max};
  j["rules"] = {o.rules.min_side, o.rules.min_area, o.rules.max_aspect};
  for (const fs::path* p : {&c.ct, &c.vertebrae, &c.fracture, &c.dir, &c.mask_dir})
    if (!p->empty() && (p == &c.ct || p == &c.vertebrae || p == &c.fracture || c.slice_layout))
      j["inputs"].push_back(file_sig(*p));
  return json_text(j);  // paths need not be UTF-8
}

json stats_to_json(const PrepareStats& s) {
  json j;
  put_counts(j, s);
  j["box_w"] = s.box_w;
  j["box_h"] = s.box_h;
  j["rules"] = {{"kept", s.rules.kept},
                {"grown", s.rules.grown},
                {"dropped_area", s.rules.dropped_area},
                {"dropped_aspect", s.rules.dropped_aspect}};
  return j;
}

// A count from a done marker: a JSON integer in 0..1e15 (so that sums over cases cannot overflow).
long count_in(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_number_integer() || (v.is_number_unsigned() ? v.get<unsigned long long>() > 1000000000000000ull
                                                          : v.get<long long>() < 0 || v.get<long long>() > 1000000000000000ll))
    throw RuntimeError(std::string("'") + key + "' is not a count");
  return static_cast<long>(v.get<long long>());
}

std::vector<double> sizes_in(const json& j, const char* key) {
  std::vector<double> out;
  for (const auto& v : j.at(key)) {
    if (!v.is_number()) throw RuntimeError(std::string("'") + key + "' holds a value that is not a number");
    out.push_back(v.get<double>());
  }
  return out;
}

PrepareStats stats_from_json(const json& j) {
  PrepareStats s;
  s.slices = count_in(j, "slices");
  s.slices_with_fracture = count_in(j, "slices_with_fracture");
  s.boxes = count_in(j, "boxes");
  const json& per_slice = j.at("boxes_per_slice");
  if (!per_slice.is_object()) throw RuntimeError("'boxes_per_slice' is not an object");
  for (auto& [k, v] : per_slice.items()) {
    // Keys are what std::to_string(int) wrote: decimal digits, no sign.
    if (k.empty() || k.size() > 9 || k.find_first_not_of("0123456789") != std::string::npos)
      throw RuntimeError("'boxes_per_slice' key '" + k + "' is not a box count");
    s.boxes_per_slice[std::stoi(k)] = count_in(per_slice, k.c_str());
  }
  s.box_w = sizes_in(j, "box_w");
  s.box_h = sizes_in(j, "box_h");
  if (s.box_w.size() != s.box_h.size()) throw RuntimeError("'box_w' and 'box_h' differ in length");
  const json& r = j.at("rules");
  s.rules.kept = count_in(r, "kept");
  s.rules.grown = count_in(r, "grown");
  s.rules.dropped_area = count_in(r, "dropped_area");
  s.rules.dropped_aspect = count_in(r, "dropped_aspect");
  return s;
}

// Removes outputs of an earlier, unfinished or differently configured run of this case.
void remove_case_outputs(const fs::path& out, const std::string& view, const std::string& id) {
  const std::string prefix = id + "_";
  for (const char* sub : {"images", "labels"}) {
    const fs::path d = out / sub / view;
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    std::vector<fs::path> victims;
    for (auto& e : fs::directory_iterator(d, ec))
      if (e.path().filename().string().compare(0, prefix.size(), prefix) == 0) victims.push_back(e.path());
    for (auto& p : victims) fs::remove(p, ec);
  }
}

void check_finite(const Volume& v, const fs::path& p) {
  for (size_t i = 0; i < v.voxels.size(); ++i)
    if (!std::isfinite(v.voxels[i]))
      throw RuntimeError(p.string() + ": NaN or infinite voxel values (first at voxel " + std::to_string(i) + ")");
}

std::string dims_text(const Volume& v) {
  return std::to_string(v.dims[0]) + "x" + std::to_string(v.dims[1]) + "x" + std::to_string(v.dims[2]);
}

// Reads a mask and brings it to canonical orientation; it must lie on the (canonical) CT grid.
Volume read_mask(const fs::path& p, const Volume& ct, const fs::path& ct_path) {
  Volume m = read_volume(p);
  check_finite(m, p);
  m = to_canonical(m);
  if (m.dims != ct.dims)
    throw RuntimeError(p.string() + ": mask shape " + dims_text(m) + " differs from CT shape " + dims_text(ct) +
                       " (" + ct_path.string() + ")");
  if (affine_distance(m.affine, ct.affine) > 0.05 * std::max(1.0, ct.spacing[2]))
    throw RuntimeError(p.string() + ": mask orientation/position differs from the CT's (" + ct_path.string() + ")");
  return m;
}

struct CaseResult {
  PrepareStats stats;
  std::vector<std::string> files;
};

// Writes one slice image and its label file, and counts them.
void emit(CaseResult& res, const std::string& name, const cv::Mat& img, const std::vector<InstanceBox>& boxes,
          const PrepareOptions& o) {
  write_file_atomic(o.out / "images" / o.view / (name + ".png"), encode_png(img, o.png_compression));
  std::string lines;
  for (const InstanceBox& b : boxes) lines += yolo_line(b, img.cols, img.rows) + "\n";
  write_file_atomic(o.out / "labels" / o.view / (name + ".txt"), lines);
  res.files.push_back(name);
  PrepareStats& st = res.stats;
  ++st.slices;
  st.slices_with_fracture += !boxes.empty();
  st.boxes += static_cast<long>(boxes.size());
  st.rules.kept += static_cast<long>(boxes.size());
  ++st.boxes_per_slice[static_cast<int>(boxes.size())];
  for (const InstanceBox& b : boxes) st.box_w.push_back(b.w()), st.box_h.push_back(b.h());
}

// Keeps every positive slice and at most max_negatives negatives (seeded choice), ordered by slice index.
template <typename T>
std::vector<T> cap_negatives(std::vector<T> pos, std::vector<T> neg, const PrepareOptions& o, const std::string& key) {
  if (o.max_negatives >= 0 && static_cast<int>(neg.size()) > o.max_negatives) {
    std::mt19937_64 g(o.seed ^ fnv(key));
    for (size_t i = neg.size(); i > 1; --i) std::swap(neg[i - 1], neg[g() % i]);
    neg.resize(o.max_negatives);
  }
  pos.insert(pos.end(), std::make_move_iterator(neg.begin()), std::make_move_iterator(neg.end()));
  std::sort(pos.begin(), pos.end(), [](const T& a, const T& b) { return a.s < b.s; });
  return pos;
}

// 2-D NIfTI slice (upstream layout) -> CV_32F rows = second axis, cols = first axis, as stored.
cv::Mat read_slice(const fs::path& p) {
  Volume v = read_nifti(p);
  if (v.dims[2] != 1) throw RuntimeError(p.string() + ": expected a 2-D slice, got " + std::to_string(v.dims[2]) +
                                         " slices");
  return cv::Mat(v.dims[1], v.dims[0], CV_32FC1, v.voxels.data()).clone();
}

CaseResult process_slice_case(const CaseInput& c, const PrepareOptions& o) {
  if (o.mode == "slab") throw RuntimeError(c.dir.string() + ": mode=slab needs volumes, not single slices");
  CaseResult res;
  std::vector<fs::path> verts;
  for (auto& e : fs::directory_iterator(c.dir))
    if (e.is_directory()) verts.push_back(e.path());
  std::sort(verts.begin(), verts.end());
  if (verts.empty()) throw RuntimeError(c.dir.string() + ": no vertebra folders with slices");
  struct SliceInfo {
    int s;
    fs::path file;
    std::vector<InstanceBox> boxes;
  };
  for (const fs::path& vd : verts) {
    std::string vname = vd.filename().string();
    std::replace(vname.begin(), vname.end(), '_', '-');
    std::vector<SliceInfo> pos, neg;
    BoxCounts counts;
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(vd)) {
      const std::string n = e.path().filename().string();
      if (e.is_regular_file() && (n.size() > 4 && (n.substr(n.size() - 4) == ".nii" || n.substr(n.size() - 7) == ".nii.gz")))
        files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (size_t f = 0; f < files.size(); ++f) {
      const std::string n = files[f].filename().string();
      const auto d0 = n.find_first_of("0123456789");
      SliceInfo info{d0 == std::string::npos ? static_cast<int>(f) : std::atoi(n.c_str() + d0), files[f], {}};
      const fs::path mask = c.mask_dir / vd.filename() / n;
      if (fs::exists(mask)) {
        cv::Mat m = read_slice(mask);
        cv::Mat hu = read_slice(files[f]);
        if (m.size() != hu.size())
          throw RuntimeError(mask.string() + ": mask shape differs from its slice " + files[f].string());
        cv::Mat m16;
        m.convertTo(m16, CV_16U);
        info.boxes = mask_to_boxes(letterbox(m16, o.image_size, cv::INTER_NEAREST, 0), o.rules, &counts);
      } else if (!o.allow_unlabeled) {
        throw RuntimeError(mask.string() + ": missing fracture mask slice (pass allow_unlabeled=true to treat "
                           "slices without mask as fracture-free)");
      }
      (info.boxes.empty() ? neg : pos).push_back(std::move(info));
    }
    res.stats.rules.grown += counts.grown;
    res.stats.rules.dropped_area += counts.dropped_area;
    res.stats.rules.dropped_aspect += counts.dropped_aspect;
    for (const SliceInfo& info : cap_negatives(std::move(pos), std::move(neg), o, c.id + "_" + vname)) {
      cv::Mat hu = read_slice(info.file);
      double mn;
      cv::minMaxLoc(hu, &mn, nullptr);
      cv::Mat img = hu_to_u16(letterbox(hu, o.image_size, cv::INTER_LINEAR, mn));
      if (o.mode == "windowed") img = window_hu(img, o.hu_windows);
      emit(res, slice_name(c.id, vname, info.s), img, info.boxes, o);
    }
  }
  return res;
}

CaseResult process_case(const CaseInput& c, const PrepareOptions& o) {
  if (c.slice_layout) return process_slice_case(c, o);
  CaseResult res;
  if (c.ct.empty()) throw RuntimeError(c.dir.string() + ": no CT (ct.nii.gz, ct.nii, ct/ or dicom/)");
  const bool need_vert = o.crop == "vertebra" || o.keep == "vertebrae";
  if (need_vert && c.vertebrae.empty())
    throw RuntimeError(c.dir.string() + ": missing vertebra mask (vertebrae.nii.gz), needed for crop=vertebra / "
                       "keep=vertebrae");
  if (c.fracture.empty() && !o.allow_unlabeled)
    throw RuntimeError(c.dir.string() + ": missing fracture mask (fracture.nii.gz); pass allow_unlabeled=true to "
                       "treat the case as fracture-free");
  Volume ct = read_volume(c.ct);
  check_finite(ct, c.ct);
  ct = to_canonical(ct);
  Volume vert, frac;
  if (!c.vertebrae.empty() && need_vert) vert = read_mask(c.vertebrae, ct, c.ct);
  if (!c.fracture.empty()) frac = read_mask(c.fracture, ct, c.ct);

  const int axis = view_axis(o.view);
  const int n_axis = ct.dims[axis];
  const auto [sy, sx] = slice_spacing(ct, axis);
  const VertebraLabels scheme = parse_vertebra_labels(o.vertebra_labels);

  // Vertebra bounding boxes and per-slice presence along the view axis, in one pass.
  std::map<int, Region> boxes;
  std::map<int, std::vector<char>> present;  // label (0 = any vertebra) -> slice -> has voxels
  if (!vert.voxels.empty()) {
    std::vector<int> is_vert(1, 0);
    for (int k = 0; k < ct.dims[2]; ++k)
      for (int j = 0; j < ct.dims[1]; ++j)
        for (int i = 0; i < ct.dims[0]; ++i) {
          const int l = static_cast<int>(vert.at(i, j, k) + 0.5f);
          if (l <= 0) continue;
          if (l >= static_cast<int>(is_vert.size())) {
            const size_t old = is_vert.size();
            is_vert.resize(l + 1);
            for (size_t t = old; t < is_vert.size(); ++t)
              is_vert[t] = vertebra_name(static_cast<int>(t), scheme).empty() ? 0 : 1;
          }
          if (!is_vert[l]) continue;
          auto it = boxes.find(l);
          if (it == boxes.end()) {
            Region r;
            r.label = l;
            r.name = vertebra_name(l, scheme);
            r.lo[0] = r.hi[0] = i, r.lo[1] = r.hi[1] = j, r.lo[2] = r.hi[2] = k;
            boxes[l] = r;
            present[l].assign(n_axis, 0);
          } else {
            Region& r = it->second;
            const int p[3] = {i, j, k};
            for (int a = 0; a < 3; ++a) r.lo[a] = std::min(r.lo[a], p[a]), r.hi[a] = std::max(r.hi[a], p[a]);
          }
          const int s = axis == 0 ? i : axis == 1 ? j : k;
          present[l][s] = 1;
          if (present[0].empty()) present[0].assign(n_axis, 0);
          present[0][s] = 1;
        }
  }
  std::vector<Region> regions;
  if (o.crop == "vertebra") {
    if (boxes.empty())
      throw RuntimeError(c.vertebrae.string() + ": no vertebra labels of the '" + o.vertebra_labels +
                         "' label map in the mask (wrong vertebra_labels=?)");
    for (auto& [l, r0] : boxes) {
      Region r = r0;
      for (int a = 0; a < 3; ++a) {
        r.lo[a] = std::max(0, r.lo[a] - o.margin);
        r.hi[a] = std::min(ct.dims[a] - 1, r.hi[a] + o.margin);
      }
      regions.push_back(r);
    }
  } else {
    Region r;
    r.name = "all";
    for (int a = 0; a < 3; ++a) r.lo[a] = 0, r.hi[a] = ct.dims[a] - 1;
    regions.push_back(r);
  }

  PrepareStats& st = res.stats;
  for (const Region& r : regions) {
    // Pass 1: which slices, and their boxes.
    struct SliceInfo {
      int s;
      std::vector<InstanceBox> boxes;
    };
    std::vector<SliceInfo> pos, neg;
    BoxCounts counts;
    for (int s = r.lo[axis]; s <= r.hi[axis]; ++s) {
      if (o.keep == "vertebrae") {
        auto it = present.find(r.label);
        if (it == present.end() || !it->second[s]) continue;
      }
      SliceInfo info{s, {}};
      if (!frac.voxels.empty()) {
        cv::Mat fm = extract_slice(frac, axis, s, r);
        double mx;
        cv::minMaxLoc(fm, nullptr, &mx);
        if (mx > 0) {
          cv::Mat m16;
          fm.convertTo(m16, CV_16U);
          info.boxes = mask_to_boxes(letterbox(m16, o.image_size, cv::INTER_NEAREST, 0, sy, sx), o.rules, &counts);
        }
      }
      (info.boxes.empty() ? neg : pos).push_back(std::move(info));
    }
    const std::vector<SliceInfo> keep = cap_negatives(std::move(pos), std::move(neg), o, c.id + "_" + r.name);
    st.rules.grown += counts.grown;
    st.rules.dropped_area += counts.dropped_area;
    st.rules.dropped_aspect += counts.dropped_aspect;

    // Pass 2: write.
    for (const SliceInfo& info : keep) {
      cv::Mat hu = extract_slice(ct, axis, info.s, r);
      double mn;
      cv::minMaxLoc(hu, &mn, nullptr);
      cv::Mat img;
      if (o.mode == "slab") {
        const HuWindow& w = o.slab_window == "soft_tissue" ? o.hu_windows.soft_tissue
                            : o.slab_window == "wide"      ? o.hu_windows.wide
                                                           : o.hu_windows.bone;
        std::vector<cv::Mat> ch;
        for (int n : {1, 15, 31})
          ch.push_back(window_hu_channel(
              hu_to_u16(letterbox(n == 1 ? hu : slab_mean(ct, axis, info.s, n, r), o.image_size, cv::INTER_LINEAR,
                                  mn, sy, sx)),
              w));
        cv::merge(ch, img);
      } else {
        img = hu_to_u16(letterbox(hu, o.image_size, cv::INTER_LINEAR, mn, sy, sx));
        if (o.mode == "windowed") img = window_hu(img, o.hu_windows);
      }
      emit(res, slice_name(c.id, r.name, info.s), img, info.boxes, o);
    }
  }
  return res;
}

json summary_stats(const std::vector<double>& v) {
  if (v.empty()) return json{{"count", 0}};
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  double sum = 0;
  for (double x : s) sum += x;
  return json{{"count", s.size()}, {"min", s.front()}, {"max", s.back()}, {"mean", sum / s.size()},
              {"median", s[s.size() / 2]}};
}

}  // namespace

void PrepareStats::add(const PrepareStats& o) {
  slices += o.slices;
  slices_with_fracture += o.slices_with_fracture;
  boxes += o.boxes;
  for (auto& [k, v] : o.boxes_per_slice) boxes_per_slice[k] += v;
  box_w.insert(box_w.end(), o.box_w.begin(), o.box_w.end());
  box_h.insert(box_h.end(), o.box_h.begin(), o.box_h.end());
  rules.kept += o.rules.kept;
  rules.grown += o.rules.grown;
  rules.dropped_area += o.rules.dropped_area;
  rules.dropped_aspect += o.rules.dropped_aspect;
}

void validate(const PrepareOptions& o) {
  if (o.source.empty()) throw UsageError("source=DIR is required");
  if (o.out.empty()) throw UsageError("out=DIR is required");
  if (o.view != "axial" && o.view != "coronal" && o.view != "sagittal")
    throw UsageError("view must be axial, coronal or sagittal, got '" + o.view + "'");
  if (o.mode != "hu16" && o.mode != "windowed" && o.mode != "slab")
    throw UsageError("mode must be hu16, windowed or slab, got '" + o.mode + "'");
  if (o.crop != "vertebra" && o.crop != "none")
    throw UsageError("crop must be vertebra or none, got '" + o.crop + "'");
  if (o.keep != "all" && o.keep != "vertebrae")
    throw UsageError("keep must be all or vertebrae, got '" + o.keep + "'");
  if (o.image_size < 0 || o.image_size > 8192) throw UsageError("image_size must be 0..8192");
  if (o.margin < 0) throw UsageError("margin must be >= 0");
  if (o.workers < 1 || o.workers > 64) throw UsageError("workers must be 1..64");
  if (o.png_compression < 0 || o.png_compression > 9) throw UsageError("png_compression must be 0..9");
  if (o.slab_window != "bone" && o.slab_window != "soft_tissue" && o.slab_window != "wide")
    throw UsageError("slab_window must be bone, soft_tissue or wide, got '" + o.slab_window + "'");
  parse_vertebra_labels(o.vertebra_labels);
}

PrepareStats prepare_dataset(const PrepareOptions& o, std::ostream* log) {
  validate(o);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<CaseInput> cases = find_cases(o.source, o.view);
  if (cases.empty()) throw RuntimeError("no case folders in " + o.source.string());
  {
    std::set<std::string> ids;
    for (auto& c : cases)
      if (!ids.insert(c.id).second)
        throw RuntimeError("two case folders map to the id '" + c.id + "' in " + o.source.string());
  }
  std::error_code ec;
  fs::create_directories(o.out / "images" / o.view, ec);
  fs::create_directories(o.out / "labels" / o.view, ec);
  fs::create_directories(o.out / ".prepare", ec);
  if (ec) throw RuntimeError("cannot create " + o.out.string() + ": " + ec.message());

  PrepareStats total;
  total.cases = static_cast<int>(cases.size());
  std::mutex mu;
  std::atomic<size_t> next{0};
  auto say = [&](const std::string& line) {
    if (log) *log << line << std::endl;
  };
  auto worker = [&]() {
    for (;;) {
      const size_t idx = next++;
      if (idx >= cases.size()) return;
      const CaseInput& c = cases[idx];
      const fs::path marker = o.out / ".prepare" / (c.id + "." + o.view + ".json");
      try {
        const std::string fp = fingerprint(c, o);
        if (fs::exists(marker)) {
          try {
            const DoneMarker m = parse_done_marker(read_file(marker), marker.string());
            bool complete = m.fingerprint == fp;
            // Outputs deleted since are made again.
            for (const auto& n : m.files) {
              if (!complete) break;
              complete = fs::exists(o.out / "images" / o.view / (n + ".png")) &&
                         fs::exists(o.out / "labels" / o.view / (n + ".txt"));
            }
            if (complete) {
              std::lock_guard<std::mutex> lock(mu);
              total.add(m.stats);
              ++total.cases_skipped;
              say("prepare: " + c.id + ": already done, skipped");
              continue;
            }
          } catch (const std::exception&) {
            // An unreadable marker means the case is redone.
          }
          fs::remove(marker);
        }
        remove_case_outputs(o.out, o.view, c.id);
        CaseResult r = process_case(c, o);
        json m;
        m["case"] = c.id;
        m["fingerprint"] = fp;
        m["stats"] = stats_to_json(r.stats);
        m["files"] = r.files;
        write_file_atomic(marker, json_text(m));
        std::lock_guard<std::mutex> lock(mu);
        total.add(r.stats);
        ++total.cases_done;
        say("prepare: " + c.id + ": " + std::to_string(r.stats.slices) + " slices, " +
            std::to_string(r.stats.boxes) + " boxes");
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        total.failures.emplace_back(c.id, e.what());
        say("prepare: FAILED " + c.id + ": " + e.what());
      }
    }
  };
  std::vector<std::thread> threads;
  const int n = std::min<int>(o.workers, static_cast<int>(cases.size()));
  for (int i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  std::sort(total.failures.begin(), total.failures.end());
  total.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const fs::path abs = fs::absolute(o.out).lexically_normal();
  std::ostringstream y;
  y << "path: " << abs.string() << "\n"
    << "train: images/" << o.view << "\n"
    << "val: images/" << o.view << "\n"
    << "nc: 1\n"
    << "names:\n  0: fracture\n";
  write_file_atomic(o.out / "data.yaml", y.str());
  write_file_atomic(o.out / "stats.json", stats_json(total, o));
  return total;
}

DoneMarker parse_done_marker(const std::string& text, const std::string& origin) {
  try {
    const json m = json::parse(text);
    if (!m.is_object()) throw RuntimeError("not a JSON object");
    DoneMarker d;
    d.fingerprint = m.at("fingerprint").get<std::string>();
    d.files = m.at("files").get<std::vector<std::string>>();
    const json& st = m.at("stats");
    if (!st.is_object()) throw RuntimeError("'stats' is not an object");
    d.stats = stats_from_json(st);
    return d;
  } catch (const std::exception& e) {
    throw RuntimeError(origin + ": unreadable done marker (" + e.what() + ")");
  }
}

StatsRecipe parse_stats_recipe(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    throw RuntimeError(origin + ": unreadable (" + e.what() + ")");
  }
  if (!j.is_object()) throw RuntimeError(origin + ": unreadable (not a JSON object)");
  StatsRecipe r;
  auto text_of = [&](const char* k, const char* as) {
    auto it = j.find(k);
    if (it != j.end()) r.recipe[as] = it->is_string() ? it->get<std::string>() : it->dump();
  };
  text_of("mode", "mode");
  text_of("crop", "crop");
  text_of("margin", "margin");
  text_of("slab_window", "slab_window");
  text_of("vertebra_labels", "vertebra_labels");
  text_of("source", "prepared_from");
  auto string_of = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  r.view = string_of("view");
  r.source = string_of("source");
  // Windowed PNGs carry prepare's windows in their pixels; data.hu_windows does not apply to them.
  auto windows = j.find("hu_windows");
  if (string_of("mode") == "windowed" && windows != j.end()) r.recipe["hu_windows"] = windows->dump();
  return r;
}

std::string stats_json(const PrepareStats& s, const PrepareOptions& o) {
  // The recipe, so a model trained on this set slices volumes the same way (the trainer copies it into checkpoints)
  // and `vyolo cv` can find the studies again for vertebra-level evaluation.
  std::error_code ec;
  const auto src = std::filesystem::absolute(o.source, ec);
  json j = recipe_json(o);
  j["source"] = (ec ? o.source : src).string();
  j["slab_window"] = o.slab_window;
  j["hu_windows"] = {{"bone", {{"min", o.hu_windows.bone.min}, {"max", o.hu_windows.bone.max}}},
                     {"soft_tissue", {{"min", o.hu_windows.soft_tissue.min}, {"max", o.hu_windows.soft_tissue.max}}},
                     {"wide", {{"min", o.hu_windows.wide.min}, {"max", o.hu_windows.wide.max}}}};
  j["cases"] = s.cases;
  j["cases_prepared"] = s.cases_done;
  j["cases_skipped_done"] = s.cases_skipped;
  j["cases_failed"] = s.failures.size();
  json f = json::array();
  for (auto& [c, why] : s.failures) f.push_back({{"case", c}, {"reason", why}});
  j["failures"] = f;
  put_counts(j, s);
  std::vector<double> area(s.box_w.size());
  for (size_t i = 0; i < area.size(); ++i) area[i] = s.box_w[i] * s.box_h[i];
  j["box_size_px"] = {{"width", summary_stats(s.box_w)}, {"height", summary_stats(s.box_h)},
                      {"area", summary_stats(area)}};
  j["skipped_boxes"] = {{"area_below_min", s.rules.dropped_area}, {"aspect_above_max", s.rules.dropped_aspect}};
  j["grown_boxes"] = s.rules.grown;
  return json_text(j, 2) + "\n";
}

std::string summary_text(const PrepareStats& s) {
  std::ostringstream o;
  o << "prepare: " << s.cases << " cases (" << s.cases_done << " prepared, " << s.cases_skipped
    << " already done, " << s.failures.size() << " failed)\n";
  o << "  slices " << s.slices << ", with fracture " << s.slices_with_fracture << ", boxes " << s.boxes << "\n";
  o << "  boxes per slice:";
  for (auto& [k, v] : s.boxes_per_slice) o << " " << k << ":" << v;
  o << "\n  boxes skipped: area " << s.rules.dropped_area << ", aspect " << s.rules.dropped_aspect << "; grown "
    << s.rules.grown << "\n";
  if (!s.box_w.empty()) {
    double sw = 0, sh = 0;
    for (size_t i = 0; i < s.box_w.size(); ++i) sw += s.box_w[i], sh += s.box_h[i];
    o << "  mean box " << sw / s.box_w.size() << " x " << sh / s.box_h.size() << " px\n";
  }
  for (auto& [c, why] : s.failures) o << "  FAILED " << c << ": " << why << "\n";
  if (s.seconds > 0)
    o << "  " << s.seconds << " s, " << (s.slices / std::max(1e-9, s.seconds)) << " slices/s\n";
  return o.str();
}

}  // namespace vyolo
