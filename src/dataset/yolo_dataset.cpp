#include "dataset/yolo_dataset.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <list>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <yaml-cpp/yaml.h>

#include "common/clip.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "common/image_check.h"
#include "common/json_text.h"
#include "config/yaml_error.h"
#include "data/hu_window.h"
#include "dataset/label_cache.h"

namespace fs = std::filesystem;

namespace vyolo::dataset {

namespace {

// Our label cache's file-name suffix. No Ultralytics version uses it (Ultralytics keeps a NumPy pickle at
// labels/<split>.cache), so both tools can share one dataset folder.
constexpr const char* kCacheSuffix = ".vyolo-cache.json";

const std::set<std::string>& image_exts() {
  static const std::set<std::string> e{"bmp", "jpg", "jpeg", "png", "tif", "tiff", "webp"};
  return e;
}

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  if (ext.empty()) return false;
  ext = ext.substr(1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return image_exts().count(ext) > 0;
}

// Runs fn(i) for i in [0, n) on `threads` threads; the first exception is rethrown.
void parallel_for(size_t n, int threads, const std::function<void(size_t)>& fn) {
  threads = std::max(1, std::min<int>(threads, static_cast<int>(n)));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr err;
  std::mutex m;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < n;) {
        try {
          fn(i);
        } catch (...) {
          std::lock_guard<std::mutex> lk(m);
          if (!err) err = std::current_exception();
        }
      }
    });
  for (auto& t : pool) t.join();
  if (err) std::rethrow_exception(err);
}

Stamp stamp(const std::string& p) {
  std::error_code ec;
  Stamp s;
  const auto sz = fs::file_size(p, ec);
  if (ec) return s;
  const auto t = fs::last_write_time(p, ec);
  if (ec) return s;
  s.size = static_cast<long long>(sz);
  s.mtime = static_cast<long long>(t.time_since_epoch().count());
  return s;
}

using Entry = CacheEntry;

Entry check_one(const std::string& image, const std::string& label, int nc) {
  Entry e;
  e.img = stamp(image);
  e.lab = stamp(label);
  if (e.img.size < 0) {
    e.bad = "cannot read image file";
  } else {
    std::string why;
    cv::Mat m = decode_image(image, &why);
    e.hu = m.type() == CV_16UC1;
    if (m.empty()) {
      e.bad = why;
    } else if (m.rows < 10 || m.cols < 10) {
      e.bad = "image size " + std::to_string(m.cols) + "x" + std::to_string(m.rows) + " below 10 pixels";
    } else {
      e.h0 = m.rows, e.w0 = m.cols;
    }
  }
  if (!e.bad.empty()) {
    e.msgs.push_back(image + ": skipped, " + e.bad);
    return e;
  }
  if (e.lab.size >= 0) {
    std::string text;
    try {
      text = read_file(label);
    } catch (const std::exception& ex) {
      e.msgs.push_back(label + ": cannot read label file (" + ex.what() + "); image used without boxes");
      e.lab.size = -2;  // found but unreadable: counted as found, no boxes
      return e;
    }
    LabelParse p = parse_labels(text, label, nc);
    e.labels = std::move(p.labels);
    e.msgs = std::move(p.warnings);
    e.bad_lines = p.bad_lines;
    e.duplicates = p.duplicates;
  }
  return e;
}

void default_warn(const std::string& m) { std::cerr << "WARNING " << m << "\n"; }

// FNV-1a, 64 bit, as 16 hex digits.
std::string fnv1a_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// The user cache folder for label caches of datasets we cannot write beside: $XDG_CACHE_HOME/vyolo/labels (an
// absolute XDG_CACHE_HOME only, as the XDG spec asks), else $HOME/.cache/vyolo/labels; empty when neither is set.
// vyolo before 0.2 wrote its JSON cache at Ultralytics' own path (labels/<split>.cache), which makes Ultralytics fail
// on that folder. Such a file is ours (a JSON object with our keys; Ultralytics' is a NumPy file starting with
// "\x93NUMPY"), so it is removed; anything else at that path is left alone.
void remove_legacy_cache(const fs::path& p, const WarnFn& warn) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) > (size_t(1) << 30)) return;
  try {
    const std::string text = read_file(p);
    if (text.empty() || text[0] != '{') return;
    const auto j = nlohmann::json::parse(text);
    if (!j.is_object() || !j.contains("version") || !j.contains("entries") || !j.contains("nc")) return;
  } catch (const std::exception&) {
    return;
  }
  if (fs::remove(p, ec))
    warn(p.string() + ": removed the label cache an older vyolo wrote at Ultralytics' cache path (ours is now " +
         p.stem().string() + kCacheSuffix + ")");
}

