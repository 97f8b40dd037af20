#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "common/fs_util.h"
#include "common/safetensors.h"

using namespace vyolo;

TEST(Safetensors, RoundTripKeepsTensorsAndMetadata) {
  st::File f;
  st::Tensor t;
  t.dtype = "F32";
  t.shape = {2, 3};
  t.bytes.assign(24, '\x01');
  f.tensors["a.weight"] = t;
  st::Tensor i;
  i.dtype = "I64";
  i.bytes.assign(8, '\0');
  f.tensors["a.num"] = i;
  f.metadata["variant"] = "yolov8n";
  auto path = std::filesystem::temp_directory_path() / "vyolo_st_roundtrip.safetensors";
  st::write_atomic(path.string(), f);
  auto g = st::read(path.string());
  ASSERT_EQ(g.tensors.size(), 2u);
  EXPECT_EQ(g.tensors["a.weight"].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(g.tensors["a.weight"].bytes, t.bytes);
  EXPECT_TRUE(g.tensors["a.num"].shape.empty());
  EXPECT_EQ(g.metadata["variant"], "yolov8n");
  // header length is a multiple of 8 (alignment, as the format asks)
  auto bytes = read_file(path);
  EXPECT_EQ(bytes.size() % 8, (24u + 8u) % 8);
}

TEST(Safetensors, TruncatedFileIsAClearError) {
  st::File f;
  st::Tensor t;
  t.dtype = "F32";
  t.shape = {100};
  t.bytes.assign(400, '\x02');
  f.tensors["w"] = t;
  auto bytes = st::serialize(f);
  for (size_t cut : {size_t(3), size_t(20), bytes.size() - 1}) {
    try {
      st::parse(bytes.substr(0, cut), "x.safetensors");
      FAIL() << "truncated at " << cut << " parsed";
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("x.safetensors"), std::string::npos) << e.what();
    }
  }
}

TEST(Safetensors, ReadsTheParityWeights) {
  auto shared = shared_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared is absent: parity fixtures not available";
  auto f = st::read((shared / "parity/init_weights.safetensors").string());
  EXPECT_EQ(f.tensors.size(), 355u);
  EXPECT_EQ(f.tensors.at("model.0.conv.weight").shape, (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_EQ(f.tensors.at("model.0.bn.num_batches_tracked").dtype, "I64");
}
