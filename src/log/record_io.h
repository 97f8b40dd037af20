// Append-only record files with checksummed framing, so that a run killed at any moment leaves every complete record
// readable: TFRecord (TensorBoard: length + masked CRC-32C) and W&B's LevelDB-style log (32 KiB blocks, CRC-32/IEEE
// over type byte + payload). Specs: ../shared/specs/tensorboard-events.md §2, wandb-offline.md §2.
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace vyolo::log {

uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);  // Castagnoli; crc32c("123456789") == 0xE3069283
uint32_t masked_crc32c(const void* data, size_t n);            // TFRecord's rotate-and-add mask
uint32_t crc32_ieee(const void* data, size_t n, uint32_t crc = 0);  // zlib's crc32; chainable

// An append-mode file whose writes throw RuntimeError (naming the path) when the OS refuses them (disk full).
class AppendFile {
 public:
  AppendFile(const std::filesystem::path& path, bool truncate_to_zero);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  void write(const std::string& bytes);
  void flush();
  uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::FILE* f_ = nullptr;
  uint64_t size_ = 0;
};

// The length of the longest prefix of `bytes` made of complete TFRecords with valid checksums: where a file torn by
// a kill should be cut back to.
uint64_t tfrecord_complete_prefix(const std::string& bytes);

// One TFRecord per call.
class TFRecordWriter {
 public:
  explicit TFRecordWriter(const std::filesystem::path& path) : file_(path, true) {}
  void write(const std::string& payload);
  void flush() { file_.flush(); }

 private:
  AppendFile file_;
};

// W&B transaction log. A new file gets the 7-byte `:W&B` header; `resume_at` > 0 appends to an existing log after
// cutting it back to that offset (the end of the last record known to be complete).
class WandbLogWriter {
 public:
  WandbLogWriter(const std::filesystem::path& path, uint64_t resume_at = 0);
  void write(const std::string& record);
  void flush() { file_.flush(); }
  uint64_t offset() const { return file_.size(); }

 private:
  AppendFile file_;
};

}  // namespace vyolo::log
