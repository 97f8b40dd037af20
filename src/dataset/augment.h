// Training augmentation as Ultralytics' v8_transforms (augment.py), and the validation letterbox.
// Pipeline per training sample: load (long side = imgsz) -> Mosaic (4 images on a 2*imgsz canvas, random centre)
// + RandomPerspective cropping back to imgsz, or LetterBox + RandomPerspective -> MixUp -> RandomHSV (8-bit inputs
// only; HU-windowed channels are not colours) -> vertical flip -> horizontal flip.
// Every random draw comes from a per-sample generator seeded by (seed, epoch, index), so results do not depend on
// the number of worker threads.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <opencv2/core.hpp>

#include "config/config.h"
#include "dataset/yolo_dataset.h"

namespace vyolo::dataset {

struct Box {
  int cls = 0;
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // pixels of Sample::img
};

struct Sample {
  cv::Mat img;                 // CV_8UC3 BGR
  std::vector<Box> boxes;
  bool hu = false;             // holds an HU-windowed image: no HSV
  size_t index = 0;            // dataset index of the (first) source image
  int h0 = 0, w0 = 0;          // its original size
  // Original -> final pixel mapping (validation): x_final = x_orig * gain_x + pad_x. Meaningless after augmentation.
  float gain_x = 1, gain_y = 1, pad_x = 0, pad_y = 0;
};

// Deterministic random numbers that do not depend on the standard library's distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  double uniform() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  int randint(int lo, int hi) { return lo + static_cast<int>(uniform() * (hi - lo + 1)); }  // inclusive
  double normal();
  double gamma(double shape);  // shape >= 1 (Marsaglia-Tsang)
  double beta(double a, double b);

 private:
  std::mt19937_64 g_;
};

// The seed of one sample's generator.
uint64_t sample_seed(uint64_t seed, int epoch, size_t index);

// Dataset image `i` as a sample: resized image, boxes in its pixels.
Sample load_sample(const YoloDataset& ds, size_t i);

// Ultralytics LetterBox (centre pad 114). Updates boxes and the gain/pad fields.
void letterbox(Sample& s, int new_h, int new_w, bool scaleup);

// Ultralytics RandomPerspective. `border` is the mosaic border (-imgsz/2 for a mosaic, 0 otherwise): the output is
// (w + 2*border) x (h + 2*border). Boxes: corners warped, clipped, then Ultralytics' box_candidates filter.
void random_perspective(Sample& s, const HypConfig& h, int border, Rng& rng);

// Ultralytics' 2x2 mosaic of four resized samples on a 2*imgsz canvas; boxes clipped to it, empty ones dropped.
Sample mosaic4(const Sample* tiles, int imgsz, Rng& rng);

// MixUp: a*r + b*(1-r), r ~ Beta(32, 32); boxes of both. Same image size required.
void mixup(Sample& a, const Sample& b, Rng& rng);

// RandomHSV on an 8-bit BGR image (in place), Ultralytics >= 8.3.79 LUTs.
void random_hsv(cv::Mat& img, double hgain, double sgain, double vgain, Rng& rng);

// Flips with probabilities p_ud, then p_lr.
void random_flip(Sample& s, double p_ud, double p_lr, Rng& rng);

struct AugmentOptions {
  bool augment = true;         // false: letterbox only (validation)
  bool augment_empty = true;   // false: images without boxes get only the letterbox (the upstream option)
  bool mosaic = true;          // cleared by close_mosaic, which also turns MixUp off
};

// Where Mosaic and MixUp draw their other images from. Ultralytics draws from a buffer of recently loaded images;
// the equivalent here is the `window` positions before `pos` in the epoch's order (wrapping), which are also the
// images most likely still in the loader's decode cache. Without a pool: uniform over the dataset.
struct PartnerPool {
  const std::vector<size_t>* order = nullptr;
  size_t pos = 0;
  size_t window = 128;
};

// Produces final imgsz x imgsz samples from a dataset.
class Augmenter {
 public:
  Augmenter(std::shared_ptr<const YoloDataset> ds, HypConfig hyp, AugmentOptions opt);
  Sample get(size_t index, uint64_t seed, const PartnerPool* pool = nullptr) const;
  // Validation with rectangular batches: the image letterboxed (never enlarged) into its batch's h x w.
  Sample letterboxed(size_t index, int h, int w) const;
  void set_mosaic(bool on) { mosaic_ = on; }  // safe while workers run; takes effect for samples made after
  bool mosaic() const { return mosaic_; }
  const AugmentOptions& options() const { return opt_; }
  const YoloDataset& dataset() const { return *ds_; }

 private:
  Sample pre_transform(Sample s, Rng& rng, const PartnerPool* pool) const;
  size_t partner(Rng& rng, const PartnerPool* pool) const;
  std::shared_ptr<const YoloDataset> ds_;
  HypConfig hyp_;
  AugmentOptions opt_;
  std::atomic<bool> mosaic_;
};

}  // namespace vyolo::dataset
