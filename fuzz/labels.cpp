// The YOLO label parser (src/dataset/labels.cpp): the input is a label file, parsed for 1 and for 3 classes. Every
// label kept must be what the loader may rely on: class in 0..nc-1, box inside the image and not empty, no
// duplicate; every skipped line is a warning naming the file and line.
#include <algorithm>
#include <cmath>

#include "dataset/labels.h"
#include "fuzz_util.h"

using namespace vyolo;
using vyolo::fuzz::check;

namespace {

void parse_and_check(const std::string& text, int nc) {
  const std::string path = "fuzz/labels/x.txt";
  const auto p = dataset::parse_labels(text, path, nc);
  for (size_t i = 0; i < p.labels.size(); ++i) {
    const auto& l = p.labels[i];
    check(l.cls >= 0 && l.cls < nc, "class outside 0..nc-1");
    for (float v : {l.cx, l.cy, l.w, l.h}) check(std::isfinite(v) && v >= 0 && v <= 1, "value outside 0..1");
    check(l.w > 0 && l.h > 0, "empty box kept");
    check(l.cx - l.w / 2 >= -1e-6f && l.cx + l.w / 2 <= 1 + 1e-6f, "box leaves the image in x");
    check(l.cy - l.h / 2 >= -1e-6f && l.cy + l.h / 2 <= 1 + 1e-6f, "box leaves the image in y");
    const auto end = p.labels.begin() + static_cast<long>(i);
    check(std::find(p.labels.begin(), end, l) == end, "duplicate kept");
  }
  check(p.bad_lines >= 0 && p.duplicates >= 0, "negative counts");
  check(p.warnings.size() == static_cast<size_t>(p.bad_lines) + (p.duplicates ? 1 : 0), "warnings do not match counts");
  for (const auto& w : p.warnings) check(w.rfind(path + ":", 0) == 0, "warning does not name the file: " + w);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = fuzz::as_text(data, size);
  parse_and_check(text, 1);
  parse_and_check(text, 3);
  return 0;
}