fs::path user_label_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg && fs::path(xdg).is_absolute()) return fs::path(xdg) / "vyolo" / "labels";
  const char* home = std::getenv("HOME");
  if (home && *home) return fs::path(home) / ".cache" / "vyolo" / "labels";
  return {};
}

// Prints `msg` through `warn` once per process for each `key`.
void warn_once(const WarnFn& warn, const std::string& key, const std::string& msg) {
  static std::mutex m;
  static std::set<std::string> said;
  {
    std::lock_guard<std::mutex> lk(m);
    if (!said.insert(key).second) return;
  }
  warn(msg);
}

// A cache file of ours, parsed, or null when absent, unreadable, of another version or class count, or (with
// `label_dir` set: the user cache, named by a hash) of another label folder.
nlohmann::json read_cache(const fs::path& p, int nc, const std::string& label_dir, const WarnFn& warn) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return nullptr;
  try {
    return parse_label_cache(read_file(p), nc, label_dir, p.string());
  } catch (const std::exception& e) {
    warn(std::string(e.what()) + "; ignored");
    return nullptr;
  }
}

}  // namespace

std::string DatasetReport::summary() const {
  std::ostringstream s;
  s << images << " images, " << found << " labels found, " << missing << " missing, " << empty << " empty, "
    << corrupt << " corrupt, " << boxes << " boxes";
  if (bad_lines) s << ", " << bad_lines << " bad label lines skipped";
  if (duplicates) s << ", " << duplicates << " duplicate labels removed";
  return s.str();
}

