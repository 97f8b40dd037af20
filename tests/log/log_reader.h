// An independent reader for the files the loggers write, used only by the tests: it decodes TFRecord and W&B's
// LevelDB-style framing, checks every CRC (bitwise CRC code of its own, not the writer's tables), and pulls the
// protobuf fields out of the wire format by hand with the field numbers of ../shared/specs/ (not the writer's
// generated classes). Any framing or checksum error throws ReadError naming the file and offset.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace logread {

struct ReadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

uint32_t crc32c_bitwise(const std::string& bytes);
uint32_t crc32_bitwise(const std::string& bytes);

// One protobuf field: varints (and fixed32/fixed64 bit patterns) in `num`, length-delimited payloads in `bytes`.
struct Field {
  uint32_t number = 0;
  int wire = 0;
  uint64_t num = 0;
  std::string bytes;
};
using Message = std::vector<Field>;
Message parse(const std::string& bytes);  // throws ReadError on a malformed message
const Field* first(const Message& m, uint32_t number);
std::vector<const Field*> all(const Message& m, uint32_t number);
const Field* first(Message&&, uint32_t) = delete;  // would point into a temporary
std::vector<const Field*> all(Message&&, uint32_t) = delete;
double as_double(const Field& f);
float as_float(const Field& f);

// `name` only labels errors; the *_bytes forms read a file's content already in memory.
std::vector<std::string> read_tfrecords_bytes(const std::string& s, const std::string& name);
std::vector<std::string> read_wandb_records_bytes(const std::string& s, const std::string& name);
std::vector<std::string> read_tfrecords(const std::filesystem::path& file);
std::vector<std::string> read_wandb_records(const std::filesystem::path& file);

struct TbScalar {
  int64_t step;
  std::string tag;
  float value;
};
struct TbImage {
  int64_t step;
  std::string tag;
  int width, height, colorspace, png_width, png_height;
};
struct TbRun {
  std::string file_version;
  int events = 0;
  std::vector<TbScalar> scalars;
  std::map<std::string, std::string> texts;
  std::vector<TbImage> images;
  std::map<std::string, std::string> hparams;  // name -> value as text
  std::string group_name;
  std::vector<std::string> hparam_infos, metric_infos;
  int end_status = -1;
};
TbRun read_tensorboard_bytes(const std::string& s, const std::string& name, TbRun run = {});
TbRun read_tensorboard(const std::filesystem::path& file, TbRun run = {});

struct WbFile {
  std::string path;
  int policy, type;
};
struct WbRun {
  std::string run_id, entity, project, group, job_type, name, notes, host;
  std::vector<std::string> tags;
  int64_t start_time = 0;
  int run_records = 0;
  std::map<std::string, std::string> config;                  // key -> value_json
  std::vector<std::map<std::string, std::string>> history;   // key -> value_json
  std::vector<std::map<std::string, std::string>> stats;
  std::vector<int> stats_types;                               // StatsRecord.stats_type (0 SYSTEM)
  std::vector<std::string> output;                            // OutputRawRecord lines
  std::map<std::string, std::string> summary;                 // merged updates; nested keys joined by '.'
  std::vector<WbFile> files;
  std::vector<int64_t> nums;
  bool has_header = false, has_final = false;
  int exit_code = -999;
};
WbRun read_wandb_bytes(const std::string& s, const std::string& name);
WbRun read_wandb(const std::filesystem::path& file);

std::string describe(const TbRun& r);
std::string describe(const WbRun& r);

}  // namespace logread
