#include "log/record_io.h"

#include <array>
#include <cerrno>
#include <cstring>

#include <unistd.h>

#include "common/error.h"
#include "common/fault.h"

namespace vyolo::log {
namespace {

std::array<uint32_t, 256> make_table(uint32_t poly) {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t crc_update(const std::array<uint32_t, 256>& t, const void* data, size_t n, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = crc ^ 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = t[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put_le(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

constexpr uint64_t kBlock = 32768;
constexpr uint64_t kChunkHeader = 7;
enum ChunkType : uint8_t { kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4 };

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  static const auto table = make_table(0x82F63B78u);
  return crc_update(table, data, n, crc);
}

uint32_t masked_crc32c(const void* data, size_t n) {
  uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

uint32_t crc32_ieee(const void* data, size_t n, uint32_t crc) {
  static const auto table = make_table(0xEDB88320u);
  return crc_update(table, data, n, crc);
}

AppendFile::AppendFile(const std::filesystem::path& path, bool truncate_to_zero) : path_(path) {
  f_ = std::fopen(path.c_str(), truncate_to_zero ? "wb" : "ab");
  if (!f_) throw RuntimeError(path.string() + ": cannot open for writing: " + std::strerror(errno));
  std::setvbuf(f_, nullptr, _IONBF, 0);  // one write per record: a failure leaves no stray buffered bytes
  std::fseek(f_, 0, SEEK_END);
  size_ = static_cast<uint64_t>(std::ftell(f_));
}

AppendFile::~AppendFile() {
  if (f_) std::fclose(f_);
}

void AppendFile::write(const std::string& bytes) {
  size_t done = 0;
  if (kill_planned("append")) {  // tests: a kill halfway through a record
    done = std::fwrite(bytes.data(), 1, bytes.size() / 2, f_);
    std::fflush(f_);
    kill_point("append", path_.string());
  }
  if (done + std::fwrite(bytes.data() + done, 1, bytes.size() - done, f_) != bytes.size()) {
    int err = errno;
    // Cut the partial record off, so the file still ends on a record boundary.
    std::clearerr(f_);
    if (ftruncate(fileno(f_), static_cast<off_t>(size_)) != 0) { /* the reader sees a torn tail */ }
    throw RuntimeError(path_.string() + ": write failed: " + std::strerror(err));
  }
  size_ += bytes.size();
}

void AppendFile::flush() {
  if (std::fflush(f_) != 0) throw RuntimeError(path_.string() + ": write failed: " + std::strerror(errno));
}

uint64_t tfrecord_complete_prefix(const std::string& bytes) {
  auto le = [&](size_t at, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  uint64_t at = 0;
  while (at + 12 <= bytes.size()) {
    const uint64_t len = le(at, 8);
    if (le(at + 8, 4) != masked_crc32c(bytes.data() + at, 8)) break;
    if (len > bytes.size() - at - 16) break;
    if (le(at + 12 + len, 4) != masked_crc32c(bytes.data() + at + 12, len)) break;
    at += 16 + len;
  }
  return at;
}

void TFRecordWriter::write(const std::string& payload) {
  std::string rec;
  rec.reserve(payload.size() + 16);
  put_le(rec, payload.size(), 8);
  put_le(rec, masked_crc32c(rec.data(), 8), 4);
  rec += payload;
  put_le(rec, masked_crc32c(payload.data(), payload.size()), 4);
  file_.write(rec);
}

namespace {
// Drops a torn tail (a record cut short by a crash) so that appended records start on a clean boundary.
const std::filesystem::path& cut_back(const std::filesystem::path& path, uint64_t resume_at) {
  std::error_code ec;
  if (resume_at > 0 && std::filesystem::file_size(path, ec) > resume_at && !ec)
    std::filesystem::resize_file(path, resume_at);
  return path;
}
}  // namespace

WandbLogWriter::WandbLogWriter(const std::filesystem::path& path, uint64_t resume_at)
    : file_(cut_back(path, resume_at), resume_at == 0) {
  if (resume_at == 0) file_.write(std::string(":W&B\xE1\xBE\x00", 7));
}

void WandbLogWriter::write(const std::string& record) {
  std::string out;
  uint64_t off = file_.size();
  size_t pos = 0;
  bool first = true;
  while (true) {
    uint64_t left = kBlock - off % kBlock;
    if (left < kChunkHeader) {
      out.append(left, '\0');  // block trailer
      off += left;
      left = kBlock;
    }
    size_t avail = static_cast<size_t>(left - kChunkHeader);
    size_t rest = record.size() - pos;
    size_t n = rest < avail ? rest : avail;
    bool last = n == rest;
    uint8_t type = first && last ? kFull : first ? kFirst : last ? kLast : kMiddle;
    uint32_t crc = crc32_ieee(&type, 1);
    crc = crc32_ieee(record.data() + pos, n, crc);
    put_le(out, crc, 4);
    put_le(out, n, 2);
    out.push_back(static_cast<char>(type));
    out.append(record, pos, n);
    off += kChunkHeader + n;
    pos += n;
    first = false;
    if (last) break;
  }
  file_.write(out);
}

}  // namespace vyolo::log