cv::Mat decode_image(const std::string& path, std::string* why) {
  if (std::string problem = jpeg_problem(path); !problem.empty()) {
    if (why) *why = problem;
    return {};
  }
  cv::Mat m;
  try {
    m = cv::imread(path, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
  } catch (const cv::Exception& e) {
    if (why) *why = std::string("cannot decode image: ") + e.what();
    return {};
  }
  if (m.empty()) {
    if (why) *why = "cannot decode image (corrupt or unsupported format)";
    return {};
  }
  const int depth = m.depth(), ch = m.channels();
  if (depth == CV_16U && ch == 1) {
    // 16-bit grey is read as HU + 32768 (prepare's encoding, DESIGN.md §5). An image whose brightest pixel would be
    // below -4096 HU is no CT slice (air is -1000 HU, scanner padding -3024 at most): a 16-bit X-ray or export
    // (values 0..4095, ...) that would come out black after the HU windows.
    double mx = 0;
    cv::minMaxLoc(m, nullptr, &mx);
    if (mx < 32768 - 4096) {
      if (why)
        *why = "16-bit grey image with values up to " + std::to_string(static_cast<int>(mx)) +
               ", not HU + 32768 (vyolo's 16-bit CT encoding; every pixel would be below -4096 HU): convert it to "
               "8 bits, or make it with `vyolo prepare`";
      return {};
    }
    return m;
  }
  if (depth == CV_16U) {
    m.convertTo(m, CV_8U, 1.0 / 256.0);
  } else if (depth != CV_8U) {
    if (why) *why = "unsupported pixel type (depth " + std::to_string(depth) + ")";
    return {};
  }
  cv::Mat out;
  if (ch == 1)
    cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
  else if (ch == 4)
    cv::cvtColor(m, out, cv::COLOR_BGRA2BGR);
  else if (ch == 3)
    out = m;
  else {
    if (why) *why = "unsupported channel count " + std::to_string(ch);
    return {};
  }
  return out;
}

HuLut::HuLut(const HuWindows& w) {
  cv::Mat all(256, 256, CV_16UC1);
  for (int v = 0; v < 65536; ++v) all.at<uint16_t>(v / 256, v % 256) = static_cast<uint16_t>(v);
  cv::Mat table;
  try {
    table = window_hu(all, w);
  } catch (const RuntimeError& e) {
    throw UsageError(std::string("data.hu_windows: ") + e.what());
  }
  lut_.assign(table.ptr<uint8_t>(), table.ptr<uint8_t>() + 3 * 65536);
}

cv::Mat HuLut::apply(const cv::Mat& hu16) const {
  cv::Mat out(hu16.rows, hu16.cols, CV_8UC3);
  const uint8_t* t = lut_.data();
  for (int y = 0; y < hu16.rows; ++y) {
    const uint16_t* src = hu16.ptr<uint16_t>(y);
    uint8_t* dst = out.ptr<uint8_t>(y);
    for (int x = 0; x < hu16.cols; ++x) {
      const uint8_t* e = t + 3 * size_t(src[x]);
      dst[3 * x] = e[0], dst[3 * x + 1] = e[1], dst[3 * x + 2] = e[2];
    }
  }
  return out;
}

std::vector<std::string> list_images(const fs::path& p) {
  std::vector<std::string> out;
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::follow_directory_symlink, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec) && is_image(it->path())) out.push_back(it->path().string());
    if (ec) throw UsageError("cannot list image folder " + p.string() + ": " + ec.message());
  } else if (fs::is_regular_file(p, ec) && p.extension() == ".txt") {
    std::istringstream in(read_file(p));
    const fs::path parent = p.parent_path();
    for (std::string line; std::getline(in, line);) {
      line.erase(0, line.find_first_not_of(" \t\r"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (line.empty()) continue;
      fs::path f(line);
      if (f.is_relative()) f = parent / f;
      out.push_back(f.lexically_normal().string());
    }
  } else {
    throw UsageError("image source " + p.string() + " does not exist (expected a folder or a .txt list)");
  }
  std::sort(out.begin(), out.end());
  return out;
}

DataYaml read_data_yaml(const fs::path& yaml_path) {
  std::string text;
  try {
    text = read_file(yaml_path);
  } catch (const std::exception& e) {
    throw UsageError("cannot read data.yaml " + yaml_path.string() + ": " + e.what());
  }
  return parse_data_yaml(text, yaml_path, list_images);
}

DataYaml parse_data_yaml(const std::string& text, const fs::path& yaml_path, const ImageLister& list) {
  const std::string where = "data.yaml " + yaml_path.string();
  // "data.yaml PATH:LINE:COL" of a node, for messages about its value.
  auto at = [&](const YAML::Mark& m) {
    return where + (m.is_null() ? "" : ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1));
  };
  YAML::Node y;
  try {
    y = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UsageError(at(e.mark) + ": malformed YAML: " + yaml_error_text(e));
  } catch (const std::exception& e) {
    throw UsageError("cannot read " + where + ": " + e.what());
  }
  if (!y.IsMap()) throw UsageError(where + ": expected a mapping with keys path, train, val, names");
  // A value of the wrong kind (a list where a path belongs, a name that is a map, ...) is an error naming the key and
  // its line, not yaml-cpp's bare "bad conversion".
  auto text_of = [&](const YAML::Node& n, const std::string& key) -> std::string {
    if (n.IsNull()) return "null";
    if (!n.IsScalar())
      throw UsageError(at(n.Mark()) + ": key '" + key + "' must be a string, not a " +
                       (n.IsSequence() ? "list" : "map"));
    return n.Scalar();
  };
  DataYaml d;
  const fs::path ydir = yaml_path.parent_path();
  fs::path root = ydir;
  if (y["path"] && !y["path"].IsNull()) {
    root = text_of(y["path"], "path");
    if (root.is_relative()) {
      std::error_code ec;
      if (fs::is_directory(ydir / root, ec)) {
        root = ydir / root;
      } else {
        root = fs::absolute(root, ec);
        if (ec) throw UsageError(where + ": key 'path': " + ec.message());
      }
    }
  }
  d.root = root.lexically_normal();
  auto resolve = [&](const char* key) {
    std::vector<std::string> files;
    const YAML::Node n = y[key];
    if (!n || n.IsNull()) return files;
    std::vector<std::string> srcs;
    if (n.IsSequence())
      for (const auto& s : n) srcs.push_back(text_of(s, key));
    else
      srcs.push_back(text_of(n, key));
    for (const auto& s : srcs) {
      fs::path p(s);
      if (p.is_relative()) p = d.root / p;
      try {
        auto f = list(p.lexically_normal());
        files.insert(files.end(), f.begin(), f.end());
      } catch (const UsageError& e) {
        throw UsageError(where + ": key '" + key + "': " + e.what());
      }
    }
    return files;
  };
  if (!y["train"]) throw UsageError(where + ": missing key 'train'");
  d.train = resolve("train");
  d.val = resolve("val");
  const YAML::Node names = y["names"];
  if (!names) throw UsageError(where + ": missing key 'names'");
  if (names.IsSequence()) {
    for (const auto& n : names) d.names.push_back(text_of(n, "names"));
  } else if (names.IsMap()) {
    std::map<int, std::string> m;
    for (const auto& kv : names) {
      const std::string id = text_of(kv.first, "names");
      char* end = nullptr;
      errno = 0;
      const long k = std::strtol(id.c_str(), &end, 10);
      if (id.empty() || *end || errno || k < 0 || k > 1000000)
        throw UsageError(at(kv.first.Mark()) + ": 'names' ids must be integers 0..N-1, got '" + clip(id, 40) + "'");
      m[static_cast<int>(k)] = text_of(kv.second, "names");
    }
    int i = 0;
    for (const auto& [k, v] : m) {
      if (k != i++) throw UsageError(where + ": 'names' ids must be 0..N-1 without gaps");
      d.names.push_back(v);
    }
  } else {
    throw UsageError(at(names.Mark()) + ": 'names' must be a list or a {id: name} map");
  }
  if (d.names.empty()) throw UsageError(where + ": 'names' is empty");
  if (const YAML::Node nc = y["nc"]; nc && !nc.IsNull()) {
    const std::string t = text_of(nc, "nc");
    if (t != std::to_string(d.names.size()))
      throw UsageError(at(nc.Mark()) + ": nc is " + clip(t, 40) + " but 'names' has " +
                       std::to_string(d.names.size()) + " entries (Ultralytics requires them to agree)");
  }
  return d;
}

