#include "common/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs_util.h"

namespace vyolo::st {

using nlohmann::json;

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

size_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
      {"I16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8}};
  auto it = sizes.find(dtype);
  if (it == sizes.end()) throw RuntimeError("unknown safetensors dtype '" + dtype + "'");
  return it->second;
}

File parse(const std::string& bytes, const std::string& origin) {
  auto fail = [&](const std::string& why) { return RuntimeError(origin + ": not a valid safetensors file: " + why); };
  if (bytes.size() < 8) throw fail("shorter than the 8-byte header length (truncated?)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  if (n > bytes.size() - 8) throw fail("header length " + std::to_string(n) + " exceeds the file size (truncated?)");
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const std::exception& e) {
    throw fail(std::string("header is not JSON: ") + e.what());
  }
  if (!header.is_object()) throw fail("header is not a JSON object");
  const size_t data_begin = 8 + n;
  const size_t data_size = bytes.size() - data_begin;
  File f;
  struct Range {
    uint64_t begin, end;
    std::string name;
    bool operator<(const Range& o) const { return begin != o.begin ? begin < o.begin : end < o.end; }
  };
  std::vector<Range> ranges;
  for (auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) throw fail("__metadata__ is not an object");
      for (auto& [k, val] : v.items()) f.metadata[k] = val.is_string() ? val.get<std::string>() : val.dump();
      continue;
    }
    try {
      Tensor t;
      t.dtype = v.at("dtype").get<std::string>();
      static const std::set<std::string> known = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16",
                                                  "I8",  "U8",  "BOOL", "U16", "U32", "U64"};
      if (!known.count(t.dtype)) throw fail("tensor '" + name + "' has the unknown dtype '" + t.dtype + "'");
      // Sizes are non-negative integers whose product (in bytes) cannot overflow: it must fit in the file.
      uint64_t expect = dtype_size(t.dtype);
      const json& shape = v.at("shape");
      if (!shape.is_array()) throw fail("tensor '" + name + "' has a shape that is not a list");
      for (const json& d : shape) {
        if (!d.is_number_integer() || (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0))
          throw fail("tensor '" + name + "' has a shape entry that is not a size: " + d.dump());
        const uint64_t n = d.get<uint64_t>();
        if (n > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(expect, n, &expect))
          throw fail("tensor '" + name + "' has a shape too large for any file");
        t.shape.push_back(static_cast<int64_t>(n));
      }
      const json& offsets = v.at("data_offsets");
      std::vector<uint64_t> off;
      for (const json& o : offsets.is_array() ? offsets : json::array()) {
        if (!o.is_number_unsigned()) throw fail("tensor '" + name + "' has data offsets that are not byte positions");
        off.push_back(o.get<uint64_t>());
      }
      if (off.size() != 2 || off[0] > off[1] || off[1] > data_size)
        throw fail("tensor '" + name + "' has data offsets outside the file (truncated?)");
      if (off[1] - off[0] != expect)
        throw fail("tensor '" + name + "' holds " + std::to_string(off[1] - off[0]) + " bytes, its shape needs " +
                   std::to_string(expect));
      t.bytes.assign(bytes.data() + data_begin + off[0], off[1] - off[0]);
      ranges.push_back({off[0], off[1], name});
      f.tensors.emplace(name, std::move(t));
    } catch (const json::exception& e) {
      throw fail("tensor '" + name + "': " + e.what());
    }
  }
  // As the format requires (and the safetensors library checks): the tensors' bytes follow each other from the start
  // of the data to its end, no two tensors share bytes and none are left over.
  std::sort(ranges.begin(), ranges.end());
  uint64_t at = 0;
  std::string prev;
  for (const Range& r : ranges) {
    if (r.begin < at) throw fail("tensors '" + prev + "' and '" + r.name + "' overlap in the data");
    if (r.begin > at)
      throw fail("bytes " + std::to_string(at) + ".." + std::to_string(r.begin) + " of the data belong to no tensor");
    at = r.end;
    prev = r.name;
  }
  if (at != data_size)
    throw fail(std::to_string(data_size - at) + " bytes after the last tensor belong to no tensor");
  return f;
}

File read(const std::string& path) { return parse(read_file(path), path); }

std::string serialize(const File& f) {
  json header = json::object();
  uint64_t offset = 0;
  for (auto& [name, t] : f.tensors) {
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  if (!f.metadata.empty()) header["__metadata__"] = f.metadata;
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h.push_back(' ');
  std::string out;
  out.reserve(8 + h.size() + offset);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += h;
  for (auto& [name, t] : f.tensors) out += t.bytes;
  return out;
}

void write_atomic(const std::string& path, const File& f) { write_file_atomic(path, serialize(f)); }

}  // namespace vyolo::st
