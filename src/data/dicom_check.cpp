#include "data/dicom_check.h"

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

namespace vyolo {

namespace {

constexpr uint32_t kUndefined = 0xFFFFFFFFu;
constexpr int kMaxDepth = 16;                          // nested sequences
constexpr size_t kMaxInflated = size_t(1) << 31;      // a deflated dataset inflates to at most 2 GiB

struct Bad : std::runtime_error {
  using std::runtime_error::runtime_error;
};

uint16_t u16(const std::string& b, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1]) << 8);
}
uint32_t u32(const std::string& b, size_t at) {
  return static_cast<uint32_t>(u16(b, at)) | static_cast<uint32_t>(u16(b, at + 2)) << 16;
}

std::string hex_tag(uint16_t g, uint16_t e) {
  char s[16];
  std::snprintf(s, sizeof s, "(%04X,%04X)", g, e);
  return s;
}

bool is_vr(const char* v) {
  static const std::set<std::string> vrs = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO",
                                            "LT", "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ",
                                            "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};
  return vrs.count(std::string(v, 2)) > 0;
}

// VRs whose explicit encoding has 2 reserved bytes and a 32-bit length.
bool long_vr(const char* v) {
  static const std::set<std::string> vrs = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT",
                                            "UV"};
  return vrs.count(std::string(v, 2)) > 0;
}

// Walks data elements in b[at, end). `explicit_vr`: the dataset's encoding. Stops at an item or sequence delimiter
// when `until_delimiter` (returning past it), else at `end`.
class Walker {
 public:
  Walker(const std::string& b, bool explicit_vr) : b_(b), explicit_(explicit_vr) {}

  // The top-level elements of group 0028 (the Image Pixel Module): tag element -> (value offset, length).
  std::map<uint16_t, std::pair<size_t, uint32_t>> pixel_module;
  DicomInfo info;

  size_t dataset(size_t at, size_t end, int depth, bool until_delimiter) {
    if (depth > kMaxDepth) throw Bad("sequences nested deeper than " + std::to_string(kMaxDepth));
    while (at < end) {
      if (end - at < 8) throw Bad("truncated data element at byte " + std::to_string(at));
      const uint16_t g = u16(b_, at), e = u16(b_, at + 2);
      if (g == 0xFFFE) {
        const uint32_t len = u32(b_, at + 4);
        if (e == 0xE00D && until_delimiter) {
          if (len != 0) throw Bad("item delimiter with a length at byte " + std::to_string(at));
          return at + 8;
        }
        throw Bad("unexpected " + hex_tag(g, e) + " at byte " + std::to_string(at));
      }
      const size_t next = element(at, end, depth);
      const bool pixels = g == 0x7FE0 && e == 0x0010;
      if (depth == 0 && (g == 0x0028 || pixels)) {
        const uint32_t len = explicit_ ? (long_vr(b_.data() + at + 4) ? u32(b_, at + 8) : u16(b_, at + 6))
                                       : u32(b_, at + 4);
        if (pixels || e == 0x0010) info.image = true;
        if (pixels && len == kUndefined) info.encapsulated = true;
        if (pixels && len != kUndefined) info.pixel_bytes = len;
        if (g == 0x0028 && len != kUndefined) pixel_module[e] = {next - len, len};
      }
      at = next;
    }
    if (until_delimiter) throw Bad("item without its delimiter (truncated?)");
    return at;
  }

 private:
  size_t element(size_t at, size_t end, int depth) {
    const uint16_t g = u16(b_, at), e = u16(b_, at + 2);
    bool sq = false;
    uint32_t len;
    size_t value;
    if (explicit_) {
      const char* vr = b_.data() + at + 4;
      if (!is_vr(vr)) throw Bad("element " + hex_tag(g, e) + " has no valid VR at byte " + std::to_string(at));
      sq = std::memcmp(vr, "SQ", 2) == 0;
      if (long_vr(vr)) {
        if (end - at < 12) throw Bad("truncated element " + hex_tag(g, e));
        len = u32(b_, at + 8);
        value = at + 12;
      } else {
        len = u16(b_, at + 6);
        value = at + 8;
      }
      if (len == kUndefined && !sq && std::memcmp(vr, "UN", 2) != 0 && !(g == 0x7FE0 && e == 0x0010))
        throw Bad("element " + hex_tag(g, e) + " of undefined length is not a sequence");
    } else {
      len = u32(b_, at + 4);
      value = at + 8;
    }
    if (len == kUndefined) {
      if (g == 0x7FE0 && e == 0x0010) return fragments(value, end);
      return sequence(value, end, depth, /*defined_end=*/0);
    }
    if (len > end - value)
      throw Bad("element " + hex_tag(g, e) + " of " + std::to_string(len) + " bytes runs past the end (truncated?)");
    if (sq) sequence(value, value + len, depth, value + len);
    return value + len;
  }

