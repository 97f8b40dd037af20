#include "infer/predict_volume.h"
#include "infer/report_pages.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "common/console.h"
#include "common/error.h"
#include "ops/box_iou.h"
#include "common/fs_util.h"
#include "data/hu_window.h"
#include "data/slicing.h"
#include "findings/label_volume.h"
#include "findings/plots.h"

namespace vyolo::infer {

namespace fs = std::filesystem;
using json = nlohmann::json;
using findings::View;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string hu_text(const HuWindows& w) {
  auto one = [](const HuWindow& x) {
    char b[64];
    std::snprintf(b, sizeof b, "[%g, %g]", x.min, x.max);
    return std::string(b);
  };
  return "bone " + one(w.bone) + ", soft_tissue " + one(w.soft_tissue) + ", wide " + one(w.wide);
}

bool same_windows(const HuWindows& a, const HuWindows& b) {
  auto eq = [](const HuWindow& x, const HuWindow& y) { return x.min == y.min && x.max == y.max; };
  return eq(a.bone, b.bone) && eq(a.soft_tissue, b.soft_tissue) && eq(a.wide, b.wide);
}

json parse_metadata_json(const std::string& text, const std::string& origin, const char* key) {
  try {
    return json::parse(text);
  } catch (const std::exception& e) {
    throw RuntimeError(origin + ": metadata " + key + " is not JSON (" + e.what() + ")");
  }
}

HuWindows parse_hu_json(const std::string& text, const std::string& origin) {
  HuWindows w;
  try {
    const json j = json::parse(text);
    auto rd = [&](const char* k, HuWindow& x) {
      x.min = j.at(k).at("min").get<double>();
      x.max = j.at(k).at("max").get<double>();
    };
    rd("bone", w.bone);
    rd("soft_tissue", w.soft_tissue);
    rd("wide", w.wide);
  } catch (const std::exception& e) {
    throw RuntimeError(origin + ": metadata hu_windows is not readable (" + e.what() + ")");
  }
  return w;
}

int axis_of(View v) { return v == View::Axial ? 2 : v == View::Coronal ? 1 : 0; }

// One network input: the 8-bit image and how its pixels map back to whole-slice pixels.
struct SliceImage {
  int slice = 0;
  cv::Mat image;
  vyolo::Letterbox fit;          // prepare's letterbox of the crop
  double rx = 1, ry = 1;  // the loader's extra resize to imgsz (1 when prepare's size already equals it)
  double u0 = 0, v0 = 0;  // whole-slice pixel of the crop's pixel (0, 0)
};

const HuWindow& slab_window(const SliceRecipe& rc) {
  return rc.slab_window == "soft_tissue" ? rc.windows.soft_tissue
         : rc.slab_window == "wide"      ? rc.windows.wide
                                         : rc.windows.bone;
}

// prepare's pass 2 (src/data/prepare.cpp) followed by the dataset loader's decode (windowing of 16-bit HU, resize of
// the long side to imgsz), through the shared slicing API so that the pixels are the training pixels.
SliceImage make_slice_image(const Volume& ct, const SliceRecipe& rc, const findings::SliceGeometry& g, int s,
                            const SliceRegion& r, int imgsz) {
  const int axis = axis_of(rc.view);
  const auto [sy, sx] = slice_spacing(ct, axis);
  SliceImage si;
  si.slice = s;
  cv::Mat hu = extract_slice(ct, axis, s, r);
  double mn;
  cv::minMaxLoc(hu, &mn, nullptr);
  cv::Mat img;
  if (rc.mode == "slab") {
    std::vector<cv::Mat> ch;
    for (int n : {1, 15, 31})
      ch.push_back(window_hu_channel(hu_to_u16(vyolo::letterbox(n == 1 ? hu : slab_mean(ct, axis, s, n, r), rc.image_size,
                                                         cv::INTER_LINEAR, mn, sy, sx, &si.fit)),
                                     slab_window(rc)));
    cv::merge(ch, img);
  } else {
    img = window_hu(hu_to_u16(vyolo::letterbox(hu, rc.image_size, cv::INTER_LINEAR, mn, sy, sx, &si.fit)), rc.windows);
  }
  const double q = static_cast<double>(imgsz) / std::max(img.rows, img.cols);
  if (q != 1.0) {
    const int w = std::min(static_cast<int>(std::ceil(img.cols * q)), imgsz);
    const int h = std::min(static_cast<int>(std::ceil(img.rows * q)), imgsz);
    si.rx = double(w) / img.cols;
    si.ry = double(h) / img.rows;
    cv::Mat resized;
    cv::resize(img, resized, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
    img = resized;
  }
  si.image = img;
  const int ua = g.u_axis, va = g.v_axis;
  si.u0 = g.flip_u ? ct.dims[size_t(ua)] - 1 - r.hi[size_t(ua)] : r.lo[size_t(ua)];
  si.v0 = g.flip_v ? ct.dims[size_t(va)] - 1 - r.hi[size_t(va)] : r.lo[size_t(va)];
  return si;
}

// Greedy NMS of one slice's boxes gathered from overlapping crops.
std::vector<findings::SliceBox> merge_boxes(std::vector<findings::SliceBox> b, double iou) {
  std::sort(b.begin(), b.end(), [](auto& x, auto& y) { return x.score > y.score; });
  std::vector<findings::SliceBox> keep;
  for (auto& x : b) {
    bool ok = true;
    for (auto& k : keep) ok = ok && ops::box_iou(x.x1, x.y1, x.x2, x.y2, k.x1, k.y1, k.x2, k.y2) < iou;
    if (ok) keep.push_back(x);
  }
  return keep;
}

// Per-vertebra crop regions (bounding box + margin, clamped), as prepare's crop=vertebra.
std::vector<SliceRegion> vertebra_regions(const Volume& mask, findings::LabelScheme scheme, int margin) {
  std::map<int, SliceRegion> boxes;
  findings::VertebraNames names(scheme);
  for (int k = 0; k < mask.dims[2]; ++k)
    for (int j = 0; j < mask.dims[1]; ++j)
      for (int i = 0; i < mask.dims[0]; ++i) {
        const int l = static_cast<int>(mask.at(i, j, k) + 0.5f);
        if (l <= 0 || names(l).empty()) continue;
        auto it = boxes.find(l);
        if (it == boxes.end()) {
          SliceRegion r;
          r.lo = r.hi = {i, j, k};
          boxes[l] = r;
        } else {
          const int p[3] = {i, j, k};
          for (int a = 0; a < 3; ++a)
            it->second.lo[a] = std::min(it->second.lo[a], p[a]), it->second.hi[a] = std::max(it->second.hi[a], p[a]);
        }
      }
  std::vector<SliceRegion> out;
  for (auto& [l, r] : boxes) {
    SliceRegion x = r;
    for (int a = 0; a < 3; ++a) {
      x.lo[a] = std::max(0, x.lo[a] - margin);
      x.hi[a] = std::min(mask.dims[a] - 1, x.hi[a] + margin);
    }
    out.push_back(x);
  }
  return out;
}

std::string model_name(const fs::path& p) {
  std::string stem = p.filename().string();
  for (const char* ext : {".safetensors", ".st", ".onnx"})
    if (stem.size() > std::strlen(ext) && stem.compare(stem.size() - std::strlen(ext), std::string::npos, ext) == 0)
      stem = stem.substr(0, stem.size() - std::strlen(ext));
  // fold_3/weights/best -> fold_3/best: the fold says more than "weights".
  fs::path parent = p.parent_path();
  if (parent.filename() == "weights") parent = parent.parent_path();
  if ((stem == "best" || stem == "last") && !parent.filename().empty())
    return parent.filename().string() + "/" + stem;
  return stem;
}

}  // namespace

VolumeModel load_volume_model(const std::string& path, const Config& fallback, const ModelRequest& req,
                              const ops::NmsOptions& nms, torch::Device device) {
  VolumeModel m;
  m.path = path;
  m.name = model_name(path);
  auto backend = load_backend(path, device, &m.spec);
  const auto& md = m.spec.metadata;
  auto meta = [&](const char* k) -> const std::string* {
    auto it = md.find(k);
    return it == md.end() || it->second.empty() ? nullptr : &it->second;
  };
  SliceRecipe& rc = m.recipe;
  if (auto v = meta("view")) {
    rc.view = findings::parse_view(*v);
  } else {
    rc.view = findings::parse_view(fallback.data.view);
    m.warnings.push_back(path + ": no 'view' in the checkpoint metadata; using data.view=" + fallback.data.view);
  }
  if (m.spec.img_size > 0) {
    rc.image_size = m.spec.img_size;
  } else {
    rc.image_size = fallback.data.image_size;
    m.warnings.push_back(path + ": no 'img_size' in the checkpoint metadata; using data.image_size=" +
                         std::to_string(rc.image_size));
  }
  if (auto v = meta("hu_windows")) {
    rc.windows = parse_hu_json(*v, path);
  } else {
    rc.windows = fallback.data.hu_windows;
    m.warnings.push_back(path + ": no 'hu_windows' in the checkpoint metadata; using data.hu_windows (" +
                         hu_text(rc.windows) + ")");
  }
  if (auto v = meta("mode")) rc.mode = *v;
  if (rc.mode != "hu16" && rc.mode != "windowed" && rc.mode != "slab")
    throw RuntimeError(path + ": metadata mode '" + rc.mode + "' is not hu16, windowed or slab");
  if (auto v = meta("slab_window")) rc.slab_window = *v;
  if (auto v = meta("crop")) rc.crop = *v;
  if (auto v = meta("margin")) rc.margin = std::atoi(v->c_str());

  if (req.view && findings::parse_view(*req.view) != rc.view)
    throw UsageError(path + ": the checkpoint was trained on " + findings::view_name(rc.view) +
                     " slices but data.view=" + *req.view + " was requested; drop the override or use a " + *req.view +
                     " checkpoint");
  if (req.windows && !same_windows(*req.windows, rc.windows))
    throw UsageError(path + ": the checkpoint was trained with HU windows " + hu_text(rc.windows) +
                     " but data.hu_windows " + hu_text(*req.windows) + " was requested");
  if (req.crop) rc.crop = *req.crop;
  if (req.margin) rc.margin = *req.margin;
  if (rc.crop != "none" && rc.crop != "vertebra" && rc.crop != "auto")
    throw UsageError("crop must be none, vertebra or auto, got '" + rc.crop + "'");
  if (rc.margin < 0) throw UsageError("margin must be >= 0");
  // An ONNX export of fixed size takes its own size: the slices are resized to it (make_slice_image), as the loader
  // resizes prepared slices to another imgsz.
  if (auto v = meta("operating_point"))
    m.operating_point = findings::operating_point_from_json(parse_metadata_json(*v, path, "operating_point"), path);
  if (auto v = meta("calibration"))
    m.calibration = findings::calibration_from_json(parse_metadata_json(*v, path, "calibration"), path);
  const int imgsz = backend->fixed_height() > 0 ? backend->fixed_height() : rc.image_size;
  m.predictor = std::make_shared<Predictor>(backend, imgsz, nms);
  return m;
}

Volume read_mask_on(const fs::path& mask, const Volume& canonical_ct) {
  // Compared on the canonical grid, as prepare does: a mask stored with other axis order/flips (e.g. a RAS-ordered
  // TotalSegmentator output over a DICOM series) is the same grid when both canonicalise to the same voxels.
  Volume m = to_canonical(read_volume(mask));
  findings::check_same_grid(canonical_ct, m, mask.string(), 0.05 * std::max(1.0, canonical_ct.spacing[2]));
  return m;
}

VolumeStudy load_study(const fs::path& ct, const fs::path& mask, const std::string& case_id) {
  VolumeStudy s;
  s.source = ct.string();
  s.mask_path = mask.string();
  s.case_id = case_id;
  if (s.case_id.empty()) {
    std::string n = ct.filename().string();
    if (n.empty()) n = ct.parent_path().filename().string();
    for (const char* ext : {".nii.gz", ".nii"})
      if (n.size() > std::strlen(ext) && n.compare(n.size() - std::strlen(ext), std::string::npos, ext) == 0)
        n = n.substr(0, n.size() - std::strlen(ext));
    // <case>/ct.nii.gz (DESIGN.md §5 layout): the folder names the case.
    if ((n == "ct" || n == "dicom") && !fs::absolute(ct).parent_path().filename().empty())
      n = fs::absolute(ct).parent_path().filename().string();
    s.case_id = n;
  }
  if (!fs::exists(ct)) throw RuntimeError(ct.string() + ": no such file or folder");
  if (fs::is_directory(ct) && fs::is_empty(ct)) throw RuntimeError(ct.string() + ": empty study folder (no DICOM files)");
  s.input = read_volume(ct);
  if (s.input.size() == 0) throw RuntimeError(ct.string() + ": the volume has no voxels");
  if (!mask.empty()) {
    if (!fs::exists(mask)) throw RuntimeError(mask.string() + ": vertebra mask not found");
  }
  s.canonical = to_canonical(s.input);
  if (!mask.empty()) s.mask = read_mask_on(mask, s.canonical);
  return s;
}

findings::StudyFindings predict_study(std::vector<VolumeModel>& models, const VolumeStudy& study,
                                      const VolumePredictOptions& opt,
                                      std::vector<findings::SourceDetections>* sources_out) {
  if (models.empty()) throw UsageError("predict: no model");
  const Volume& ct = study.canonical;
  std::vector<findings::SourceDetections> sources;
  for (auto& m : models) {
    const SliceRecipe& rc = m.recipe;
    const int axis = axis_of(rc.view);
    findings::SourceDetections src;
    src.name = models.size() > 1 ? m.name + "/" + findings::view_name(rc.view) : findings::view_name(rc.view);
    src.geometry = findings::make_slice_geometry(rc.view, ct.dims, ct.spacing);  // whole-slice pixels, no letterbox
    std::vector<SliceRegion> regions;
    const bool want_crop = rc.crop == "vertebra" || (rc.crop == "auto" && study.mask);
    if (want_crop && study.mask) regions = vertebra_regions(*study.mask, opt.findings.assign.scheme, rc.margin);
    if (want_crop && !study.mask)
      console::warn(m.path + " wants vertebra crops but no mask= was given; predicting on whole slices");
    if (regions.empty()) {
      if (want_crop && study.mask)
        console::warn(study.mask_path + " holds no vertebra of the '" +
                      findings::label_scheme_name(opt.findings.assign.scheme) + "' label map; whole slices used");
      regions.push_back(SliceRegion::whole(ct));
    }
    std::map<int, std::vector<findings::SliceBox>> raw;
    // (region, slice) pairs, run in batches of opt.batch.
    std::vector<std::pair<size_t, int>> jobs;
    for (size_t ri = 0; ri < regions.size(); ++ri)
      for (int s = regions[ri].lo[size_t(axis)]; s <= regions[ri].hi[size_t(axis)]; ++s) jobs.push_back({ri, s});
    const size_t bs = static_cast<size_t>(std::max(1, opt.batch));
    for (size_t b0 = 0; b0 < jobs.size(); b0 += bs) {
      std::vector<SliceImage> batch;
      std::vector<cv::Mat> imgs;
      for (size_t j = b0; j < std::min(jobs.size(), b0 + bs); ++j) {
        batch.push_back(make_slice_image(ct, rc, src.geometry, jobs[j].second, regions[jobs[j].first],
                                         m.predictor->imgsz()));
        imgs.push_back(batch.back().image);
      }
      auto dets = m.predictor->predict(imgs);
      for (size_t i = 0; i < batch.size(); ++i) {
        const SliceImage& si = batch[i];
        for (const Detection& d : dets[i]) {
          findings::SliceBox b;
          b.x1 = si.u0 + (d.x1 / si.rx - si.fit.pad_x) / si.fit.scale_x;
          b.x2 = si.u0 + (d.x2 / si.rx - si.fit.pad_x) / si.fit.scale_x;
          b.y1 = si.v0 + (d.y1 / si.ry - si.fit.pad_y) / si.fit.scale_y;
          b.y2 = si.v0 + (d.y2 / si.ry - si.fit.pad_y) / si.fit.scale_y;
          b.score = d.conf;
          if (b.x2 <= b.x1 || b.y2 <= b.y1) continue;
          raw[si.slice].push_back(b);
        }
      }
    }
    for (auto& [s, boxes] : raw) {
      auto merged = regions.size() > 1 ? merge_boxes(std::move(boxes), 0.5) : std::move(boxes);
      if (!merged.empty()) src.per_slice[s] = std::move(merged);
    }
    sources.push_back(std::move(src));
  }
  auto f = findings::make_study_findings(study.case_id, sources, study.mask ? &*study.mask : nullptr, opt.findings);
  findings::calibrate_findings(f, opt.calibration);
  if (sources_out) *sources_out = std::move(sources);
  return f;
}

Decision decide_threshold(const std::vector<VolumeModel>& models, const std::optional<double>& given) {
  Decision d;
  if (given) {
    d.threshold = *given;
    d.source = "threshold=" + findings::format_threshold(*given);
    if (models.size() == 1) d.calibration = models.front().calibration;
    return d;
  }
  if (models.empty()) return d;
  for (const auto& m : models)
    if (!m.operating_point) return d;
  if (models.size() == 1) {
    const auto& p = *models.front().operating_point;
    d.threshold = p.threshold;
    d.calibration = models.front().calibration;
    d.source = "the checkpoint's operating point (" + p.rule + " on " + std::to_string(p.studies.size()) +
               " validation studies, " + std::to_string(p.n) + " vertebrae)";
    return d;
  }
  double sum = 0;
  for (const auto& m : models) sum += m.operating_point->threshold;
  d.threshold = sum / double(models.size());
  d.source = "the mean of the " + std::to_string(models.size()) + " models' operating points (no calibration)";
  return d;
}

cv::Mat whole_slice_input(const Volume& canonical, const SliceRecipe& rc, int slice, int imgsz) {
  const auto g = findings::make_slice_geometry(rc.view, canonical.dims, canonical.spacing);
  return make_slice_image(canonical, rc, g, slice, SliceRegion::whole(canonical), imgsz).image;
}

cv::Mat whole_slice_image(const Volume& canonical, View view, int slice, const HuWindows& w) {
  const int axis = axis_of(view);
  slice = std::clamp(slice, 0, canonical.dims[size_t(axis)] - 1);
  cv::Mat bone =
      window_hu_channel(hu_to_u16(extract_slice(canonical, axis, slice, SliceRegion::whole(canonical))), w.bone);
  cv::Mat bgr;
  cv::cvtColor(bone, bgr, cv::COLOR_GRAY2BGR);
  return bgr;
}

void write_volume_outputs(const fs::path& out_dir, const VolumeStudy& study, const findings::StudyFindings& f,
                          const std::vector<VolumeModel>& models, const VolumePredictOptions& opt,
                          const std::string& label_scheme) {
  findings::ReportInfo info;
  info.source = study.source;
  info.mask = study.mask_path;
  info.label_scheme = label_scheme;
  info.threshold = opt.threshold;
  info.threshold_source = opt.threshold_source;
  info.calibration = findings::calibration_json(opt.calibration);
  for (auto& m : models) {
    info.weights.push_back(m.path);
    info.views.push_back(findings::view_name(m.recipe.view));
  }
  char note[256];
  std::snprintf(note, sizeof note,
                "per model: boxes linked across slices (IoU >= %.2f, gap <= %d), score = mean of the top %d box "
                "scores%s",
                opt.findings.link.iou_thr, opt.findings.link.max_gap, opt.findings.link.top_k,
                models.size() > 1 ? "; models fused in 3D (IoU >= 0.2), score = mean over models of each model's "
                                    "best member score (absent = 0)"
                                  : "");
  info.score_note = note;
  if (!study.mask) info.score_note += "; no vertebra mask given: no per-vertebra table";
  findings::write_findings(out_dir, f, info);

  const HuWindows w = models.empty() ? HuWindows{} : models.front().recipe.windows;
  auto get = [&](View v, int s) { return whole_slice_image(study.canonical, v, s, w); };
  auto tiles = findings::montage_tiles(f.candidates, get, opt.montage_tiles);
  if (tiles.empty()) {
    // No candidate: show four evenly spaced slices of the first model's view, so the montage still says "nothing".
    const View v = models.empty() ? View::Axial : models.front().recipe.view;
    const int n = study.canonical.dims[size_t(axis_of(v))];
    for (int t = 1; t <= 4; ++t) {
      findings::MontageTile tile;
      const int s = n * t / 5;
      tile.image = get(v, s);
      tile.caption = findings::view_name(v) + " " + std::to_string(s) + ": no candidate";
      tiles.push_back(tile);
    }
  }
  const cv::Mat montage = findings::overlay_montage(tiles);
  findings::write_png(out_dir / "montage.png", montage);

  findings::HtmlReport page;
  page.title = "vyolo predict: " + study.case_id;
  std::string weights;
  for (const auto& m : models) weights += (weights.empty() ? "" : ", ") + m.path;
  page.facts = {{"CT", study.source},
                {"vertebra mask", study.mask ? study.mask_path : "none"},
                {"weights", weights},
                {"threshold", findings::format_threshold(opt.threshold) + " on the vertebra score, from " +
                                  opt.threshold_source},
                {"probabilities", opt.calibration.identity() ? "the detector's scores (uncalibrated)"
                                                             : "calibrated (" + opt.calibration.method + ")"},
                {"score", info.score_note}};
  page.plots.push_back({"strongest candidates", montage});
  StudyPage sp;
  sp.id = study.case_id;
  sp.source = study.source;
  sp.f = f;
  sp.slices = vertebra_slice_images(study, f, models);
  page.studies.push_back(html_study(sp, opt.threshold));
  findings::write_html(out_dir / "report.html", page);
  findings::write_candidate_labels(out_dir / "candidates.nii.gz", f.candidates, study.canonical, study.input);
}

bool is_volume_source(const fs::path& p) {
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) {
    const std::string n = lower(p.filename().string());
    auto ends = [&](const std::string& e) { return n.size() >= e.size() && n.compare(n.size() - e.size(), e.size(), e) == 0; };
    return ends(".nii") || ends(".nii.gz");
  }
  if (!fs::is_directory(p, ec)) return false;
  for (const auto& e : fs::directory_iterator(p, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string n = lower(e.path().filename().string());
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".dcm") == 0) return true;
    std::ifstream in(e.path(), std::ios::binary);
    char buf[132] = {};
    if (in.read(buf, 132) && std::string(buf + 128, 4) == "DICM") return true;
  }
  return false;
}

}  // namespace vyolo::infer