struct YoloDataset::Recent {
  std::mutex m;
  size_t capacity = 0;
  std::list<size_t> order;  // most recent first
  std::unordered_map<size_t, std::pair<cv::Mat, std::list<size_t>::iterator>> map;
};

YoloDataset::~YoloDataset() = default;

void YoloDataset::set_recent_cache(size_t entries) const {
  std::lock_guard<std::mutex> lk(recent_->m);
  recent_->capacity = entries;
  recent_->order.clear();
  recent_->map.clear();
}

YoloDataset::YoloDataset(std::vector<std::string> files, std::string name, DatasetOptions opt)
    : name_(std::move(name)), opt_(std::move(opt)), recent_(std::make_unique<Recent>()) {
  if (!opt_.warn) opt_.warn = default_warn;
  if (opt_.nc < 1) throw UsageError(name_ + ": number of classes must be >= 1");
  if (files.empty()) throw UsageError(name_ + ": no images");
  lut_ = std::make_shared<HuLut>(opt_.hu_windows);
  check_all(files);
  if (items_.empty())
    throw UsageError(name_ + ": no usable images (" + std::to_string(report_.corrupt) + " corrupt, see messages)");
  if (opt_.require_boxes && report_.boxes == 0)
    throw UsageError(name_ + ": no labels: " + std::to_string(items_.size()) + " images but not one box (" +
                     std::to_string(report_.missing) + " label files missing, " + std::to_string(report_.empty) +
                     " empty); expected labels/<...>/<image>.txt with lines 'cls cx cy w h'");
  if (opt_.cache_ram) fill_ram_cache();
}

