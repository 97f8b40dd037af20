#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>

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

// Issue 17: headers that lie are errors naming the file -- an unknown dtype, a shape whose byte count overflows, two
// tensors on the same bytes, bytes that belong to no tensor.
TEST(Safetensors, LyingHeadersAreErrorsNamingTheFile) {
  st::File f;
  st::Tensor a, b;
  a.dtype = b.dtype = "F32";
  a.shape = b.shape = {4};
  a.bytes.assign(16, '\x01');
  b.bytes.assign(16, '\x02');
  f.tensors["a"] = a;
  f.tensors["b"] = b;
  const std::string good = st::serialize(f);
  const uint64_t n = *reinterpret_cast<const uint64_t*>(good.data());
  const std::string header = good.substr(8, n), body = good.substr(8 + n);
  auto with_header = [&](std::string h) {
    while ((h.size() + 8) % 8) h += ' ';
    std::string out(8, '\0');
    const uint64_t len = h.size();
    std::memcpy(out.data(), &len, 8);
    return out + h + body;
  };
  const std::map<std::string, std::string> lies = {
      {"dtype", R"({"a":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}})"},
      {"overflow", R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})"},
      {"overlap", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})"},
      {"hole", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}})"},
  };
  EXPECT_NO_THROW(st::parse(with_header(header), "x.safetensors"));
  for (const auto& [what, h] : lies) {
    try {
      st::parse(with_header(h), "x.safetensors");
      ADD_FAILURE() << what << ": parsed";
    } catch (const RuntimeError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("x.safetensors: ", 0), 0u) << what << ": " << e.what();
    }
  }
  try {
    st::parse(good + std::string(8, '\0'), "x.safetensors");
    ADD_FAILURE() << "trailing bytes: parsed";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("belong to no tensor"), std::string::npos) << e.what();
  }
}
