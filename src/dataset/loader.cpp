#include "dataset/loader.h"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <numeric>

#include "common/error.h"
#include "ops/letterbox.h"

namespace vyolo::dataset {

void bgr_to_chw_rgb(const cv::Mat& bgr, float* dst) {
  static const auto lut = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = static_cast<float>(i) / 255.0f;
    return t;
  }();
  const int h = bgr.rows, w = bgr.cols;
  const size_t plane = static_cast<size_t>(h) * w;
  float *r = dst, *g = dst + plane, *b = dst + 2 * plane;
  for (int y = 0; y < h; ++y) {
    const uint8_t* p = bgr.ptr<uint8_t>(y);
    const size_t o = static_cast<size_t>(y) * w;
    for (int x = 0; x < w; ++x) {
      b[o + x] = lut[p[3 * x]];
      g[o + x] = lut[p[3 * x + 1]];
      r[o + x] = lut[p[3 * x + 2]];
    }
  }
}

DataLoader::DataLoader(std::shared_ptr<const YoloDataset> ds, const HypConfig& hyp, AugmentOptions aug,
                       LoaderOptions opt)
    : ds_(ds), aug_(ds, hyp, aug), opt_(std::move(opt)), hyp_mosaic_(hyp.mosaic) {
  if (opt_.batch_size < 1) throw UsageError("data.batch_size must be >= 1, got " + std::to_string(opt_.batch_size));
  if (opt_.num_workers < 0) throw UsageError("data.num_workers must be >= 0");
  if (!opt_.order.empty() && opt_.order.size() != ds_->size())
    throw RuntimeError("internal: loader order covers " + std::to_string(opt_.order.size()) + " of " +
                       std::to_string(ds_->size()) + " images");
  if (!opt_.batch_shapes.empty() && opt_.batch_shapes.size() != num_batches())
    throw RuntimeError("internal: " + std::to_string(opt_.batch_shapes.size()) + " batch shapes for " +
                       std::to_string(num_batches()) + " batches");
  opt_.prefetch = std::max(1, opt_.prefetch);
  if (!opt_.warn) opt_.warn = [](const std::string& m) { std::cerr << "WARNING " << m << "\n"; };
  // Ultralytics' mosaic buffer length: min(n, batch * 8, 1000); the decode cache holds that window plus the batches
  // in flight, so partners are rarely decoded twice. Without the window (window_ 0) partners come from anywhere.
  if (aug.augment && opt_.recent_partners) {
    window_ = std::min<size_t>({ds_->size(), static_cast<size_t>(opt_.batch_size) * 8, 1000});
    if (!ds_->options().cache_ram)
      ds_->set_recent_cache(window_ + static_cast<size_t>(opt_.batch_size) * (opt_.prefetch + opt_.num_workers + 1));
  }
  for (int i = 0; i < opt_.num_workers; ++i) threads_.emplace_back([this] { worker(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (auto& t : threads_) t.join();
}

size_t DataLoader::num_batches() const {
  const size_t n = opt_.world > 1 ? (ds_->size() + opt_.world - 1) / opt_.world : ds_->size();
  return (n + opt_.batch_size - 1) / opt_.batch_size;
}

std::vector<size_t> rank_share(const std::vector<size_t>& order, int rank, int world) {
  if (world <= 1 || order.empty()) return order;
  const size_t per = (order.size() + world - 1) / world;
  std::vector<size_t> out;
  out.reserve(per);
  for (size_t k = static_cast<size_t>(rank); k < per * world; k += world) out.push_back(order[k % order.size()]);
  return out;
}

void DataLoader::begin(int epoch) {
  // caller holds m_
  ++generation_;
  epoch_ = epoch;
  next_epoch_ = epoch + 1;
  auto order = std::make_shared<std::vector<size_t>>(ds_->size());
  std::iota(order->begin(), order->end(), size_t{0});
  if (!opt_.order.empty()) {
    *order = opt_.order;
  } else if (opt_.shuffle) {
    Rng rng(sample_seed(opt_.seed, epoch, ~size_t{0}));
    for (size_t i = order->size(); i > 1; --i) std::swap((*order)[i - 1], (*order)[rng.randint(0, int(i) - 1)]);
  }
  if (opt_.world > 1) *order = rank_share(*order, opt_.rank, opt_.world);
  order_ = order;
  nb_ = static_cast<int>(num_batches());
  next_task_ = consumed_ = 0;
  ready_.clear();
  error_ = nullptr;
  active_ = true;
}

void DataLoader::set_epoch(int epoch, int total) {
  // Ultralytics closes mosaic at the epoch `total - close_mosaic`; a run shorter than close_mosaic never reaches that
  // epoch and keeps mosaic throughout (8.4.50 engine/trainer.py), so a 5-epoch run has mosaic there and here.
  const int close_at = total - opt_.close_mosaic;
  const bool mosaic = opt_.close_mosaic <= 0 || close_at < 0 || epoch < close_at;
  {
    std::lock_guard<std::mutex> lk(m_);
    aug_.set_mosaic(mosaic);
    begin(epoch);
  }
  cv_work_.notify_all();
}

Batch DataLoader::make_batch(int epoch, int b, const std::shared_ptr<const std::vector<size_t>>& order) const {
  const size_t lo = static_cast<size_t>(b) * opt_.batch_size;
  const size_t hi = std::min(order->size(), lo + opt_.batch_size);
  Batch out;
  out.epoch = epoch, out.batch_index = b;
  out.mosaic = aug_.options().augment && aug_.mosaic() && hyp_mosaic_ > 0;
  std::vector<Sample> samples;
  samples.reserve(hi - lo);
  for (size_t pos = lo; pos < hi; ++pos) {
    const size_t i = (*order)[pos];
    const PartnerPool pool{order.get(), pos, window_};
    try {
      if (!opt_.batch_shapes.empty())
        samples.push_back(aug_.letterboxed(i, opt_.batch_shapes[b][0], opt_.batch_shapes[b][1]));
      else
        samples.push_back(aug_.get(i, sample_seed(opt_.seed, epoch, i), window_ ? &pool : nullptr));
    } catch (const std::exception& e) {  // image gone or corrupt since it was checked: skip it, keep the run going
      std::string msg = e.what();
      if (msg.find(ds_->info(i).image) == std::string::npos) msg = ds_->info(i).image + ": " + msg;
      ++skipped_;
      std::lock_guard<std::mutex> lk(warn_m_);
      opt_.warn(msg + "; skipped in batch " + std::to_string(b) + " of epoch " + std::to_string(epoch));
    }
  }
  out.n = static_cast<int>(samples.size());
  if (samples.empty()) return out;
  out.h = samples[0].img.rows, out.w = samples[0].img.cols;
  const size_t per = static_cast<size_t>(3) * out.h * out.w;
  out.images.resize(per * out.n);
  for (int k = 0; k < out.n; ++k) {
    const Sample& s = samples[k];
    if (s.img.rows != out.h || s.img.cols != out.w || s.img.type() != CV_8UC3)
      throw RuntimeError("internal: sample of another size in a batch (" + ds_->info(s.index).image + ")");
    bgr_to_chw_rgb(s.img, out.images.data() + per * k);
    const float W = static_cast<float>(out.w), H = static_cast<float>(out.h);
    for (const Box& bx : s.boxes)
      out.targets.push_back({static_cast<float>(k), static_cast<float>(bx.cls), (bx.x1 + bx.x2) / 2 / W,
                             (bx.y1 + bx.y2) / 2 / H, (bx.x2 - bx.x1) / W, (bx.y2 - bx.y1) / H});
    out.paths.push_back(ds_->info(s.index).image);
    out.orig_hw.emplace_back(s.h0, s.w0);
    out.ratio_pad.push_back({s.gain_x, s.gain_y, s.pad_x, s.pad_y});
    out.indices.push_back(s.index);
  }
  return out;
}

void DataLoader::worker() {
  std::unique_lock<std::mutex> lk(m_);
  for (;;) {
    cv_work_.wait(lk, [&] { return stop_ || (active_ && next_task_ < nb_ && next_task_ < consumed_ + opt_.prefetch); });
    if (stop_) return;
    const int b = next_task_++;
    const long gen = generation_;
    const int epoch = epoch_;
    const auto order = order_;
    lk.unlock();
    Batch batch;
    std::exception_ptr err;
    try {
      batch = make_batch(epoch, b, order);
    } catch (...) {
      err = std::current_exception();
    }
    lk.lock();
    if (gen != generation_) continue;  // the epoch was restarted meanwhile
    if (err && !error_) error_ = err;
    ready_[b] = std::move(batch);
    cv_ready_.notify_all();
  }
}

bool DataLoader::next(Batch& out) {
  for (;;) {
    if (!next_any(out)) return false;
    if (out.n > 0) return true;  // a batch whose every image failed to load is left out
  }
}

bool DataLoader::next_any(Batch& out) {
  std::unique_lock<std::mutex> lk(m_);
  if (!active_) {
    begin(next_epoch_);
    cv_work_.notify_all();
  }
  if (consumed_ >= nb_) {
    active_ = false;
    return false;
  }
  const int b = consumed_;
  if (threads_.empty()) {
    const auto order = order_;
    const int epoch = epoch_;
    lk.unlock();
    out = make_batch(epoch, b, order);
    lk.lock();
  } else {
    cv_ready_.wait(lk, [&] { return error_ || ready_.count(b); });
    if (error_) {
      auto e = error_;
      error_ = nullptr;
      active_ = false;
      std::rethrow_exception(e);
    }
    out = std::move(ready_[b]);
    ready_.erase(b);
  }
  ++consumed_;
  cv_work_.notify_all();
  return true;
}

bool recent_partners(const DataConfig& data) {
  if (data.mosaic_partners == "recent") return true;
  if (data.mosaic_partners == "any") return false;
  if (data.mosaic_partners == "auto") return data.cache != "ram";
  throw UsageError("data.mosaic_partners must be auto, recent or any, got '" + data.mosaic_partners + "'");
}

std::unique_ptr<DataLoader> make_train_loader(const Config& cfg, WarnFn warn, int rank, int world) {
  auto ds = YoloDataset::from_config(cfg, Role::Train, warn);
  AugmentOptions aug;
  aug.augment = cfg.data.augmentation;
  aug.augment_empty = cfg.data.augment_empty;
  LoaderOptions lo;
  lo.batch_size = std::max(1, cfg.data.batch_size / std::max(1, world));
  lo.rank = rank;
  lo.world = world;
  lo.num_workers = cfg.data.num_workers;
  lo.shuffle = true;
  lo.seed = static_cast<uint64_t>(cfg.seed);
  lo.close_mosaic = cfg.hyp.close_mosaic;
  lo.recent_partners = recent_partners(cfg.data);
  lo.warn = warn;
  return std::make_unique<DataLoader>(ds, cfg.hyp, aug, lo);
}

void rect_val_plan(const YoloDataset& ds, int batch_size, int imgsz, std::vector<size_t>& order,
                   std::vector<std::array<int, 2>>& batch_shapes) {
  std::vector<double> ar(ds.size());
  for (size_t i = 0; i < ds.size(); ++i) ar[i] = static_cast<double>(ds.info(i).h0) / ds.info(i).w0;
  order = ops::numpy_argsort(ar);  // upstream's exact order of equal ratios decides which batch an image joins
  std::vector<double> sorted(ds.size());
  for (size_t k = 0; k < order.size(); ++k) sorted[k] = ar[order[k]];
  batch_shapes = ops::rect_batch_shapes(sorted, batch_size, imgsz, /*stride=*/32, /*pad=*/0.5);
}

std::unique_ptr<DataLoader> make_val_loader(const Config& cfg, int batch_size, WarnFn warn) {
  auto ds = YoloDataset::from_config(cfg, Role::Val, warn);
  AugmentOptions aug;
  aug.augment = false;
  aug.mosaic = false;
  LoaderOptions lo;
  lo.batch_size = batch_size > 0 ? batch_size : cfg.data.batch_size;
  lo.num_workers = cfg.data.num_workers;
  lo.shuffle = false;
  lo.seed = static_cast<uint64_t>(cfg.seed);
  lo.close_mosaic = 0;
  lo.warn = warn;
  if (cfg.val.rect) rect_val_plan(*ds, lo.batch_size, cfg.data.image_size, lo.order, lo.batch_shapes);
  return std::make_unique<DataLoader>(ds, cfg.hyp, aug, lo);
}

}  // namespace vyolo::dataset
