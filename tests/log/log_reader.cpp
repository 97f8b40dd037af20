#include "log_reader.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace logread {
namespace {

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ReadError(file.string() + ": cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

uint64_t le(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

uint32_t crc_bitwise(const std::string& bytes, uint32_t poly) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (poly & (0u - (c & 1u)));
  }
  return ~c;
}

uint32_t mask(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xA282EAD8u; }

std::string str(const Message& m, uint32_t n) {
  const Field* f = first(m, n);
  return f ? f->bytes : "";
}
int64_t int_of(const Message& m, uint32_t n) {
  const Field* f = first(m, n);
  return f ? static_cast<int64_t>(f->num) : 0;
}

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

}  // namespace

uint32_t crc32c_bitwise(const std::string& bytes) { return crc_bitwise(bytes, 0x82F63B78u); }
uint32_t crc32_bitwise(const std::string& bytes) { return crc_bitwise(bytes, 0xEDB88320u); }

Message parse(const std::string& b) {
  Message m;
  size_t i = 0;
  auto varint = [&]() {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (i >= b.size()) throw ReadError("protobuf: truncated varint");
      unsigned char c = b[i++];
      v |= uint64_t(c & 0x7F) << shift;
      if (!(c & 0x80)) return v;
    }
    throw ReadError("protobuf: varint too long");
  };
  while (i < b.size()) {
    uint64_t key = varint();
    Field f;
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    if (f.number == 0) throw ReadError("protobuf: field number 0");
    switch (f.wire) {
      case 0: f.num = varint(); break;
      case 1:
        if (i + 8 > b.size()) throw ReadError("protobuf: truncated fixed64");
        f.num = le(b, i, 8);
        i += 8;
        break;
      case 2: {
        uint64_t n = varint();
        if (n > b.size() - i) throw ReadError("protobuf: length past the end");
        f.bytes = b.substr(i, n);
        i += n;
        break;
      }
      case 5:
        if (i + 4 > b.size()) throw ReadError("protobuf: truncated fixed32");
        f.num = le(b, i, 4);
        i += 4;
        break;
      default: throw ReadError("protobuf: unsupported wire type " + std::to_string(f.wire));
    }
    m.push_back(std::move(f));
  }
  return m;
}

const Field* first(const Message& m, uint32_t number) {
  for (const auto& f : m)
    if (f.number == number) return &f;
  return nullptr;
}

std::vector<const Field*> all(const Message& m, uint32_t number) {
  std::vector<const Field*> out;
  for (const auto& f : m)
    if (f.number == number) out.push_back(&f);
  return out;
}

double as_double(const Field& f) {
  double d;
  std::memcpy(&d, &f.num, 8);
  return d;
}