  // Items of a sequence, up to `defined_end` (defined length) or to the sequence delimiter.
  size_t sequence(size_t at, size_t end, int depth, size_t defined_end) {
    for (;;) {
      if (defined_end && at == defined_end) return at;
      if (end - at < 8) throw Bad("truncated sequence at byte " + std::to_string(at));
      const uint16_t g = u16(b_, at), e = u16(b_, at + 2);
      const uint32_t len = u32(b_, at + 4);
      if (g == 0xFFFE && e == 0xE0DD && !defined_end) {
        if (len != 0) throw Bad("sequence delimiter with a length at byte " + std::to_string(at));
        return at + 8;
      }
      if (g != 0xFFFE || e != 0xE000) throw Bad("expected an item at byte " + std::to_string(at));
      at += 8;
      if (len == kUndefined) {
        at = dataset(at, end, depth + 1, true);
      } else {
        if (len > end - at) throw Bad("item of " + std::to_string(len) + " bytes runs past its sequence");
        dataset(at, at + len, depth + 1, false);
        at += len;
      }
    }
  }

  // Encapsulated pixel data: items of defined length (the offset table, then fragments) and the sequence delimiter.
  size_t fragments(size_t at, size_t end) {
    for (;;) {
      if (end - at < 8) throw Bad("truncated encapsulated pixel data");
      const uint16_t g = u16(b_, at), e = u16(b_, at + 2);
      const uint32_t len = u32(b_, at + 4);
      if (g == 0xFFFE && e == 0xE0DD) {
        // GDCM reads (and allocates) a delimiter's length as if it were a fragment's.
        if (len != 0) throw Bad("sequence delimiter with a length in the encapsulated pixel data");
        return at + 8;
      }
      if (g != 0xFFFE || e != 0xE000 || len == kUndefined)
        throw Bad("bad fragment in encapsulated pixel data at byte " + std::to_string(at));
      if (len > end - at - 8) throw Bad("pixel data fragment runs past the end (truncated?)");
      at += 8 + len;
    }
  }

  const std::string& b_;
  bool explicit_;
};

// The Image Pixel Module values GDCM asserts on (PixelFormat): samples per pixel 1, 3 or 4; bits allocated 8, 16,
// 32 or 64; 1 <= bits stored <= min(bits allocated, 32); high bit < bits allocated; pixel representation 0 or 1.
void check_pixel_module(const std::string& b, const Walker& w) {
  auto us = [&](uint16_t e, const char* name) -> int {
    auto it = w.pixel_module.find(e);
    if (it == w.pixel_module.end()) return -1;
    if (it->second.second != 2) throw Bad(std::string(name) + " " + hex_tag(0x0028, e) + " is not one US value");
    return u16(b, it->second.first);
  };
  const int spp = us(0x0002, "Samples per Pixel"), alloc = us(0x0100, "Bits Allocated");
  const int stored = us(0x0101, "Bits Stored"), high = us(0x0102, "High Bit"), rep = us(0x0103, "Pixel Representation");
  if (spp != -1 && spp != 1 && spp != 3 && spp != 4) throw Bad("Samples per Pixel " + std::to_string(spp));
  if (alloc != -1 && alloc != 8 && alloc != 16 && alloc != 32 && alloc != 64)
    throw Bad("unsupported Bits Allocated " + std::to_string(alloc));
  const int a = alloc == -1 ? 16 : alloc;
  if (stored != -1 && (stored < 1 || stored > a || stored > 32)) throw Bad("Bits Stored " + std::to_string(stored));
  if (high != -1 && high >= a) throw Bad("High Bit " + std::to_string(high));
  if (rep != -1 && rep != 0 && rep != 1) throw Bad("Pixel Representation " + std::to_string(rep));
}

