#include "data/png_encode.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include <libdeflate.h>

#include "common/error.h"

namespace vyolo {

namespace {

void put32(std::string& s, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
  s.append(b, 4);
}

void chunk(std::string& out, const char* type, const unsigned char* data, size_t n) {
  put32(out, static_cast<uint32_t>(n));
  const size_t start = out.size();
  out.append(type, 4);
  out.append(reinterpret_cast<const char*>(data), n);
  put32(out, libdeflate_crc32(0, out.data() + start, n + 4));
}

}  // namespace

std::string encode_png(const cv::Mat& img, int level) {
  const int depth = img.depth(), ch = img.channels();
  if ((depth != CV_8U && depth != CV_16U) || (ch != 1 && ch != 3))
    throw RuntimeError("encode_png: unsupported image type " + std::to_string(img.type()));
  const int bytes = depth == CV_16U ? 2 : 1;
  const size_t row_bytes = static_cast<size_t>(img.cols) * ch * bytes;
  // Raw scanlines in PNG byte order (big-endian samples, RGB), then the Up filter.
  std::vector<unsigned char> raw(static_cast<size_t>(img.rows) * (row_bytes + 1));
  std::vector<unsigned char> prev(row_bytes, 0), cur(row_bytes);
  for (int y = 0; y < img.rows; ++y) {
    const unsigned char* src = img.ptr<unsigned char>(y);
    if (bytes == 2 && ch == 1) {  // the common case (HU slices), without the general loop's branches
      const uint16_t* s16 = img.ptr<uint16_t>(y);
      for (int x = 0; x < img.cols; ++x) {
        cur[2 * x] = static_cast<unsigned char>(s16[x] >> 8);
        cur[2 * x + 1] = static_cast<unsigned char>(s16[x]);
      }
    } else {
      for (int x = 0; x < img.cols; ++x)
        for (int c = 0; c < ch; ++c) {
          const int sc = ch == 3 ? 2 - c : c;  // BGR Mat -> RGB file
          unsigned char* d = &cur[(static_cast<size_t>(x) * ch + c) * bytes];
          if (bytes == 2) {
            const uint16_t v = reinterpret_cast<const uint16_t*>(src)[x * ch + sc];
            d[0] = static_cast<unsigned char>(v >> 8);
            d[1] = static_cast<unsigned char>(v);
          } else {
            d[0] = src[x * ch + sc];
          }
        }
    }
    unsigned char* line = &raw[static_cast<size_t>(y) * (row_bytes + 1)];
    line[0] = 2;  // Up
    for (size_t i = 0; i < row_bytes; ++i) line[1 + i] = static_cast<unsigned char>(cur[i] - prev[i]);
    prev.swap(cur);
  }
  // libdeflate: a zlib stream like zlib's compress2, about twice as fast at low levels (0-12; 0 = stored).
  struct Compressor {
    libdeflate_compressor* c = nullptr;
    int level = -1;
    ~Compressor() { libdeflate_free_compressor(c); }
  };
  thread_local Compressor comp;
  level = std::clamp(level, 0, 12);
  if (!comp.c || comp.level != level) {
    libdeflate_free_compressor(comp.c);
    comp.c = libdeflate_alloc_compressor(level);
    comp.level = level;
    if (!comp.c) throw RuntimeError("encode_png: cannot allocate a compressor at level " + std::to_string(level));
  }
  std::vector<unsigned char> z(libdeflate_zlib_compress_bound(comp.c, raw.size()));
  const size_t zlen = libdeflate_zlib_compress(comp.c, raw.data(), raw.size(), z.data(), z.size());
  if (zlen == 0) throw RuntimeError("encode_png: compression failed");
  std::string out("\x89PNG\r\n\x1a\n", 8);
  unsigned char ihdr[13];
  const uint32_t w = static_cast<uint32_t>(img.cols), h = static_cast<uint32_t>(img.rows);
  for (int i = 0; i < 4; ++i) ihdr[i] = static_cast<unsigned char>(w >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) ihdr[4 + i] = static_cast<unsigned char>(h >> (24 - 8 * i));
  ihdr[8] = static_cast<unsigned char>(bytes * 8);
  ihdr[9] = ch == 3 ? 2 : 0;  // truecolour | greyscale
  ihdr[10] = ihdr[11] = ihdr[12] = 0;
  chunk(out, "IHDR", ihdr, 13);
  chunk(out, "IDAT", z.data(), zlen);
  chunk(out, "IEND", nullptr, 0);
  return out;
}

}  // namespace vyolo
