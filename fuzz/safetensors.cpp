// The safetensors reader (src/common/safetensors.cpp, st::parse: weights and checkpoints alike): header length,
// JSON header, dtypes, shapes, data offsets. A file it accepts must hold tensors whose byte count is exactly what
// shape and dtype need, and must survive a write and a second read unchanged.
#include "common/safetensors.h"
#include "fuzz_util.h"

using namespace vyolo;
using vyolo::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string origin = "fuzz/model.safetensors";
  st::File f;
  if (!fuzz::expect_errors_naming(origin, [&] { f = st::parse(fuzz::as_text(data, size), origin); })) return 0;
  for (const auto& [name, t] : f.tensors) {
    unsigned __int128 need = st::dtype_size(t.dtype);
    for (int64_t d : t.shape) {
      check(d >= 0, "tensor '" + name + "' has a negative dimension");
      need *= static_cast<uint64_t>(d);
      check(need <= size, "tensor '" + name + "' needs more bytes than the file has");
    }
    check(need == t.bytes.size(), "tensor '" + name + "' holds another byte count than its shape needs");
    check(t.numel() >= 0, "numel < 0");
  }
  const std::string again = st::serialize(f);
  st::File g;
  try {
    g = st::parse(again, origin);
  } catch (const std::exception& e) {
    fuzz::bug(std::string("a written file does not read back: ") + e.what());
  }
  check(g.metadata == f.metadata, "metadata changed by a write and read");
  check(g.tensors.size() == f.tensors.size(), "tensor count changed by a write and read");
  for (const auto& [name, t] : f.tensors) {
    const auto& u = g.tensors.at(name);
    check(u.dtype == t.dtype && u.shape == t.shape && u.bytes == t.bytes, "tensor '" + name + "' changed");
  }
  return 0;
}