namespace vyolo::infer {

std::map<std::string, cv::Mat> vertebra_slice_images(const VolumeStudy& study, const findings::StudyFindings& f,
                                                     const std::vector<VolumeModel>& models, int max_images) {
  std::vector<const findings::VertebraResult*> vs;
  for (const auto& v : f.vertebrae)
    if (!v.candidate_ids.empty()) vs.push_back(&v);
  std::stable_sort(vs.begin(), vs.end(), [](auto* a, auto* b) { return a->score > b->score; });
  const HuWindows w = models.empty() ? HuWindows{} : models.front().recipe.windows;
  auto get = [&](View v, int s) { return whole_slice_image(study.canonical, v, s, w); };
  std::map<std::string, cv::Mat> out;
  for (const auto* v : vs) {
    if (static_cast<int>(out.size()) >= max_images) break;
    const findings::Candidate* best = nullptr;
    for (const auto& c : f.candidates)
      if (std::find(v->candidate_ids.begin(), v->candidate_ids.end(), c.id) != v->candidate_ids.end() &&
          (!best || c.score > best->score))
        best = &c;
    if (!best) continue;
    auto tiles = findings::montage_tiles({*best}, get, 1);
    if (tiles.empty()) continue;
    char cap[128];
    std::snprintf(cap, sizeof cap, "%s: score %.3f, %s", v->name.c_str(), v->score, tiles.front().caption.c_str());
    tiles.front().caption = cap;
    out[v->name] = findings::overlay_montage(tiles, 1, 320);
  }
  return out;
}

}  // namespace vyolo::infer
