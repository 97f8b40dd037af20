// Batches for the trainer and the validator, made by `num_workers` threads ahead of use (a bounded queue of
// `prefetch` batches), in a fixed order for a given seed and epoch whatever the number of threads.
//
//   auto train = vyolo::dataset::make_train_loader(cfg);
//   for (int epoch = 0; epoch < cfg.training.epochs; ++epoch) {
//     train->set_epoch(epoch, cfg.training.epochs);   // reshuffles; mosaic off for the last hyp.close_mosaic epochs
//     for (vyolo::dataset::Batch b; train->next(b);) { ... b.images (NCHW RGB 0..1), b.targets ... }
//   }
//   auto val = vyolo::dataset::make_val_loader(cfg);     // letterbox only, dataset order, ratio_pad per image
//   val->set_epoch(0, 1); for (Batch b; val->next(b);) { ... }
#pragma once
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config/config.h"
#include "dataset/augment.h"
#include "dataset/yolo_dataset.h"

namespace vyolo::dataset {

struct Batch {
  std::vector<float> images;  // n x c x h x w, RGB, 0..1, contiguous
  int n = 0, c = 3, h = 0, w = 0;
  std::vector<std::array<float, 6>> targets;  // batch_idx, cls, cx, cy, w, h (normalised to w, h)
  std::vector<std::string> paths;
  std::vector<std::pair<int, int>> orig_hw;   // original image size (h, w)
  // Validation: final pixel = original pixel * gain + pad, as {gain_x, gain_y, pad_x, pad_y} (Ultralytics ratio_pad).
  std::vector<std::array<float, 4>> ratio_pad;
  std::vector<size_t> indices;                // dataset indices
  int epoch = 0, batch_index = 0;
  bool mosaic = false;                        // made with mosaic on
};

struct LoaderOptions {
  int batch_size = 16;
  int num_workers = 2;   // 0: batches made in next() on the calling thread
  bool shuffle = true;
  uint64_t seed = 42;
  int prefetch = 4;      // batches made ahead
  int close_mosaic = 10;  // set_epoch turns mosaic off for the last N epochs (0: never; runs shorter than N: never)
  WarnFn warn;           // for images that fail to decode mid-run (skipped); default stderr
  // Rectangular validation (Ultralytics' rect): every epoch visits the images in `order`, and batch b is letterboxed
  // to batch_shapes[b] = (h, w). Empty: dataset order (or shuffled) at imgsz x imgsz.
  std::vector<size_t> order;
  std::vector<std::array<int, 2>> batch_shapes;
  // Distributed training: this rank's share of every epoch (rank_share of the epoch's order); batch_size is then
  // the rank's part of the batch.
  int rank = 0, world = 1;
  // Mosaic/MixUp partners from the recent window of the epoch's order (true) or from the whole dataset (false).
  bool recent_partners = true;
};

// data.mosaic_partners resolved: "recent" -> true, "any" -> false, "auto" -> Ultralytics 8.4's rule (its mosaic
// buffer is only used without cache=ram). Throws UsageError for anything else.
bool recent_partners(const DataConfig& data);

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const YoloDataset> ds, const HypConfig& hyp, AugmentOptions aug, LoaderOptions opt);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts epoch `epoch` (0-based) of `total`: new shuffle, mosaic per close_mosaic. Discards an unfinished epoch.
  void set_epoch(int epoch, int total);
  // The next batch of the current epoch; false at its end (the following call starts the next epoch).
  bool next(Batch& out);

  size_t num_batches() const;
  long skipped() const { return skipped_; }  // images that failed to load since construction (reported via warn)
  const YoloDataset& dataset() const { return *ds_; }
  Augmenter& augmenter() { return aug_; }

 private:
  void begin(int epoch);
  void worker();
  bool next_any(Batch& out);
  Batch make_batch(int epoch, int b, const std::shared_ptr<const std::vector<size_t>>& order) const;

  std::shared_ptr<const YoloDataset> ds_;
  Augmenter aug_;
  LoaderOptions opt_;
  double hyp_mosaic_ = 0;

  std::mutex m_;
  std::condition_variable cv_work_, cv_ready_;
  std::vector<std::thread> threads_;
  bool stop_ = false, active_ = false;
  int epoch_ = 0, next_epoch_ = 0;
  long generation_ = 0;
  std::shared_ptr<const std::vector<size_t>> order_;  // this epoch's sample order
  size_t window_ = 0;                                  // Mosaic/MixUp partner window (0: uniform)
  int nb_ = 0, next_task_ = 0, consumed_ = 0;
  std::map<int, Batch> ready_;
  std::exception_ptr error_;
  mutable std::mutex warn_m_;
  mutable std::atomic<long> skipped_{0};
};

// Loaders for a config (dataset from data.data_yaml or data.data_dir + split; hyp; data.batch_size, num_workers,
// cache, augmentation; seed). The train loader shuffles and augments (data.augmentation=false: letterbox only;
// data.augment_empty=false: images without boxes get only the letterbox). The val loader letterboxes
// without enlarging; with val.rect (default) as Ultralytics' rect batches: images sorted by aspect ratio h / w, each
// batch padded to its own shape (see rect_val_plan). Throws UsageError as YoloDataset::from_config.
// With `world` > 1 the loader gives rank `rank` its share of each epoch and data.batch_size / world images a batch
// (Ultralytics' DDP split of the batch).
std::unique_ptr<DataLoader> make_train_loader(const Config& cfg, WarnFn warn = {}, int rank = 0, int world = 1);
std::unique_ptr<DataLoader> make_val_loader(const Config& cfg, int batch_size = 0 /* 0: data.batch_size */,
                                            WarnFn warn = {});

// Ultralytics' set_rectangle for a dataset: the visiting order (ascending h / w of the original images, ties ordered
// as np.argsort does) and each batch's (h, w) for `batch_size` images at `imgsz` (stride 32, pad 0.5).
void rect_val_plan(const YoloDataset& ds, int batch_size, int imgsz, std::vector<size_t>& order,
                   std::vector<std::array<int, 2>>& batch_shapes);

// PyTorch's DistributedSampler: the epoch's order padded with its own first items to a multiple of `world`, then
// every world-th item from position `rank`. The shares are disjoint (but for the padding) and together cover it.
std::vector<size_t> rank_share(const std::vector<size_t>& order, int rank, int world);

// BGR 8-bit image -> planar RGB floats in 0..1 at dst (3*h*w values).
void bgr_to_chw_rgb(const cv::Mat& bgr, float* dst);

}  // namespace vyolo::dataset
