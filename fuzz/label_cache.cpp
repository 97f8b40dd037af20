// The label cache reader (src/dataset/label_cache.cpp): the cache document, then each entry as the dataset takes it.
// An entry it accepts must hold only labels parse_labels could have produced, and survive a write and a read.
// Read for 1 and for 2 classes (a cache of another class count is ignored).
#include <cmath>

#include "dataset/label_cache.h"
#include "fuzz_util.h"

using namespace vyolo;
using vyolo::fuzz::check;

namespace {

void read_and_check(const std::string& text, int nc) {
  const std::string origin = "fuzz/labels/train.vyolo-cache.json";
  nlohmann::json c;
  if (!fuzz::expect_errors_naming(origin, [&] {
        c = dataset::parse_label_cache(text, nc, "/fuzz/labels/train", origin);
      }))
    return;
  if (c.is_null()) return;
  check(c.is_object() && c.contains("entries") && c["entries"].is_object(), "accepted a cache without entries");
  for (const auto& item : c["entries"].items()) {
    const nlohmann::json& j = item.value();
    dataset::CacheEntry e;
    if (!fuzz::expect_errors_naming("", [&] { e = dataset::cache_entry_from_json(j, nc); })) continue;
    if (e.bad.empty()) check(e.h0 >= 10 && e.w0 >= 10, "usable image below 10 pixels");
    for (const auto& l : e.labels) {
      check(l.cls >= 0 && l.cls < nc, "class outside 0..nc-1");
      for (float v : {l.cx, l.cy, l.w, l.h}) check(std::isfinite(v) && v >= 0 && v <= 1, "value outside 0..1");
      check(l.w > 0 && l.h > 0, "empty box");
    }
    check(e.bad_lines >= 0 && e.duplicates >= 0, "negative counts");
    dataset::CacheEntry again;
    try {
      again = dataset::cache_entry_from_json(nlohmann::json::parse(dataset::cache_entry_to_json(e).dump()), nc);
    } catch (const std::exception& ex) {
      fuzz::bug(std::string("a written entry does not read back: ") + ex.what());
    }
    check(again.labels == e.labels && again.img == e.img && again.lab == e.lab && again.msgs == e.msgs,
          "entry changed by a write and read");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = fuzz::as_text(data, size);
  read_and_check(text, 1);
  read_and_check(text, 2);
  return 0;
}
