#include "data/dicom_walk.h"

#include <cstdio>

namespace vyolo {

namespace {

constexpr uint32_t kUndefined = 0xFFFFFFFF;
constexpr int kMaxDepth = 32;

std::string tag_text(uint16_t g, uint16_t e) {
  char b[16];
  std::snprintf(b, sizeof b, "(%04X,%04X)", g, e);
  return b;
}

class Walker {
 public:
  Walker(const std::string& b, DicomWalk& out) : b_(b), out_(out) {}

  // The file meta group (always explicit VR little endian); returns the transfer syntax UID.
  bool meta(size_t& pos, std::string& ts) {
    while (pos + 8 <= b_.size() && u16(pos, false) == 0x0002) {
      const uint16_t e = u16(pos + 2, false);
      size_t len, hdr;
      if (!header(pos, true, false, len, hdr)) return false;
      if (len == kUndefined) return fail("file meta element " + tag_text(2, e) + " of undefined length", pos);
      if (len > b_.size() - pos - hdr) return past_end(2, e, len, pos + hdr);
      if (e == 0x0010) {
        ts = b_.substr(pos + hdr, len);
        while (!ts.empty() && (ts.back() == '\0' || ts.back() == ' ')) ts.pop_back();
      }
      pos += hdr + len;
    }
    if (pos + 8 > b_.size() && pos < b_.size()) return fail("a data element header is cut off", pos);
    return true;
  }

  // Elements from pos up to end; with `in_seq`, until a sequence or item delimiter (returned in `closed`).
  bool elements(size_t& pos, size_t end, bool expl, bool big, int depth, bool top, bool* closed) {
    if (depth > kMaxDepth) return fail("sequences nested deeper than " + std::to_string(kMaxDepth) + " levels", pos);
    while (pos < end) {
      if (end - pos < 8) return fail("a data element header is cut off", pos);
      const uint16_t g = u16(pos, big), e = u16(pos + 2, big);
      if (g == 0xFFFE) {
        const uint32_t len = u32(pos + 4, big);
        pos += 8;
        if (e == 0xE00D || e == 0xE0DD) {  // item or sequence delimiter
          if (closed) *closed = true;
          return true;
        }
        if (e != 0xE000) return fail("unexpected element " + tag_text(g, e), pos - 8);
        if (len == kUndefined) {
          bool item_closed = false;
          if (!elements(pos, end, expl, big, depth + 1, false, &item_closed)) return false;
          if (!item_closed) return fail("an item of undefined length has no end (truncated?)", pos);
        } else {
          if (len > end - pos) return past_end(g, e, len, pos);
          size_t p = pos;
          if (!elements(p, pos + len, expl, big, depth + 1, false, nullptr)) return false;
          pos += len;
        }
        continue;
      }
      size_t len, hdr;
      if (!header(pos, expl, big, len, hdr)) return false;
      if (hdr > end - pos) return fail("a data element header is cut off", pos);
      const std::string vr = expl ? b_.substr(pos + 4, 2) : "";
      const bool pixels = g == 0x7FE0 && e == 0x0010;
      pos += hdr;
      if (top && ((g == 0x0028 && e == 0x0010) || pixels)) out_.image = true;
      if (len == kUndefined) {
        bool seq_closed = false;
        if (pixels) {
          out_.encapsulated = true;
          if (!fragments(pos, end, big, seq_closed)) return false;
        } else if (!elements(pos, end, expl, big, depth + 1, false, &seq_closed)) {
          return false;
        }
        if (!seq_closed) return fail("sequence " + tag_text(g, e) + " of undefined length has no end (truncated?)", pos);
        continue;
      }
      if (len > end - pos) return past_end(g, e, len, pos);
      if (top && pixels) out_.pixel_bytes = len;
      if (vr == "SQ") {
        size_t p = pos;
        if (!elements(p, pos + len, expl, big, depth + 1, false, nullptr)) return false;
      }
      pos += len;
    }
    return true;
  }

