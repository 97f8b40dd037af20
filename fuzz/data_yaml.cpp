// The Ultralytics data.yaml reader (src/dataset/yolo_dataset.cpp, parse_data_yaml). The image lister is a stand-in
// (one image per folder; a path containing "missing" does not exist), so no input can walk the real file system.
#include "dataset/yolo_dataset.h"
#include "fuzz_util.h"

using namespace vyolo;
using vyolo::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path yaml = fuzz::scratch() / "set" / "data.yaml";
  auto list = [](const std::filesystem::path& p) -> std::vector<std::string> {
    if (p.string().find("missing") != std::string::npos)
      throw UsageError("image source " + p.string() + " does not exist (expected a folder or a .txt list)");
    return {(p / "a.png").string()};
  };
  fuzz::expect_errors_naming(yaml.string(), [&] {
    const dataset::DataYaml d = dataset::parse_data_yaml(fuzz::as_text(data, size), yaml, list);
    check(!d.names.empty(), "no names");
  });
  return 0;
}