float as_float(const Field& f) {
  uint32_t bits = static_cast<uint32_t>(f.num);
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

std::vector<std::string> read_tfrecords(const std::filesystem::path& file) {
  return read_tfrecords_bytes(slurp(file), file.string());
}

std::vector<std::string> read_tfrecords_bytes(const std::string& s, const std::string& file) {
  std::vector<std::string> out;
  size_t off = 0;
  while (off < s.size()) {
    auto where = file + " @" + std::to_string(off);
    if (off + 12 > s.size()) throw ReadError(where + ": truncated record header");
    uint64_t len = le(s, off, 8);
    if (mask(crc32c_bitwise(s.substr(off, 8))) != le(s, off + 8, 4)) throw ReadError(where + ": length CRC mismatch");
    if (len > s.size() - off - 12 || s.size() - off - 12 - len < 4) throw ReadError(where + ": truncated payload");
    std::string payload = s.substr(off + 12, len);
    if (mask(crc32c_bitwise(payload)) != le(s, off + 12 + len, 4)) throw ReadError(where + ": payload CRC mismatch");
    out.push_back(std::move(payload));
    off += 16 + len;
  }
  return out;
}

std::vector<std::string> read_wandb_records(const std::filesystem::path& file) {
  return read_wandb_records_bytes(slurp(file), file.string());
}

std::vector<std::string> read_wandb_records_bytes(const std::string& s, const std::string& file) {
  const size_t kBlock = 32768;
  if (s.size() < 7 || s.compare(0, 4, ":W&B") != 0 || le(s, 4, 2) != 0xBEE1 || s[6] != 0)
    throw ReadError(file + ": not a W&B log (bad 7-byte header)");
  std::vector<std::string> out;
  std::string partial;
  bool in_record = false;
  size_t off = 7;
  while (off < s.size()) {
    auto where = file + " @" + std::to_string(off);
    size_t left = kBlock - off % kBlock;
    if (left < 7) {
      for (size_t k = 0; k < left && off + k < s.size(); ++k)
        if (s[off + k] != 0) throw ReadError(where + ": non-zero block trailer");
      off += left;
      continue;
    }
    if (off + 7 > s.size()) throw ReadError(where + ": truncated chunk header");
    uint32_t crc = static_cast<uint32_t>(le(s, off, 4));
    size_t len = le(s, off + 4, 2);
    int type = static_cast<unsigned char>(s[off + 6]);
    if (len > left - 7) throw ReadError(where + ": chunk crosses a block boundary");
    if (off + 7 + len > s.size()) throw ReadError(where + ": truncated chunk");
    std::string typed = s.substr(off + 6, 1 + len);
    if (crc32_bitwise(typed) != crc) throw ReadError(where + ": chunk CRC mismatch");
    std::string payload = typed.substr(1);
    switch (type) {
      case 1:
        if (in_record) throw ReadError(where + ": FULL chunk inside a record");
        out.push_back(payload);
        break;
      case 2:
        if (in_record) throw ReadError(where + ": FIRST chunk inside a record");
        partial = payload;
        in_record = true;
        break;
      case 3:
      case 4:
        if (!in_record) throw ReadError(where + ": MIDDLE/LAST chunk outside a record");
        partial += payload;
        if (type == 4) {
          out.push_back(partial);
          in_record = false;
        }
        break;
      default: throw ReadError(where + ": bad chunk type " + std::to_string(type));
    }
    off += 7 + len;
  }
  if (in_record) throw ReadError(file + ": file ends inside a record");
  return out;
}

TbRun read_tensorboard(const std::filesystem::path& file, TbRun run) {
  return read_tensorboard_bytes(slurp(file), file.string(), std::move(run));
}

TbRun read_tensorboard_bytes(const std::string& bytes, const std::string& file, TbRun run) {
  auto records = read_tfrecords_bytes(bytes, file);
  bool first_event = true;
  for (const auto& rec : records) {
    Message ev = parse(rec);
    ++run.events;
    int whats = 0;
    for (uint32_t n : {3u, 4u, 5u, 6u, 7u, 8u, 9u}) whats += static_cast<int>(all(ev, n).size());
    if (whats > 1) throw ReadError(file + ": event with several 'what' members");
    const Field* wt = first(ev, 1);
    if (wt && (!std::isfinite(as_double(*wt)) || as_double(*wt) < 0)) throw ReadError("bad wall_time");
    if (first_event) {
      run.file_version = str(ev, 3);
      if (run.file_version.rfind("brain.Event:", 0) != 0)
        throw ReadError(file + ": first event has no file_version");
      first_event = false;
      continue;
    }
    int64_t step = int_of(ev, 2);
    const Field* sum = first(ev, 5);
    if (!sum) continue;
    Message summary = parse(sum->bytes);
    for (const Field* vf : all(summary, 1)) {
      Message v = parse(vf->bytes);
      std::string tag = str(v, 1);
      if (tag.empty()) throw ReadError("value without a tag");
      int kinds = 0;
      for (uint32_t n : {2u, 3u, 4u, 5u, 6u, 8u}) kinds += static_cast<int>(all(v, n).size());
      if (kinds != 1) throw ReadError("value " + tag + " has " + std::to_string(kinds) + " kinds");
      std::string plugin;
      if (const Field* md = first(v, 9)) {
        Message meta = parse(md->bytes);
        if (const Field* pd = first(meta, 1)) plugin = str(parse(pd->bytes), 1);
      }
      if (const Field* sv = first(v, 2)) {
        if (sv->wire != 5) throw ReadError("simple_value not 32-bit");
        run.scalars.push_back({step, tag, as_float(*sv)});
      } else if (const Field* im = first(v, 4)) {
        Message img = parse(im->bytes);
        std::string png = str(img, 4);
        if (png.size() < 24 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || png.compare(12, 4, "IHDR") != 0)
          throw ReadError("image " + tag + " is not a PNG");
        auto be32 = [&](size_t at) {
          uint32_t x = 0;
          for (int k = 0; k < 4; ++k) x = (x << 8) | static_cast<unsigned char>(png[at + k]);
          return static_cast<int>(x);
        };
        TbImage ti{step, tag, static_cast<int>(int_of(img, 2)), static_cast<int>(int_of(img, 1)),
                   static_cast<int>(int_of(img, 3)), be32(16), be32(20)};
        if (ti.width != ti.png_width || ti.height != ti.png_height) throw ReadError("image size != PNG IHDR");
        run.images.push_back(ti);
      } else if (const Field* tf = first(v, 8)) {
        Message t = parse(tf->bytes);
        if (plugin == "text") {
          if (int_of(t, 1) != 7) throw ReadError("text " + tag + " is not DT_STRING");
          run.texts[tag] = str(t, 8);
        } else if (plugin == "hparams") {
          Message md = parse(first(v, 9)->bytes);
          Message pd = parse(first(md, 1)->bytes);
          Message data = parse(str(pd, 2));
          if (int_of(data, 1) != 0) throw ReadError("hparams plugin data version != 0");
          int members = static_cast<int>(all(data, 2).size() + all(data, 3).size() + all(data, 4).size());
          if (members != 1) throw ReadError("hparams data with " + std::to_string(members) + " members");
          if (const Field* ex = first(data, 2)) {
            if (tag != "_hparams_/experiment") throw ReadError("experiment under tag " + tag);
            Message e = parse(ex->bytes);
            for (const Field* h : all(e, 4)) run.hparam_infos.push_back(str(parse(h->bytes), 1));
            for (const Field* mi : all(e, 5)) run.metric_infos.push_back(str(parse(str(parse(mi->bytes), 1)), 2));
          } else if (const Field* ss = first(data, 3)) {
            if (tag != "_hparams_/session_start_info") throw ReadError("session_start_info under tag " + tag);
            Message si = parse(ss->bytes);
            run.group_name = str(si, 4);
            for (const Field* entry : all(si, 1)) {
              Message kv = parse(entry->bytes);
              Message val = parse(str(kv, 2));
              std::string text;
              if (const Field* n = first(val, 2)) text = fmt(as_double(*n));
              else if (const Field* st = first(val, 3)) text = st->bytes;
              else if (const Field* b = first(val, 4)) text = b->num ? "true" : "false";
              run.hparams[str(kv, 1)] = text;
            }
          } else {
            if (tag != "_hparams_/session_end_info") throw ReadError("session_end_info under tag " + tag);
            run.end_status = static_cast<int>(int_of(parse(first(data, 4)->bytes), 1));
          }
        }
      }
    }
  }
  return run;
}

WbRun read_wandb(const std::filesystem::path& file) { return read_wandb_bytes(slurp(file), file.string()); }

WbRun read_wandb_bytes(const std::string& bytes, const std::string& file) {
  WbRun r;
  auto items = [](const std::string& bytes, uint32_t field) {
    std::map<std::string, std::string> out;
    Message msg = parse(bytes);
    for (const Field* it : all(msg, field)) {
      Message m = parse(it->bytes);
      std::string key = str(m, 1);
      for (const Field* nk : all(m, 2)) key += (key.empty() ? "" : ".") + nk->bytes;
      out[key] = str(m, 16);
    }
    return out;
  };
  static const std::set<uint32_t> kinds{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18, 20, 21, 22, 23, 25, 26, 27};
  for (const auto& rec : read_wandb_records_bytes(bytes, file)) {
    Message m = parse(rec);
    std::vector<const Field*> members;
    for (const auto& f : m)
      if (kinds.count(f.number)) members.push_back(&f);
    if (members.size() != 1) throw ReadError("record with " + std::to_string(members.size()) + " record types");
    r.nums.push_back(int_of(m, 1));
    const Field& f = *members[0];
    switch (f.number) {
      case 21: r.has_header = true; break;
      case 17: {
        Message run = parse(f.bytes);
        ++r.run_records;
        r.run_id = str(run, 1);
        r.entity = str(run, 2);
        r.project = str(run, 3);
        if (const Field* c = first(run, 4))
          for (auto& [k, v] : items(c->bytes, 1)) r.config[k] = v;
        r.group = str(run, 6);
        r.job_type = str(run, 7);
        r.name = str(run, 8);
        r.notes = str(run, 9);
        for (const Field* t : all(run, 10)) r.tags.push_back(t->bytes);
        r.host = str(run, 13);
        if (const Field* st = first(run, 17)) r.start_time = int_of(parse(st->bytes), 1);
        break;
      }
      case 5:
        for (auto& [k, v] : items(f.bytes, 1)) r.config[k] = v;
        break;
      case 2: {
        auto row = items(f.bytes, 1);
        Message h = parse(f.bytes);
        int64_t step = first(h, 2) ? int_of(parse(first(h, 2)->bytes), 1) : 0;
        if (!row.count("_step") || std::stoll(row["_step"]) != step) throw ReadError("history step.num != _step");
        r.history.push_back(row);
        break;
      }
      case 3:
        for (auto& [k, v] : items(f.bytes, 1)) r.summary[k] = v;
        break;
      case 6: {
        Message files = parse(f.bytes);
        for (const Field* it : all(files, 1)) {
          Message fi = parse(it->bytes);
          r.files.push_back({str(fi, 1), static_cast<int>(int_of(fi, 2)), static_cast<int>(int_of(fi, 3))});
        }
        break;
      }
      case 7:
        r.stats.push_back(items(f.bytes, 3));
        r.stats_types.push_back(static_cast<int>(int_of(parse(f.bytes), 1)));
        break;
      case 13: r.output.push_back(str(parse(f.bytes), 3)); break;
      case 18: r.exit_code = static_cast<int32_t>(int_of(parse(f.bytes), 1)); break;
      case 20:
        if (r.exit_code == -999) throw ReadError("final record before the exit record");
        r.has_final = true;
        break;
      default: break;
    }
  }
  return r;
}

std::string describe(const TbRun& r) {
  std::ostringstream o;
  o << "tensorboard: " << r.file_version << ", " << r.events << " events\n";
  std::map<std::string, std::vector<TbScalar>> by_tag;
  for (const auto& s : r.scalars) by_tag[s.tag].push_back(s);
  for (const auto& [tag, v] : by_tag)
    o << "  scalar " << tag << ": " << v.size() << " values, steps " << v.front().step << ".." << v.back().step
      << ", last " << fmt(v.back().value) << "\n";
  for (const auto& im : r.images)
    o << "  image " << im.tag << " @" << im.step << ": " << im.width << "x" << im.height << " PNG, colorspace "
      << im.colorspace << "\n";
  for (const auto& [tag, t] : r.texts)
    o << "  text " << tag << ": " << t.size() << " chars: " << t.substr(0, t.find('\n', 10)) << " ...\n";
  o << "  hparams (" << r.group_name << "):";
  for (const auto& [k, v] : r.hparams) o << " " << k << "=" << v;
  o << "\n  metric infos:";
  for (const auto& m : r.metric_infos) o << " " << m;
  o << "\n  session end status " << r.end_status << "\n";
  return o.str();
}

std::string describe(const WbRun& r) {
  std::ostringstream o;
  o << "wandb: run " << r.run_id << " project=" << r.project << " entity=" << r.entity << " group=" << r.group
    << " name=" << r.name << " job_type=" << r.job_type << "\n  notes=\"" << r.notes << "\" tags=[";
  for (size_t i = 0; i < r.tags.size(); ++i) o << (i ? "," : "") << r.tags[i];
  o << "] host=" << r.host << " start_time=" << r.start_time << "\n  config keys:";
  for (const auto& [k, v] : r.config) o << " " << k;
  o << "\n  " << r.history.size() << " history rows, " << r.stats.size() << " stats records, " << r.output.size() << " console lines, records "
    << r.nums.size() << " (num " << (r.nums.empty() ? 0 : r.nums.front()) << ".."
    << (r.nums.empty() ? 0 : r.nums.back()) << ")\n";
  if (!r.history.empty()) {
    o << "  last row:";
    for (const auto& [k, v] : r.history.back()) o << " " << k << "=" << v;
    o << "\n";
  }
  o << "  summary:";
  for (const auto& [k, v] : r.summary) o << " " << k << "=" << v;
  o << "\n  files:";
  for (const auto& f : r.files) o << " " << f.path << "(policy " << f.policy << ")";
  o << "\n  exit_code " << r.exit_code << (r.has_final ? ", final record present" : ", NO final record") << "\n";
  return o.str();
}

}  // namespace logread
