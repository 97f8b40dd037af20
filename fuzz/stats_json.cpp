// The prepared dataset's JSON readers (src/data/prepare.cpp): stats.json as the trainer and `vyolo cv` read it
// (parse_stats_recipe), and a case's done marker (parse_done_marker) whose counts are then summed into stats.json
// and the printed summary, as a re-run of `vyolo prepare` does.
#include "data/prepare.h"
#include "fuzz_util.h"

using namespace vyolo;
using vyolo::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = fuzz::as_text(data, size);
  const std::string stats = "fuzz/set/stats.json", marker = "fuzz/set/.prepare/P1.axial.json";
  fuzz::expect_errors_naming(stats, [&] { parse_stats_recipe(text, stats); });
  fuzz::expect_errors_naming(marker, [&] {
    const DoneMarker m = parse_done_marker(text, marker);
    check(m.stats.box_w.size() == m.stats.box_h.size(), "box_w and box_h differ in length");
    PrepareStats total;
    total.add(m.stats);
    total.add(m.stats);
    PrepareOptions o;
    o.source = "fuzz/studies";
    o.out = "fuzz/set";
    (void)stats_json(total, o);
    (void)summary_text(total);
  });
  return 0;
}