 private:
  // Encapsulated pixel data: items of raw bytes up to the sequence delimiter.
  bool fragments(size_t& pos, size_t end, bool big, bool& closed) {
    while (pos < end) {
      if (end - pos < 8) return fail("a pixel data fragment header is cut off", pos);
      const uint16_t g = u16(pos, big), e = u16(pos + 2, big);
      const uint32_t len = u32(pos + 4, big);
      pos += 8;
      if (g == 0xFFFE && e == 0xE0DD) {
        closed = true;
        return true;
      }
      if (g != 0xFFFE || e != 0xE000 || len == kUndefined) return fail("malformed pixel data fragment", pos - 8);
      if (len > end - pos) return past_end(g, e, len, pos);
      pos += len;
    }
    return true;
  }

  // Header of the element at pos: its value length and the header's size.
  bool header(size_t pos, bool expl, bool big, size_t& len, size_t& hdr) {
    if (!expl) {
      len = u32(pos + 4, big);
      hdr = 8;
      return true;
    }
    const char v0 = b_[pos + 4], v1 = b_[pos + 5];
    if (v0 < 'A' || v0 > 'Z' || v1 < 'A' || v1 > 'Z')
      return fail("element " + tag_text(u16(pos, big), u16(pos + 2, big)) + " has no valid VR", pos);
    const std::string vr{v0, v1};
    static const char* const long_vrs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
    bool long_form = false;
    for (const char* l : long_vrs) long_form = long_form || vr == l;
    if (long_form) {
      if (b_.size() - pos < 12) return fail("a data element header is cut off", pos);
      len = u32(pos + 8, big);
      hdr = 12;
    } else {
      len = u16(pos + 6, big);
      hdr = 8;
    }
    return true;
  }

  uint16_t u16(size_t p, bool big) const {
    const auto* d = reinterpret_cast<const unsigned char*>(b_.data() + p);
    return big ? uint16_t(d[0] << 8 | d[1]) : uint16_t(d[1] << 8 | d[0]);
  }
  uint32_t u32(size_t p, bool big) const {
    const auto* d = reinterpret_cast<const unsigned char*>(b_.data() + p);
    return big ? uint32_t(d[0]) << 24 | uint32_t(d[1]) << 16 | uint32_t(d[2]) << 8 | d[3]
               : uint32_t(d[3]) << 24 | uint32_t(d[2]) << 16 | uint32_t(d[1]) << 8 | d[0];
  }

  bool fail(const std::string& why, size_t at) {
    if (out_.error.empty()) out_.error = why + " at byte " + std::to_string(at);
    return false;
  }
  bool past_end(uint16_t g, uint16_t e, uint64_t len, size_t at) {
    return fail("element " + tag_text(g, e) + " declares " + std::to_string(len) + " bytes, the file has " +
                    std::to_string(b_.size() - at) + " left (truncated?)",
                at);
  }

  const std::string& b_;
  DicomWalk& out_;
};

}  // namespace

DicomWalk walk_dicom(const std::string& b) {
  DicomWalk out;
  Walker w(b, out);
  size_t pos = 0;
  bool expl = true, big = false;
  if (b.size() >= 132 && b.compare(128, 4, "DICM") == 0) {
    out.dicom = true;
    pos = 132;
    std::string ts;
    if (!w.meta(pos, ts)) return out;
    if (ts == "1.2.840.10008.1.2") expl = false;
    if (ts == "1.2.840.10008.1.2.2") big = true;
    if (ts == "1.2.840.10008.1.2.1.99") {
      out.deflated = true;
      return out;
    }
  } else {
    // No preamble (old files): the file meta group, or a data set that starts with group 0008 (explicit or implicit
    // VR little endian).
    if (b.size() < 8 || (b[0] != 0x08 && b[0] != 0x02) || b[1] != 0x00) return out;
    out.dicom = true;
    if (b[0] == 0x02) {
      std::string ts;
      if (!w.meta(pos, ts)) return out;
      if (ts == "1.2.840.10008.1.2.1.99") {
        out.deflated = true;
        return out;
      }
      if (ts == "1.2.840.10008.1.2") expl = false;
      if (ts == "1.2.840.10008.1.2.2") big = true;
    } else {
      expl = b[4] >= 'A' && b[4] <= 'Z' && b[5] >= 'A' && b[5] <= 'Z';
    }
  }
  w.elements(pos, b.size(), expl, big, 0, true, nullptr);
  return out;
}

}  // namespace vyolo
