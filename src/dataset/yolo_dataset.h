// A YOLO detection dataset: image files, their checked labels and a loader of decoded images.
// Sources (DESIGN.md §5): our prepare output `<data_dir>/images/<view>/` + `labels/<view>/` (16-bit HU PNGs windowed
// at load time with data.hu_windows, or 8-bit images), filtered by the split's patient lists; or an Ultralytics
// data.yaml (data.data_yaml). Labels are checked once and kept in a cache file next to the label folder
// (`labels/<view>.vyolo-cache.json`, JSON, per-file size+mtime stamps), so a later run or another fold starts at once.
// The name is our own: Ultralytics' `labels/<view>.cache` (a NumPy pickle) is never read, written or removed, so both
// tools can share a dataset folder. When the dataset folder is read-only the cache goes to
// `$XDG_CACHE_HOME/vyolo/labels/` (else `$HOME/.cache/vyolo/labels/`) as `<FNV-1a of the absolute label folder
// path>.vyolo-cache.json`, with one note; when that fails too, labels are re-checked each time (one warning).
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "config/config.h"
#include "dataset/labels.h"

namespace vyolo::dataset {

enum class Role { Train, Val };

struct ImageInfo {
  std::string image, label;
  int h0 = 0, w0 = 0;        // original size
  bool hu = false;           // 16-bit HU slice (windowed at load; no colour augmentation)
  std::vector<Label> labels;
};

// What loading found; every skipped item and bad line is also in `messages`.
struct DatasetReport {
  int images = 0;            // usable images
  int found = 0;             // label files found (incl. empty ones)
  int missing = 0;           // no label file: a negative image
  int empty = 0;             // label file with no valid box
  int corrupt = 0;           // images skipped (unreadable, too small, unsupported type)
  int bad_lines = 0, duplicates = 0;
  long boxes = 0;
  int cached = 0;            // entries taken from the label cache
  std::vector<std::string> messages;
  std::string summary() const;  // "N images, F labels found, M missing, E empty, C corrupt, B boxes, L bad lines"
};

using WarnFn = std::function<void(const std::string&)>;

struct DatasetOptions {
  int imgsz = 256;
  int nc = 1;
  std::vector<std::string> names{"fracture"};
  HuWindows hu_windows;
  bool cache_ram = false;    // keep decoded, resized images in memory
  int threads = 2;           // for checking images and filling the RAM cache
  bool use_label_cache = true;
  bool require_boxes = false;  // UsageError when no image has a box (training)
  WarnFn warn;               // where messages go as they are found; default stderr
};

// A decoded image: CV_8UC3 BGR, resized (INTER_LINEAR) so that the long side equals imgsz, aspect kept.
struct LoadedImage {
  cv::Mat img;
  int h0 = 0, w0 = 0;
  bool hu = false;
};

class HuLut;

class YoloDataset {
 public:
  // `name` is used in messages. Throws UsageError when no usable image remains.
  YoloDataset(std::vector<std::string> image_files, std::string name, DatasetOptions opt);
  ~YoloDataset();

  // The train or val set a config asks for (data_yaml, or data_dir + view + split patients). Throws UsageError for a
  // missing folder, an empty split, a split naming patients without images, no usable images, or (Train) no boxes.
  static std::shared_ptr<YoloDataset> from_config(const Config& cfg, Role role, WarnFn warn = {});

  size_t size() const { return items_.size(); }
  const ImageInfo& info(size_t i) const { return items_[i]; }
  const DatasetReport& report() const { return report_; }
  const DatasetOptions& options() const { return opt_; }
  const std::string& name() const { return name_; }

  // Thread-safe. Throws RuntimeError naming the file when it can no longer be decoded. The image is shared with
  // the caches: do not modify it in place.
  LoadedImage load(size_t i) const;

  // Keeps the `entries` most recently loaded images (LRU) so that Mosaic's partners, drawn from recent images, are
  // decoded once. Results never depend on it; 0 turns it off. Not needed with the RAM cache.
  void set_recent_cache(size_t entries) const;

 private:
  void check_all(const std::vector<std::string>& files);
  void fill_ram_cache();

  std::string name_;
  DatasetOptions opt_;
  std::vector<ImageInfo> items_;
  std::vector<cv::Mat> ram_;
  std::shared_ptr<const HuLut> lut_;
  struct Recent;
  std::unique_ptr<Recent> recent_;
  DatasetReport report_;
};

// Image files (bmp, jpg, jpeg, png, tif, tiff, webp) under a folder, recursively, sorted; or the lines of a .txt list
// (relative entries resolved against the list's folder). Throws UsageError when the path does not exist.
std::vector<std::string> list_images(const std::filesystem::path& folder_or_txt);

// An Ultralytics data.yaml with train/val resolved to image files. `path` relative to the yaml's folder (or the
// current directory when that does not exist); train/val relative to `path`; each a folder, a .txt list or a list
// of those. Names from a list or a {id: name} map. Throws UsageError naming the file and key on a problem.
struct DataYaml {
  std::filesystem::path root;
  std::vector<std::string> train, val;
  std::vector<std::string> names;
};
DataYaml read_data_yaml(const std::filesystem::path& yaml_path);
// The same from the file's text (`yaml_path` for messages and relative paths); `list` resolves each train/val entry
// (list_images in read_data_yaml; the fuzz target passes a stand-in).
using ImageLister = std::function<std::vector<std::string>(const std::filesystem::path&)>;
DataYaml parse_data_yaml(const std::string& text, const std::filesystem::path& yaml_path, const ImageLister& list);

// Decodes one image file: CV_16UC1 for an HU slice (value = HU + 32768), else CV_8UC3 BGR (grey expanded, alpha
// dropped, 16-bit colour scaled to 8 bits). Empty Mat and `why` set when it cannot be used.
cv::Mat decode_image(const std::string& path, std::string* why);

// window_hu (src/data/hu_window.h) as a table: built once from window_hu itself, so identical to it, and cheap
// per image. Throws UsageError for a window with max <= min.
class HuLut {
 public:
  explicit HuLut(const HuWindows& w);
  cv::Mat apply(const cv::Mat& hu16) const;  // CV_16UC1 -> CV_8UC3

 private:
  std::vector<uint8_t> lut_;  // 3 bytes per uint16 value
};

}  // namespace vyolo::dataset