void YoloDataset::check_all(const std::vector<std::string>& files) {
  const size_t n = files.size();
  std::vector<std::string> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = label_path_for(files[i]);

  // The cache lives next to the label folder: labels/<view> -> labels/<view>.vyolo-cache.json (never Ultralytics'
  // labels/<view>.cache, which is neither read nor written). When the dataset folder cannot be written, the cache
  // goes to the user cache folder instead, named by a hash of the absolute label folder path.
  const fs::path label_dir = fs::path(labels[0]).parent_path();
  std::error_code aec;
  fs::path label_abs = fs::absolute(label_dir, aec);
  if (aec) label_abs = label_dir;
  label_abs = label_abs.lexically_normal();
  const fs::path side_path = label_dir.string() + kCacheSuffix;
  const fs::path user_dir = user_label_cache_dir();
  const fs::path user_path =
      user_dir.empty() ? fs::path() : user_dir / (fnv1a_hex(label_abs.string()) + kCacheSuffix);
  nlohmann::json cache;
  std::unordered_map<std::string, const nlohmann::json*> cached;
  if (opt_.use_label_cache) remove_legacy_cache(label_dir.string() + ".cache", opt_.warn);
  if (opt_.use_label_cache) {
    // Both may exist (the folder became read-only after a run): the newer one wins.
    cache = read_cache(side_path, opt_.nc, "", opt_.warn);
    if (!user_path.empty()) {
      nlohmann::json u = read_cache(user_path, opt_.nc, label_abs.string(), opt_.warn);
      std::error_code e1, e2;
      if (!u.is_null() &&
          (cache.is_null() || fs::last_write_time(user_path, e1) > fs::last_write_time(side_path, e2)))
        cache = std::move(u);
    }
    if (cache.is_object())
      for (auto it = cache["entries"].begin(); it != cache["entries"].end(); ++it) cached[it.key()] = &it.value();
  }

  std::vector<Entry> entries(n);
  std::vector<char> hit(n, 0);
  parallel_for(n, opt_.threads, [&](size_t i) {
    auto it = cached.find(files[i]);
    if (it != cached.end()) {
      try {
        Entry e = cache_entry_from_json(*it->second, opt_.nc);
        if (e.img == stamp(files[i]) && e.lab == stamp(labels[i])) {
          entries[i] = std::move(e);
          hit[i] = 1;
          return;
        }
      } catch (const std::exception&) {
      }
    }
    entries[i] = check_one(files[i], labels[i], opt_.nc);
  });

  for (size_t i = 0; i < n; ++i) {
    Entry& e = entries[i];
    report_.cached += hit[i];
    for (const auto& m : e.msgs) {
      report_.messages.push_back(m);
      opt_.warn(m);
    }
    if (!e.bad.empty()) {
      ++report_.corrupt;
      continue;
    }
    report_.bad_lines += e.bad_lines;
    report_.duplicates += e.duplicates;
    if (e.lab.size == -1) {
      ++report_.missing;
    } else {
      ++report_.found;
      if (e.labels.empty()) ++report_.empty;
    }
    report_.boxes += static_cast<long>(e.labels.size());
    ImageInfo info;
    info.image = files[i];
    info.label = labels[i];
    info.h0 = e.h0, info.w0 = e.w0, info.hu = e.hu;
    info.labels = e.labels;
    items_.push_back(std::move(info));
  }
  report_.images = static_cast<int>(items_.size());

  const bool changed = std::find(hit.begin(), hit.end(), 0) != hit.end();
  if (opt_.use_label_cache && changed) {
    nlohmann::json out;
    out["version"] = kLabelCacheVersion;
    out["nc"] = opt_.nc;
    out["label_dir"] = label_abs.string();
    nlohmann::json& ent = out["entries"] = nlohmann::json::object();
    std::error_code ec;
    for (const auto& [path, j] : cached)  // keep other splits' entries while their files exist
      if (fs::exists(path, ec)) ent[path] = *j;
    for (size_t i = 0; i < n; ++i) ent[files[i]] = cache_entry_to_json(entries[i]);
    const std::string bytes = json_text(out);  // file names need not be UTF-8
    // Beside the labels when that folder is writable (write_file_atomic leaves no temp file behind on failure).
    std::string side_err = "folder not writable";
    const fs::path side_dir = side_path.has_parent_path() ? side_path.parent_path() : fs::path(".");
    if (::access(side_dir.c_str(), W_OK) == 0) {
      try {
        write_file_atomic(side_path, bytes);
        return;
      } catch (const std::exception& e) {
        side_err = e.what();
      }
    }
    std::string user_err = "no user cache folder ($XDG_CACHE_HOME and $HOME unset)";
    if (!user_path.empty()) {
      try {
        write_file_atomic(user_path, bytes);
        warn_once(opt_.warn, "note " + user_path.string(),
                  "label cache kept in " + user_path.string() + " (cannot write beside the labels: " +
                      side_path.string() + ": " + side_err + ")");
        return;
      } catch (const std::exception& e) {
        user_err = e.what();
      }
    }
    warn_once(opt_.warn, "fail " + label_abs.string(),
              "label cache not written, labels are checked again next time (" + side_path.string() + ": " +
                  side_err + "; " + user_err + ")");
  }
}

void YoloDataset::fill_ram_cache() {
  ram_.assign(items_.size(), cv::Mat());
  std::vector<cv::Mat> tmp(items_.size());
  parallel_for(items_.size(), opt_.threads, [&](size_t i) { tmp[i] = load(i).img; });
  ram_ = std::move(tmp);
}

