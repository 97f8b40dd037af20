// Corrupt safetensors headers found by fuzzing (fuzz/safetensors.cpp): each is a RuntimeError naming the file, never
// undefined behaviour or a tensor whose bytes do not match its shape.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/safetensors.h"

using namespace vyolo;

namespace {

std::string file(const std::string& header, const std::string& data = "") {
  std::string out;
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}

std::string error_of(const std::string& bytes) {
  try {
    st::parse(bytes, "bad.safetensors");
  } catch (const RuntimeError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SafetensorsCorrupt, BadShapesDtypesAndOffsetsAreErrorsNamingTheFile) {
  const std::string cases[] = {
      // a shape whose byte count overflows 64 bits (was signed overflow in numel())
      file(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})"),
      // a float size (was UB in the float -> int64 conversion)
      file(R"({"a":{"dtype":"F32","shape":[1e300],"data_offsets":[0,0]}})"),
      // negative sizes whose product looks right
      file(R"({"a":{"dtype":"F32","shape":[-1,-4],"data_offsets":[0,16]}})", std::string(16, '\0')),
      // an unknown dtype (the error did not name the file)
      file(R"({"a":{"dtype":"I6t","shape":[2],"data_offsets":[0,2]}})", std::string(2, '\0')),
      // two tensors sharing bytes
      file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           std::string(12, '\0')),
      // offsets that are not byte positions
      file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[-2,0]}})", std::string(2, '\0')),
      file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":"0,2"}})", std::string(2, '\0')),
  };
  for (const auto& bytes : cases) {
    const std::string why = error_of(bytes);
    EXPECT_NE(why.find("bad.safetensors"), std::string::npos) << "accepted or unnamed: " << why;
  }
}

TEST(SafetensorsCorrupt, EmptyTensorsAndAdjacentRangesAreFine) {
  const auto f = st::parse(
      file(R"({"e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
           std::string(8, '\1')),
      "ok.safetensors");
  EXPECT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors.at("e").numel(), 0);
  EXPECT_EQ(f.tensors.at("b").bytes.size(), 4u);
}
