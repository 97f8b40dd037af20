// The prepared dataset's JSON files read back (fuzz/stats_json.cpp): stats.json's recipe and a case's done marker.
// Malformed ones are RuntimeErrors naming the file; values of the wrong kind never escape as JSON exceptions.
#include <gtest/gtest.h>

#include "common/error.h"
#include "data/prepare.h"

using namespace vyolo;

namespace {

std::string marker(const std::string& stats) {
  return R"({"fingerprint":"f","files":["P1_L1_slice_000"],"stats":)" + stats + "}";
}

const char* kStats =
    R"({"slices":2,"slices_with_fracture":1,"boxes":1,"boxes_per_slice":{"0":1,"1":1},"box_w":[12.5],"box_h":[10],)"
    R"("rules":{"kept":1,"grown":0,"dropped_area":0,"dropped_aspect":0}})";

}  // namespace

TEST(PreparedJson, DoneMarkerRoundTripsAndBadOnesNameTheFile) {
  const DoneMarker m = parse_done_marker(marker(kStats), "m.json");
  EXPECT_EQ(m.fingerprint, "f");
  EXPECT_EQ(m.stats.slices, 2);
  EXPECT_EQ(m.stats.boxes_per_slice.at(1), 1);
  const std::string bad[] = {
      // box_w longer than box_h: stats_json read box_h past its end (heap overflow)
      R"({"slices":1,"slices_with_fracture":0,"boxes":0,"boxes_per_slice":{},"box_w":[1,2,3],"box_h":[1],"rules":{"kept":0,"grown":0,"dropped_area":0,"dropped_aspect":0}})",
      // a count of 1e300 (UB in the float -> long conversion), a negative one, a key that is not a number
      R"({"slices":1e300,"slices_with_fracture":0,"boxes":0,"boxes_per_slice":{},"box_w":[],"box_h":[],"rules":{"kept":0,"grown":0,"dropped_area":0,"dropped_aspect":0}})",
      R"({"slices":-1,"slices_with_fracture":0,"boxes":0,"boxes_per_slice":{},"box_w":[],"box_h":[],"rules":{"kept":0,"grown":0,"dropped_area":0,"dropped_aspect":0}})",
      R"({"slices":1,"slices_with_fracture":0,"boxes":0,"boxes_per_slice":{"x":1},"box_w":[],"box_h":[],"rules":{"kept":0,"grown":0,"dropped_area":0,"dropped_aspect":0}})",
      R"({"slices":1,"slices_with_fracture":0,"boxes":0,"boxes_per_slice":{"99999999999":1},"box_w":[],"box_h":[],"rules":{"kept":0,"grown":0,"dropped_area":0,"dropped_aspect":0}})",
      R"([1])",
  };
  for (const auto& s : bad) {
    try {
      parse_done_marker(marker(s), "/out/.prepare/P1.axial.json");
      ADD_FAILURE() << "accepted: " << s;
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("/out/.prepare/P1.axial.json"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(parse_done_marker("[]", "m.json"), RuntimeError);
}

TEST(PreparedJson, StatsRecipeTakesStringsAndJsonTextAndIgnoresWrongKinds) {
  const StatsRecipe r = parse_stats_recipe(
      R"({"mode":"windowed","margin":5,"view":"coronal","source":"/studies","hu_windows":{"bone":{"min":400}}})",
      "stats.json");
  EXPECT_EQ(r.recipe.at("mode"), "windowed");
  EXPECT_EQ(r.recipe.at("margin"), "5");
  EXPECT_EQ(r.recipe.at("prepared_from"), "/studies");
  EXPECT_EQ(r.recipe.at("hu_windows"), R"({"bone":{"min":400}})");
  EXPECT_EQ(r.view, "coronal");
  EXPECT_EQ(r.source, "/studies");
  // mode of another type used to throw nlohmann's type_error out of the trainer
  const StatsRecipe odd = parse_stats_recipe(R"({"mode":5,"view":["a"],"source":null,"hu_windows":1})", "s.json");
  EXPECT_EQ(odd.recipe.at("mode"), "5");
  EXPECT_EQ(odd.recipe.count("hu_windows"), 0u);
  EXPECT_TRUE(odd.view.empty());
  EXPECT_TRUE(odd.source.empty());
  for (const char* bad : {"[1,2]", "{nope", ""}) {
    try {
      parse_stats_recipe(bad, "/set/stats.json");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("/set/stats.json"), std::string::npos) << e.what();
    }
  }
}