LoadedImage YoloDataset::load(size_t i) const {
  const ImageInfo& info = items_.at(i);
  LoadedImage out;
  out.h0 = info.h0, out.w0 = info.w0, out.hu = info.hu;
  if (!ram_.empty() && !ram_[i].empty()) {
    out.img = ram_[i];
    return out;
  }
  Recent& rc = *recent_;
  {
    std::lock_guard<std::mutex> lk(rc.m);
    if (rc.capacity) {
      auto it = rc.map.find(i);
      if (it != rc.map.end()) {
        rc.order.splice(rc.order.begin(), rc.order, it->second.second);
        out.img = it->second.first;
        return out;
      }
    }
  }
  std::string why;
  cv::Mat m = decode_image(info.image, &why);
  if (m.empty()) throw RuntimeError(info.image + ": " + why);
  if (m.type() == CV_16UC1) m = lut_->apply(m);
  const int s = opt_.imgsz;
  const double r = static_cast<double>(s) / std::max(m.rows, m.cols);
  if (r != 1.0) {
    const int w = std::min(static_cast<int>(std::ceil(m.cols * r)), s);
    const int h = std::min(static_cast<int>(std::ceil(m.rows * r)), s);
    cv::Mat resized;
    cv::resize(m, resized, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
    m = resized;
  }
  out.img = m;
  std::lock_guard<std::mutex> lk(rc.m);
  if (rc.capacity && !rc.map.count(i)) {
    rc.order.push_front(i);
    rc.map.emplace(i, std::make_pair(m, rc.order.begin()));
    while (rc.map.size() > rc.capacity) {
      rc.map.erase(rc.order.back());
      rc.order.pop_back();
    }
  }
  return out;
}

std::shared_ptr<YoloDataset> YoloDataset::from_config(const Config& cfg, Role role, WarnFn warn) {
  const char* rname = role == Role::Train ? "train" : "val";
  DatasetOptions opt;
  opt.imgsz = cfg.data.image_size;
  opt.hu_windows = cfg.data.hu_windows;
  opt.cache_ram = cfg.data.cache == "ram";
  opt.threads = std::max(1, cfg.data.num_workers);
  opt.require_boxes = role == Role::Train;
  opt.warn = std::move(warn);
  if (!cfg.data.cache.empty() && cfg.data.cache != "ram")
    throw UsageError("data.cache must be '' or 'ram', got '" + cfg.data.cache + "'");

  if (!cfg.data.data_yaml.empty()) {
    DataYaml d = read_data_yaml(cfg.data.data_yaml);
    opt.names = d.names;
    opt.nc = static_cast<int>(d.names.size());
    auto& files = role == Role::Train ? d.train : d.val;
    const std::string name = cfg.data.data_yaml + " (" + rname + ")";
    if (files.empty()) throw UsageError(name + ": no images listed under '" + rname + "'");
    return std::make_shared<YoloDataset>(std::move(files), name, std::move(opt));
  }

  opt.names = cfg.data.names;
  opt.nc = cfg.data.num_classes;
  const fs::path root(cfg.data.data_dir);
  fs::path imgdir = root / "images" / cfg.data.view;
  std::error_code ec;
  if (!fs::is_directory(imgdir, ec)) imgdir = root / "images";
  if (!fs::is_directory(imgdir, ec))
    throw UsageError("data.data_dir=" + root.string() + ": no images folder (expected " +
                     (root / "images" / cfg.data.view).string() + "); run `vyolo prepare` or set data.data_yaml");
  const auto& patients = role == Role::Train ? cfg.split.train_patients : cfg.split.val_patients;
  const std::string key = std::string("split.") + rname + "_patients";
  if (patients.empty())
    throw UsageError("split fold_" + std::to_string(cfg.split.fold_id) + ": " + key +
                     " is empty; choose a split (split=fold_K) made by `vyolo split`");
  std::vector<std::string> all = list_images(imgdir);
  std::set<std::string> have;
  for (const auto& f : all) have.insert(patient_id(f));
  const std::set<std::string> want(patients.begin(), patients.end());
  std::vector<std::string> unknown;
  for (const auto& p : want)
    if (!have.count(p)) unknown.push_back(p);
  if (!unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < unknown.size() && i < 10; ++i) list += (i ? ", " : "") + unknown[i];
    if (unknown.size() > 10) list += ", ...";
    throw UsageError(key + " names " + std::to_string(unknown.size()) + " patient(s) with no images in " +
                     imgdir.string() + ": " + list + " (does the split belong to this dataset?)");
  }
  std::vector<std::string> files;
  for (auto& f : all)
    if (want.count(patient_id(f))) files.push_back(std::move(f));
  const std::string name = imgdir.string() + " (" + rname + ", " + std::to_string(want.size()) + " patients)";
  return std::make_shared<YoloDataset>(std::move(files), name, std::move(opt));
}

}  // namespace vyolo::dataset
