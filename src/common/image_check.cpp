#include "common/image_check.h"

#include <fstream>
#include <iterator>

namespace vyolo {

std::string jpeg_problem(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[2] = {};
  if (!in.read(head, 2) || static_cast<unsigned char>(head[0]) != 0xFF || static_cast<unsigned char>(head[1]) != 0xD8)
    return {};
  const std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t sos = b.rfind("\xFF\xDA");
  if (sos == std::string::npos) return "truncated JPEG (no image data: no start-of-scan marker)";
  if (b.find("\xFF\xD9", sos + 2) == std::string::npos)
    return "truncated JPEG (no end-of-image marker after the image data)";
  return {};
}

}  // namespace vyolo
