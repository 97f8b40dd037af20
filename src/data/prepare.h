// `vyolo prepare`: CT studies -> YOLO slice dataset (DESIGN.md §5).
//
// Input: <source>/<case>/ with the CT as ct.nii.gz | ct.nii | ct/ | dicom/ (DICOM series folder), the fracture
// instance mask as fracture.nii.gz | fracture.nii, and the vertebra mask as vertebrae.nii.gz | vertebrae.nii |
// vertebrae_mask.nii.gz | multilabel_mask.nii.gz. A source that itself holds a CT is one case. Case ids are the
// folder names with '_' replaced by '-' (the patient id is the file name up to the first '_'). The upstream slice
// layout ([slice_train/]<view>/<case>/<vertebra>/slice_NNN.nii, masks under <view>_mask/) is accepted too; its 2-D
// slices are used as stored (rows = second axis).
// Output: images/<view>/<case>_<vertebra>_slice_<NNN>.png, labels/<view>/<same>.txt, data.yaml, stats.json, and
// .prepare/<case>.<view>.json (per-case done marker, written last; a re-run with the same inputs and options skips
// the case unless one of its outputs is gone).
// Slices are cut from the volume in canonical LPS orientation (see volume.h); NNN is the slice index along the view
// axis; vertebra is the vertebra name (crop=vertebra) or "all" (crop=none). Images are letterboxed to image_size
// (slicing.h: physically longer side to image_size, bilinear in HU, padded with the slice minimum); masks the same
// with nearest neighbour, then boxes per boxes.h.
#pragma once
#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "config/command_args.h"
#include "config/config.h"
#include "data/boxes.h"

namespace vyolo {

// The command keys (mode, slab_window, crop, margin, keep, max_negatives, vertebra_labels, allow_unlabeled, workers,
// png_compression) come from PrepareKeys (config/command_args.h) with their defaults. mode=slab: 8-bit 3-channel,
// channels 0, 1, 2 = means of 1, 15, 31 neighbouring slices, each in the slab_window HU window.
struct PrepareOptions : PrepareKeys {
  std::filesystem::path source, out;
  std::string view = "axial";            // axial | coronal | sagittal
  int image_size = 256;                  // square output side; 0 = native crop size (no resize, no padding)
  uint64_t seed = 42;                    // choice of kept negatives
  HuWindows hu_windows;                  // for mode=windowed
  BoxRules rules;
};

// Throws UsageError naming the option when a value is invalid.
void validate(const PrepareOptions& o);

struct PrepareStats {
  long slices = 0, slices_with_fracture = 0, boxes = 0;
  std::map<int, long> boxes_per_slice;   // number of boxes -> number of slices
  std::vector<double> box_w, box_h;      // pixels
  BoxCounts rules;
  int cases = 0, cases_done = 0, cases_skipped = 0;  // skipped = finished by an earlier run
  std::vector<std::pair<std::string, std::string>> failures;  // case, reason
  double seconds = 0;

  void add(const PrepareStats& o);
};

// Runs the whole preparation; per-case failures are recorded in the result (and printed to `log`), never thrown.
// Throws UsageError for bad options and RuntimeError when the source cannot be listed or outputs cannot be written.
PrepareStats prepare_dataset(const PrepareOptions& o, std::ostream* log = nullptr);

// A case's done marker (.prepare/<case>.<view>.json): the fingerprint of its inputs and options, the names of its
// files, its counts. Throws RuntimeError "<origin>: unreadable done marker (...)" when malformed or out of range
// (the case is then prepared again).
struct DoneMarker {
  std::string fingerprint;
  std::vector<std::string> files;
  PrepareStats stats;
};
DoneMarker parse_done_marker(const std::string& text, const std::string& origin);

// What a prepared dataset's stats.json says about how its slices were cut: `recipe` holds the checkpoint metadata
// keys (mode, crop, margin, slab_window, vertebra_labels, prepared_from = source; hu_windows for mode=windowed),
// values that are not strings as JSON text; `view` and `source` when they are strings, else empty. Throws
// RuntimeError naming `origin` when the text is not a JSON object.
struct StatsRecipe {
  std::map<std::string, std::string> recipe;
  std::string view, source;
};
StatsRecipe parse_stats_recipe(const std::string& text, const std::string& origin);

// stats.json content and the printed summary.
std::string stats_json(const PrepareStats& s, const PrepareOptions& o);
std::string summary_text(const PrepareStats& s);

}  // namespace vyolo
