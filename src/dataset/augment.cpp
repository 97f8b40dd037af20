#include "dataset/augment.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "common/rng.h"
#include "ops/letterbox.h"

namespace vyolo::dataset {

double Rng::normal() {
  double u1 = uniform();
  while (u1 <= 0) u1 = uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

double Rng::gamma(double a) {
  const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double Rng::beta(double a, double b) {
  const double x = gamma(a), y = gamma(b);
  return x / (x + y);
}

uint64_t sample_seed(uint64_t seed, int epoch, size_t index) {
  return splitmix(splitmix(splitmix(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index));
}

Sample load_sample(const YoloDataset& ds, size_t i) {
  LoadedImage li = ds.load(i);
  Sample s;
  s.img = li.img;
  s.hu = li.hu;
  s.index = i;
  s.h0 = li.h0, s.w0 = li.w0;
  s.gain_x = static_cast<float>(li.img.cols) / li.w0;
  s.gain_y = static_cast<float>(li.img.rows) / li.h0;
  const float w = static_cast<float>(li.img.cols), h = static_cast<float>(li.img.rows);
  for (const Label& l : ds.info(i).labels)
    s.boxes.push_back({l.cls, (l.cx - l.w / 2) * w, (l.cy - l.h / 2) * h, (l.cx + l.w / 2) * w, (l.cy + l.h / 2) * h});
  return s;
}

void letterbox(Sample& s, int new_h, int new_w, bool scaleup) {
  const auto g = ops::letterbox_geometry(s.img.rows, s.img.cols, new_h, new_w, /*auto_pad=*/false, scaleup);
  s.img = ops::apply_letterbox(s.img, g);
  const float fr = static_cast<float>(g.ratio);
  for (Box& b : s.boxes) {
    b.x1 = b.x1 * fr + g.left, b.x2 = b.x2 * fr + g.left;
    b.y1 = b.y1 * fr + g.top, b.y2 = b.y2 * fr + g.top;
  }
  s.gain_x *= fr, s.gain_y *= fr;
  s.pad_x = s.pad_x * fr + g.left;
  s.pad_y = s.pad_y * fr + g.top;
}

void random_perspective(Sample& s, const HypConfig& hp, int border, Rng& rng) {
  const int out_w = s.img.cols + 2 * border, out_h = s.img.rows + 2 * border;
  cv::Matx33d C = cv::Matx33d::eye(), P = cv::Matx33d::eye(), R = cv::Matx33d::eye(), S = cv::Matx33d::eye(),
              T = cv::Matx33d::eye();
  C(0, 2) = -s.img.cols / 2.0;
  C(1, 2) = -s.img.rows / 2.0;
  P(2, 0) = rng.uniform(-hp.perspective, hp.perspective);
  P(2, 1) = rng.uniform(-hp.perspective, hp.perspective);
  const double a = rng.uniform(-hp.degrees, hp.degrees) * M_PI / 180.0;
  const double sc = rng.uniform(1 - hp.scale, 1 + hp.scale);
  // cv2.getRotationMatrix2D(center=(0,0), angle=a, scale=sc)
  R(0, 0) = sc * std::cos(a), R(0, 1) = sc * std::sin(a);
  R(1, 0) = -sc * std::sin(a), R(1, 1) = sc * std::cos(a);
  S(0, 1) = std::tan(rng.uniform(-hp.shear, hp.shear) * M_PI / 180.0);
  S(1, 0) = std::tan(rng.uniform(-hp.shear, hp.shear) * M_PI / 180.0);
  T(0, 2) = rng.uniform(0.5 - hp.translate, 0.5 + hp.translate) * out_w;
  T(1, 2) = rng.uniform(0.5 - hp.translate, 0.5 + hp.translate) * out_h;
  const cv::Matx33d M = T * S * R * P * C;
  const bool persp = hp.perspective != 0.0;
  if (border != 0 || M != cv::Matx33d::eye()) {
    cv::Mat out;
    if (persp)
      cv::warpPerspective(s.img, out, cv::Mat(M), cv::Size(out_w, out_h), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                          cv::Scalar(114, 114, 114));
    else
      cv::warpAffine(s.img, out, cv::Mat(M).rowRange(0, 2), cv::Size(out_w, out_h), cv::INTER_LINEAR,
                     cv::BORDER_CONSTANT, cv::Scalar(114, 114, 114));
    s.img = out;
  }
  std::vector<Box> kept;
  kept.reserve(s.boxes.size());
  for (const Box& b : s.boxes) {
    const double xs[4] = {b.x1, b.x2, b.x1, b.x2}, ys[4] = {b.y1, b.y2, b.y2, b.y1};
    double x1 = 1e18, y1 = 1e18, x2 = -1e18, y2 = -1e18;
    for (int k = 0; k < 4; ++k) {
      double x = M(0, 0) * xs[k] + M(0, 1) * ys[k] + M(0, 2);
      double y = M(1, 0) * xs[k] + M(1, 1) * ys[k] + M(1, 2);
      if (persp) {
        const double z = M(2, 0) * xs[k] + M(2, 1) * ys[k] + M(2, 2);
        x /= z, y /= z;
      }
      x1 = std::min(x1, x), x2 = std::max(x2, x), y1 = std::min(y1, y), y2 = std::max(y2, y);
    }
    x1 = std::clamp(x1, 0.0, double(out_w)), x2 = std::clamp(x2, 0.0, double(out_w));
    y1 = std::clamp(y1, 0.0, double(out_h)), y2 = std::clamp(y2, 0.0, double(out_h));
    // box_candidates(wh_thr=2, ar_thr=100, area_thr=0.1) against the original box scaled by sc
    const double w1 = (b.x2 - b.x1) * sc, h1 = (b.y2 - b.y1) * sc, w2 = x2 - x1, h2 = y2 - y1;
    const double eps = 1e-16, ar = std::max(w2 / (h2 + eps), h2 / (w2 + eps));
    if (w2 > 2 && h2 > 2 && w2 * h2 / (w1 * h1 + eps) > 0.1 && ar < 100)
      kept.push_back({b.cls, float(x1), float(y1), float(x2), float(y2)});
  }
  s.boxes = std::move(kept);
}

Sample mosaic4(const Sample* tiles, int imgsz, Rng& rng) {
  const int s = imgsz, b = s / 2;
  const int yc = static_cast<int>(rng.uniform(b, 2 * s - b));
  const int xc = static_cast<int>(rng.uniform(b, 2 * s - b));
  Sample out;
  out.img = cv::Mat(2 * s, 2 * s, CV_8UC3, cv::Scalar(114, 114, 114));
  out.index = tiles[0].index, out.h0 = tiles[0].h0, out.w0 = tiles[0].w0;
  for (int i = 0; i < 4; ++i) {
    const Sample& t = tiles[i];
    const int h = t.img.rows, w = t.img.cols;
    int x1a, y1a, x2a, y2a, x1b, y1b, x2b, y2b;
    if (i == 0) {  // top left
      x1a = std::max(xc - w, 0), y1a = std::max(yc - h, 0), x2a = xc, y2a = yc;
      x1b = w - (x2a - x1a), y1b = h - (y2a - y1a), x2b = w, y2b = h;
    } else if (i == 1) {  // top right
      x1a = xc, y1a = std::max(yc - h, 0), x2a = std::min(xc + w, 2 * s), y2a = yc;
      x1b = 0, y1b = h - (y2a - y1a), x2b = std::min(w, x2a - x1a), y2b = h;
    } else if (i == 2) {  // bottom left
      x1a = std::max(xc - w, 0), y1a = yc, x2a = xc, y2a = std::min(2 * s, yc + h);
      x1b = w - (x2a - x1a), y1b = 0, x2b = w, y2b = std::min(y2a - y1a, h);
    } else {  // bottom right
      x1a = xc, y1a = yc, x2a = std::min(xc + w, 2 * s), y2a = std::min(2 * s, yc + h);
      x1b = 0, y1b = 0, x2b = std::min(w, x2a - x1a), y2b = std::min(y2a - y1a, h);
    }
    if (x2a > x1a && y2a > y1a)
      t.img(cv::Rect(x1b, y1b, x2b - x1b, y2b - y1b)).copyTo(out.img(cv::Rect(x1a, y1a, x2a - x1a, y2a - y1a)));
    const float padw = static_cast<float>(x1a - x1b), padh = static_cast<float>(y1a - y1b);
    const float lim = 2.0f * s;
    for (const Box& bx : t.boxes) {
      Box n{bx.cls, std::clamp(bx.x1 + padw, 0.f, lim), std::clamp(bx.y1 + padh, 0.f, lim),
            std::clamp(bx.x2 + padw, 0.f, lim), std::clamp(bx.y2 + padh, 0.f, lim)};
      if (n.x2 > n.x1 && n.y2 > n.y1) out.boxes.push_back(n);
    }
    out.hu = out.hu || t.hu;
  }
  return out;
}

void mixup(Sample& a, const Sample& b, Rng& rng) {
  const double r = rng.beta(32.0, 32.0);
  const cv::Mat ac = a.img.isContinuous() ? a.img : a.img.clone();
  const cv::Mat bc = b.img.isContinuous() ? b.img : b.img.clone();
  cv::Mat out(ac.size(), CV_8UC3);
  const uint8_t *pa = ac.ptr<uint8_t>(), *pb = bc.ptr<uint8_t>();
  uint8_t* po = out.ptr<uint8_t>();
  const size_t n = ac.total() * 3;
  for (size_t i = 0; i < n; ++i) po[i] = static_cast<uint8_t>(pa[i] * r + pb[i] * (1 - r));  // numpy astype truncates
  a.img = out;
  a.boxes.insert(a.boxes.end(), b.boxes.begin(), b.boxes.end());
  a.hu = a.hu || b.hu;
}

void random_hsv(cv::Mat& img, double hgain, double sgain, double vgain, Rng& rng) {
  if (!(hgain || sgain || vgain)) return;
  const double r0 = rng.uniform(-1, 1) * hgain, r1 = rng.uniform(-1, 1) * sgain, r2 = rng.uniform(-1, 1) * vgain;
  cv::Mat lut(1, 256, CV_8UC3);
  for (int x = 0; x < 256; ++x) {
    double hue = std::fmod(x + r0 * 180.0, 180.0);
    if (hue < 0) hue += 180.0;  // Python's % is non-negative
    auto& px = lut.at<cv::Vec3b>(0, x);
    px[0] = static_cast<uint8_t>(hue);
    px[1] = x == 0 ? 0 : static_cast<uint8_t>(std::clamp(x * (r1 + 1), 0.0, 255.0));
    px[2] = static_cast<uint8_t>(std::clamp(x * (r2 + 1), 0.0, 255.0));
  }
  cv::Mat hsv;
  cv::cvtColor(img, hsv, cv::COLOR_BGR2HSV);
  cv::LUT(hsv, lut, hsv);
  cv::cvtColor(hsv, img, cv::COLOR_HSV2BGR);
}

namespace {

// Mirrors the image and its boxes, up-down (vertical) or left-right.
void flip(Sample& s, bool vertical) {
  cv::Mat out;
  cv::flip(s.img, out, vertical ? 0 : 1);
  s.img = out;
  const float extent = static_cast<float>(vertical ? s.img.rows : s.img.cols);
  for (Box& b : s.boxes) {
    float& lo = vertical ? b.y1 : b.x1;
    float& hi = vertical ? b.y2 : b.x2;
    const float new_lo = extent - hi, new_hi = extent - lo;
    lo = new_lo, hi = new_hi;
  }
}

}  // namespace

void random_flip(Sample& s, double p_ud, double p_lr, Rng& rng) {
  if (p_ud > 0 && rng.uniform() < p_ud) flip(s, true);
  if (p_lr > 0 && rng.uniform() < p_lr) flip(s, false);
}

Augmenter::Augmenter(std::shared_ptr<const YoloDataset> ds, HypConfig hyp, AugmentOptions opt)
    : ds_(std::move(ds)), hyp_(hyp), opt_(opt), mosaic_(opt.mosaic) {}

size_t Augmenter::partner(Rng& rng, const PartnerPool* pool) const {
  if (!pool || !pool->order || pool->order->empty())
    return static_cast<size_t>(rng.randint(0, static_cast<int>(ds_->size()) - 1));
  const size_t n = pool->order->size();  // the epoch's order, or a distributed rank's share of it
  const size_t w = std::max<size_t>(1, std::min(pool->window, n));
  const size_t back = 1 + static_cast<size_t>(rng.randint(0, static_cast<int>(w) - 1));  // 1..w positions back
  return (*pool->order)[(pool->pos + n - back % n) % n];
}

Sample Augmenter::pre_transform(Sample s, Rng& rng, const PartnerPool* pool) const {
  const int sz = ds_->options().imgsz;
  if (mosaic_ && hyp_.mosaic > 0 && rng.uniform() < hyp_.mosaic) {
    Sample tiles[4];
    tiles[0] = std::move(s);
    for (int k = 1; k < 4; ++k) tiles[k] = load_sample(*ds_, partner(rng, pool));
    Sample m = mosaic4(tiles, sz, rng);
    random_perspective(m, hyp_, -(sz / 2), rng);
    return m;
  }
  letterbox(s, sz, sz, true);
  random_perspective(s, hyp_, 0, rng);
  return s;
}

Sample Augmenter::letterboxed(size_t index, int h, int w) const {
  Sample s = load_sample(*ds_, index);
  letterbox(s, h, w, /*scaleup=*/false);
  return s;
}

Sample Augmenter::get(size_t index, uint64_t seed, const PartnerPool* pool) const {
  const int sz = ds_->options().imgsz;
  Sample s = load_sample(*ds_, index);
  if (!opt_.augment || (!opt_.augment_empty && s.boxes.empty())) {
    letterbox(s, sz, sz, /*scaleup=*/opt_.augment);  // Ultralytics' val letterbox never scales up
    return s;
  }
  Rng rng(seed);
  s = pre_transform(std::move(s), rng, pool);
  if (mosaic_ && hyp_.mixup > 0 && rng.uniform() < hyp_.mixup) {
    Sample other = pre_transform(load_sample(*ds_, partner(rng, pool)), rng, pool);
    mixup(s, other, rng);
  }
  if (!s.hu) random_hsv(s.img, hyp_.hsv_h, hyp_.hsv_s, hyp_.hsv_v, rng);
  random_flip(s, hyp_.flipud, hyp_.fliplr, rng);
  return s;
}

}  // namespace vyolo::dataset
