// The safetensors file format (DESIGN.md §4), without LibTorch: 8-byte little-endian header length, a JSON header
// mapping names to {dtype, shape, data_offsets} plus "__metadata__" (string → string), then raw tensor bytes.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vyolo::st {

struct Tensor {
  std::string dtype;           // "F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"
  std::vector<int64_t> shape;
  std::string bytes;           // C-contiguous little-endian data
  int64_t numel() const;
};

struct File {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Size in bytes of one element of `dtype`; throws on an unknown dtype.
size_t dtype_size(const std::string& dtype);

// Parses a whole file; every structural problem (truncated, bad JSON, offsets outside the data, size not matching
// the shape) throws RuntimeError naming the path and the tensor.
File read(const std::string& path);
File parse(const std::string& bytes, const std::string& origin);

std::string serialize(const File& f);
void write_atomic(const std::string& path, const File& f);

}  // namespace vyolo::st
