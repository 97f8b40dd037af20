// Malformed label caches and data.yaml values (fuzz/label_cache.cpp, fuzz/data_yaml.cpp): a cache entry the checks
// could not have produced is checked again from the files; a data.yaml value of the wrong kind is a UsageError
// naming the file.
#include <gtest/gtest.h>

#include "common/error.h"
#include "dataset/label_cache.h"
#include "dataset/yolo_dataset.h"

using namespace vyolo;
using namespace vyolo::dataset;
using nlohmann::json;

namespace {

json entry(json lab, json h = 256, json w = 256) {
  return {{"is", 10}, {"im", 1}, {"ls", 5}, {"lm", 1}, {"h", h}, {"w", w}, {"hu", true}, {"bad", ""},
          {"lab", lab}, {"msg", json::array()}, {"bl", 0}, {"dup", 0}};
}

}  // namespace

TEST(CorruptInput, LabelCacheEntriesOutsideWhatParsingProducesAreRejected) {
  const CacheEntry ok = cache_entry_from_json(entry({{0, 0.5, 0.5, 0.2, 0.1}}), 1);
  ASSERT_EQ(ok.labels.size(), 1u);
  EXPECT_EQ(cache_entry_from_json(cache_entry_to_json(ok), 1).labels, ok.labels);
  const json bad[] = {
      entry({{1, 0.5, 0.5, 0.2, 0.1}}),      // class >= nc
      entry({{-1, 0.5, 0.5, 0.2, 0.1}}),     // negative class
      entry({{1e300, 0.5, 0.5, 0.2, 0.1}}),  // float class (UB in the old get<int>)
      entry({{0, 2.5, 0.5, 0.2, 0.1}}),      // outside the image
      entry({{0, 0.5, 0.5, 0.0, 0.1}}),      // empty box
      entry({{0, 0.5, 0.5, 0.2}}),           // four values
      entry({{0, 0.5, 0.5, 0.2, 0.1}}, 0),   // usable image of height 0
      entry({{0, 0.5, 0.5, 0.2, 0.1}}, 1e12),
  };
  for (const auto& j : bad) EXPECT_THROW(cache_entry_from_json(j, 1), RuntimeError) << j.dump();
  json neg = entry(json::array());
  neg["bl"] = -3;
  EXPECT_THROW(cache_entry_from_json(neg, 1), RuntimeError);
}

TEST(CorruptInput, LabelCacheDocumentOfAnotherKindIsIgnored) {
  const std::string v = std::to_string(kLabelCacheVersion);
  EXPECT_TRUE(parse_label_cache(R"({"version":)" + v + R"(,"nc":1,"entries":{}})", 1, "", "c.json").is_object());
  EXPECT_TRUE(parse_label_cache(R"({"version":")" + v + R"(","nc":1,"entries":{}})", 1, "", "c.json").is_null());
  EXPECT_TRUE(parse_label_cache(R"({"version":)" + v + R"(,"nc":1.5,"entries":{}})", 1, "", "c.json").is_null());
  EXPECT_TRUE(parse_label_cache(R"({"version":)" + v + R"(,"nc":1,"entries":[]})", 1, "", "c.json").is_null());
  EXPECT_TRUE(parse_label_cache(R"([1,2])", 1, "", "c.json").is_null());
  try {
    parse_label_cache("{nope", 1, "", "labels/train.vyolo-cache.json");
    FAIL();
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("labels/train.vyolo-cache.json"), std::string::npos) << e.what();
  }
}

TEST(CorruptInput, DataYamlValuesOfTheWrongKindAreUsageErrorsNamingTheFile) {
  auto list = [](const std::filesystem::path& p) { return std::vector<std::string>{(p / "a.png").string()}; };
  const std::string bad[] = {
      "path: {a: 1}\ntrain: images\nnames: [a]\n",  // yaml-cpp's TypedBadConversion escaped before
      "train: {b: 2}\nnames: [a]\n",
      "train: [[x]]\nnames: [a]\n",
      "train: images\nnames: [[a], {b: c}]\n",
      "train: images\nnames: {x: y}\n",
      "train: images\nnames: {0: [a]}\n",
      "[not, a, map]\n",
      "train: [unclosed\n",
  };
  for (const auto& text : bad) {
    try {
      parse_data_yaml(text, "/d/data.yaml", list);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("/d/data.yaml"), std::string::npos) << e.what();
    }
  }
  const DataYaml ok = parse_data_yaml("path: /d\ntrain: [images/a, images/b]\nval: ~\nnames: {1: b, 0: a}\n",
                                      "/d/data.yaml", list);
  EXPECT_EQ(ok.train.size(), 2u);
  EXPECT_EQ(ok.names, (std::vector<std::string>{"a", "b"}));
}