std::string inflate_raw(const std::string& in, size_t at) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Bad("cannot start inflating the deflated dataset");
  std::string out;
  char buf[1 << 15];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + at));
  z.avail_in = static_cast<uInt>(in.size() - at);
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > kMaxInflated) rc = Z_MEM_ERROR;
  } while (rc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
  inflateEnd(&z);
  if (rc != Z_STREAM_END) throw Bad("the deflated dataset is corrupt or truncated");
  return out;
}

}  // namespace

DicomCheck check_dicom_structure(const std::string& b, std::string* why, DicomInfo* info) {
  const bool part10 = b.size() >= 132 && std::memcmp(b.data() + 128, "DICM", 4) == 0;
  try {
    if (!part10) {
      // No preamble: a bare dataset starting with group 0008, explicit or implicit VR little endian as GDCM guesses
      // from the first element. Anything else (a meta group without the preamble, big endian ACR-NEMA, ...) takes
      // other GDCM paths that assert on broken input: not read.
      if (b.size() < 8) throw Bad("too short");
      if (u16(b, 0) != 0x0008) throw Bad("neither the DICM preamble nor a dataset starting with group 0008");
      Walker w(b, is_vr(b.data() + 4));
      w.dataset(0, b.size(), 0, false);
      check_pixel_module(b, w);
      if (info) *info = w.info;
      return DicomCheck::Ok;
    }
    // File Meta Information: explicit VR little endian group 0002 elements, (0002,0000) group length first.
    size_t at = 132;
    if (b.size() - at < 12 || u16(b, at) != 0x0002 || u16(b, at + 2) != 0x0000 || std::memcmp(b.data() + at + 4, "UL", 2) ||
        u16(b, at + 6) != 4)
      throw Bad("the File Meta Information does not start with its group length (0002,0000)");
    const uint32_t group_len = u32(b, at + 8);
    at += 12;
    if (group_len > b.size() - at) throw Bad("the File Meta Information runs past the end of the file");
    const size_t meta_end = at + group_len;
    Walker(b, true).dataset(at, meta_end, 0, false);  // well-formed, so the loop below stays inside it
    std::string ts;
    for (size_t p = at; p < meta_end;) {
      const uint16_t g = u16(b, p), e = u16(b, p + 2);
      if (g != 0x0002) throw Bad("element " + hex_tag(g, e) + " inside the File Meta Information group length");
      const bool lv = long_vr(b.data() + p + 4);
      const size_t value = p + (lv ? 12 : 8);
      const uint32_t len = lv ? u32(b, p + 8) : u16(b, p + 6);
      if (len == kUndefined) throw Bad("element " + hex_tag(g, e) + " of undefined length in the File Meta Information");
      if (e == 0x0010) {
        ts.assign(b.data() + value, len);
        while (!ts.empty() && (ts.back() == '\0' || ts.back() == ' ')) ts.pop_back();
      }
      p = value + len;
    }
    if (ts.empty()) throw Bad("no transfer syntax (0002,0010) in the File Meta Information");
    if (ts == "1.2.840.10008.1.2.2") throw Bad("explicit VR big endian (retired) is not supported");
    // GDCM 3.0's RLE decoder asserts (aborts the process) when a stream decodes to another length than the image's;
    // telling which streams it accepts would mean decoding them here, so RLE files are refused (found by fuzzing).
    if (ts == "1.2.840.10008.1.2.5")
      throw Bad("RLE Lossless pixel data is not read (GDCM aborts on a corrupt RLE stream); convert the series to "
                "uncompressed or JPEG 2000 first, e.g. gdcmconv --raw");
    const bool explicit_vr = ts != "1.2.840.10008.1.2";
    if (ts == "1.2.840.10008.1.2.1.99") {
      const std::string body = inflate_raw(b, meta_end);
      Walker w(body, true);
      w.dataset(0, body.size(), 0, false);
      check_pixel_module(body, w);
      if (info) *info = w.info, info->deflated = true;
    } else {
      Walker w(b, explicit_vr);
      w.dataset(meta_end, b.size(), 0, false);
      check_pixel_module(b, w);
      if (info) *info = w.info;
    }
    return DicomCheck::Ok;
  } catch (const Bad& e) {
    if (why) *why = e.what();
    return part10 ? DicomCheck::Malformed : DicomCheck::NotDicom;
  }
}

}  // namespace vyolo
