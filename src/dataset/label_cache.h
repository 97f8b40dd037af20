// The label cache file (`labels/<split>.vyolo-cache.json`, see yolo_dataset.h): one checked image + label per image
// path, stamped with the files' size and mtime. Reading it never trusts it: a malformed document is ignored, and an
// entry whose values `check_one` could not have produced (a label outside the image, a class outside 0..nc-1, a size
// below 10 px) is checked again from the files.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataset/labels.h"

namespace vyolo::dataset {

// 2: label parsing changed (issue 12 session); 3: truncated JPEGs and 16-bit images that are not HU are rejected
// (issue 17). Older caches are re-checked.
constexpr int kLabelCacheVersion = 3;

struct Stamp {
  long long size = -1, mtime = 0;  // size -1: file absent; -2: found but unreadable
  bool operator==(const Stamp& o) const { return size == o.size && mtime == o.mtime; }
};

// One checked image + label, as stored in the cache.
struct CacheEntry {
  Stamp img, lab;
  int h0 = 0, w0 = 0;
  bool hu = false;
  std::string bad;  // non-empty: image unusable, why
  std::vector<Label> labels;
  std::vector<std::string> msgs;
  int bad_lines = 0, duplicates = 0;
};

nlohmann::json cache_entry_to_json(const CacheEntry& e);

// Throws RuntimeError when `j` is not an entry of ours for `nc` classes (missing key, wrong type, a value out of range).
CacheEntry cache_entry_from_json(const nlohmann::json& j, int nc);

// The cache document: an object with "entries" (an object), or null when it is of another version, class count or
// (with `label_dir` set: the user cache, named by a hash) of another label folder. Throws RuntimeError
// "<origin>: unreadable label cache (...)" when `text` is not JSON.
nlohmann::json parse_label_cache(const std::string& text, int nc, const std::string& label_dir,
                                 const std::string& origin);

}  // namespace vyolo::dataset
