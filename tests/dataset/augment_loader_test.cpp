// Letterbox geometry, box-following of flips/perspective/mosaic, determinism, and the threaded loader.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <set>

#include "common/error.h"
#include "dataset/augment.h"
#include "dataset/loader.h"
#include "ops/letterbox.h"
#include "test_util.h"

namespace fs = std::filesystem;

using namespace vyolo;
using namespace vyolo::dataset;
using namespace vyolo::dataset::test;

namespace {

// Bounding rectangle of pixels whose channel 0 exceeds `thr`; empty when none.
cv::Rect bright_rect(const cv::Mat& bgr, int thr = 200) {
  std::vector<cv::Mat> ch;
  cv::split(bgr, ch);
  cv::Mat mask = ch[0] > thr;
  if (cv::countNonZero(mask) == 0) return {};
  return cv::boundingRect(mask);
}

// The box covers the bright region (to 1 px of interpolation blur) and is not much larger.
void expect_box_on_object(const Sample& s, int thr = 200) {
  ASSERT_EQ(s.boxes.size(), 1u);
  const Box& b = s.boxes[0];
  const cv::Rect r = bright_rect(s.img, thr);
  ASSERT_GT(r.area(), 0);
  EXPECT_LE(b.x1, r.x + 1.0);
  EXPECT_LE(b.y1, r.y + 1.0);
  EXPECT_GE(b.x2, r.x + r.width - 1.0);
  EXPECT_GE(b.y2, r.y + r.height - 1.0);
  const double box_area = double(b.x2 - b.x1) * (b.y2 - b.y1);
  EXPECT_LT(box_area, 1.35 * r.area() + 40) << "box much larger than the object";
}

Sample bright_sample(int w, int h, cv::Rect r) {
  Sample s;
  s.img = cv::Mat(h, w, CV_8UC3, cv::Scalar(0, 0, 0));
  s.img(r).setTo(cv::Scalar(255, 255, 255));
  s.boxes.push_back({0, float(r.x), float(r.y), float(r.x + r.width), float(r.y + r.height)});
  s.h0 = h, s.w0 = w;
  return s;
}

// n 16-bit slices of patient P<k % 3>, each with one bright box at a varying place.
struct LoaderSet {
  TempDir dir;
  Config cfg;
  explicit LoaderSet(int n, int size = 64) {
    for (int i = 0; i < n; ++i) {
      const std::string name = "P" + std::to_string(i % 3) + "_L1_slice_" + std::to_string(100 + i);
      cv::Rect r(5 + (i * 7) % 30, 8 + (i * 5) % 30, 12 + i % 5, 10 + i % 7);
      write_image(dir.path / "images" / "axial" / (name + ".png"), hu_slice(size, size, r));
      if (i % 4 != 3) write_text(dir.path / "labels" / "axial" / (name + ".txt"), yolo_line(0, r, size, size));
    }
    cfg.data.data_dir = dir.path.string();
    cfg.data.image_size = size;
    cfg.data.batch_size = 3;
    cfg.data.num_workers = 2;
    cfg.split.train_patients = {"P0", "P1", "P2"};
    cfg.split.val_patients = {"P0", "P1", "P2"};
    cfg.hyp.mosaic = 1.0;
    cfg.hyp.degrees = 10;
    cfg.hyp.mixup = 0.3;
    cfg.hyp.close_mosaic = 2;
  }
};

std::vector<Batch> run_epoch(DataLoader& l, int epoch, int total) {
  l.set_epoch(epoch, total);
  std::vector<Batch> out;
  for (Batch b; l.next(b);) out.push_back(b);
  return out;
}

}  // namespace

TEST(Letterbox, GeometryMatchesHandComputedValues) {
  // 100x50 into 64x64: r = 0.64, 64x32 unpadded, dh = 16 -> top 16, bottom 16.
  Sample s = bright_sample(100, 50, {10, 10, 20, 20});
  letterbox(s, 64, 64, true);
  EXPECT_EQ(s.img.cols, 64);
  EXPECT_EQ(s.img.rows, 64);
  EXPECT_FLOAT_EQ(s.boxes[0].x1, 10 * 0.64f);
  EXPECT_FLOAT_EQ(s.boxes[0].y1, 10 * 0.64f + 16);
  EXPECT_EQ(s.img.at<cv::Vec3b>(0, 32), cv::Vec3b(114, 114, 114));
  EXPECT_EQ(s.img.at<cv::Vec3b>(16, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(s.img.at<cv::Vec3b>(15, 0), cv::Vec3b(114, 114, 114));
  EXPECT_EQ(s.img.at<cv::Vec3b>(48, 0), cv::Vec3b(114, 114, 114));
  EXPECT_FLOAT_EQ(s.pad_y, 16);

  // 100x45: h -> round(28.8) = 29, dh = 17.5 -> top round(17.4) = 17, bottom round(17.6) = 18.
  Sample t = bright_sample(100, 45, {0, 0, 10, 10});
  letterbox(t, 64, 64, true);
  EXPECT_EQ(t.img.rows, 64);
  EXPECT_EQ(t.img.at<cv::Vec3b>(16, 1), cv::Vec3b(114, 114, 114));
  EXPECT_EQ(t.img.at<cv::Vec3b>(17, 1)[0], 255);
  EXPECT_EQ(t.img.at<cv::Vec3b>(45, 50), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(t.img.at<cv::Vec3b>(46, 50), cv::Vec3b(114, 114, 114));
  EXPECT_FLOAT_EQ(t.boxes[0].y1, 17);
  EXPECT_FLOAT_EQ(t.boxes[0].y2, 10 * 0.64f + 17);

  // scaleup=false keeps a small image at its size, centred.
  Sample u = bright_sample(20, 10, {0, 0, 5, 5});
  letterbox(u, 64, 64, false);
  EXPECT_FLOAT_EQ(u.boxes[0].x1, 22);
  EXPECT_FLOAT_EQ(u.boxes[0].y1, 27);
}

TEST(Letterbox, ValidationSampleCarriesRatioPad) {
  TempDir d;
  cv::Mat img(200, 300, CV_8UC3, cv::Scalar(0, 0, 0));
  img(cv::Rect(30, 40, 60, 50)).setTo(cv::Scalar(255, 255, 255));
  write_image(d.path / "images" / "v.png", img);
  write_text(d.path / "labels" / "v.txt", yolo_line(0, {30, 40, 60, 50}, 300, 200));
  DatasetOptions o;
  o.imgsz = 64;
  o.warn = [](const std::string&) {};
  auto ds = std::make_shared<YoloDataset>(std::vector<std::string>{(d.path / "images" / "v.png").string()}, "v", o);
  AugmentOptions ao;
  ao.augment = false;
  Augmenter aug(ds, HypConfig{}, ao);
  Sample s = aug.get(0, 1);
  // load: 300x200 -> 64 x ceil(42.67) = 43; letterbox: dh = 10.5 -> top 10, bottom 11.
  EXPECT_EQ(s.img.cols, 64);
  EXPECT_EQ(s.img.rows, 64);
  EXPECT_FLOAT_EQ(s.gain_x, 64.0f / 300);
  EXPECT_FLOAT_EQ(s.gain_y, 43.0f / 200);
  EXPECT_FLOAT_EQ(s.pad_x, 0);
  EXPECT_FLOAT_EQ(s.pad_y, 10);
  ASSERT_EQ(s.boxes.size(), 1u);
  EXPECT_NEAR(s.boxes[0].x1, 30 * s.gain_x + s.pad_x, 1e-3);
  EXPECT_NEAR(s.boxes[0].y2, 90 * s.gain_y + s.pad_y, 1e-3);
  expect_box_on_object(s);
}

TEST(Augment, FlipsKeepBoxesOnTheObject) {
  Rng rng(3);
  for (int k = 0; k < 4; ++k) {
    Sample s = bright_sample(64, 48, {5, 7, 13, 9});
    random_flip(s, 1.0, 1.0, rng);
    expect_box_on_object(s);
    EXPECT_FLOAT_EQ(s.boxes[0].x1, 64 - 18);
    EXPECT_FLOAT_EQ(s.boxes[0].y1, 48 - 16);
  }
}

TEST(Augment, PerspectiveKeepsBoxesOnTheObject) {
  HypConfig h;
  h.degrees = 30, h.translate = 0.1, h.scale = 0.3, h.shear = 5, h.perspective = 0.0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(seed);
    Sample s = bright_sample(128, 128, {40, 50, 40, 24});
    random_perspective(s, h, 0, rng);
    ASSERT_EQ(s.img.cols, 128);
    expect_box_on_object(s, 128);
  }
  h.perspective = 0.0005;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Rng rng(seed);
    Sample s = bright_sample(128, 128, {40, 50, 40, 24});
    random_perspective(s, h, 0, rng);
    expect_box_on_object(s, 128);
  }
}

TEST(Augment, PerspectiveDropsBoxesPushedOutOfTheImage) {
  HypConfig h;
  h.translate = 0.0, h.scale = 0.0;  // identity: a box cut by the border stays, area ratio keeps it
  Rng rng(1);
  Sample s = bright_sample(64, 64, {0, 0, 2, 30});  // 2 px wide: fails box_candidates' w > 2
  s.boxes.push_back({0, 10, 10, 30, 30});
  random_perspective(s, h, 0, rng);
  ASSERT_EQ(s.boxes.size(), 1u);
  EXPECT_FLOAT_EQ(s.boxes[0].x1, 10);
}

TEST(Augment, MosaicSizeAndBoxesFollowTheirTiles) {
  const int sz = 64;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Sample tiles[4];
    for (int k = 0; k < 4; ++k) {
      tiles[k].img = cv::Mat(sz, sz - 8 * k, CV_8UC3, cv::Scalar(0, 0, 0));
      cv::Rect r(4 + 3 * k, 10 + 3 * k, 20, 16);
      tiles[k].img(r).setTo(cv::Scalar(50 + 60 * k, 0, 0));  // channel 0 tells the tile
      tiles[k].boxes.push_back({k, float(r.x), float(r.y), float(r.x + r.width), float(r.y + r.height)});
    }
    Rng rng(seed);
    Sample m = mosaic4(tiles, sz, rng);
    ASSERT_EQ(m.img.cols, 2 * sz);
    ASSERT_EQ(m.img.rows, 2 * sz);
    int visible = 0;
    for (int k = 0; k < 4; ++k) {
      cv::Mat ch;
      cv::extractChannel(m.img, ch, 0);
      cv::Mat mask = ch == (50 + 60 * k);
      if (cv::countNonZero(mask) == 0) continue;
      ++visible;
      const cv::Rect r = cv::boundingRect(mask);
      bool found = false;
      for (const Box& b : m.boxes)
        if (b.cls == k) {
          found = true;
          EXPECT_FLOAT_EQ(b.x1, r.x);
          EXPECT_FLOAT_EQ(b.y1, r.y);
          EXPECT_FLOAT_EQ(b.x2, r.x + r.width);
          EXPECT_FLOAT_EQ(b.y2, r.y + r.height);
        }
      EXPECT_TRUE(found) << "tile " << k << " visible without its box";
    }
    EXPECT_EQ(static_cast<int>(m.boxes.size()), visible);
    EXPECT_GE(visible, 1);
  }
}

TEST(Augment, TrainSamplesAreImgszDeterministicAndFollowObjects) {
  LoaderSet set(12);
  auto ds = YoloDataset::from_config(set.cfg, Role::Train, [](const std::string&) {});
  HypConfig h = set.cfg.hyp;
  h.mixup = 0;  // keep one object per source so the box test is exact
  h.hsv_v = 0;
  AugmentOptions ao;
  Augmenter aug(ds, h, ao);
  int mosaics_with_boxes = 0, differ = 0;
  for (size_t i = 0; i < ds->size(); ++i) {
    Sample a = aug.get(i, 1234 + i), b = aug.get(i, 1234 + i), c = aug.get(i, 999 + i);
    ASSERT_EQ(a.img.cols, 64);
    ASSERT_EQ(a.img.rows, 64);
    EXPECT_EQ(cv::norm(a.img, b.img, cv::NORM_INF), 0);
    ASSERT_EQ(a.boxes.size(), b.boxes.size());
    for (size_t k = 0; k < a.boxes.size(); ++k) EXPECT_EQ(a.boxes[k].x1, b.boxes[k].x1);
    differ += cv::norm(a.img, c.img, cv::NORM_L1) > 0;  // equal only when both crops show background
    mosaics_with_boxes += !a.boxes.empty();
    // Every box lies on bright (bone-windowed) pixels.
    for (const Box& bx : a.boxes) {
      cv::Rect r(cv::Point(int(bx.x1), int(bx.y1)), cv::Point(int(std::ceil(bx.x2)), int(std::ceil(bx.y2))));
      r &= cv::Rect(0, 0, 64, 64);
      std::vector<cv::Mat> ch;
      cv::split(a.img(r), ch);
      double mx;
      cv::minMaxLoc(ch[0], nullptr, &mx);
      EXPECT_GT(mx, 150) << "box without object in sample " << i;
    }
  }
  EXPECT_GE(mosaics_with_boxes, 4);
  EXPECT_GE(differ, 6) << "another seed gave the same samples";
}

TEST(Augment, NegativesGetOnlyTheLetterboxWhenAugmentEmptyIsOff) {
  LoaderSet set(8);
  auto ds = YoloDataset::from_config(set.cfg, Role::Train, [](const std::string&) {});
  AugmentOptions off;
  off.augment_empty = false;
  Augmenter aug(ds, set.cfg.hyp, off), val(ds, set.cfg.hyp, AugmentOptions{false, true, false});
  int negatives = 0;
  for (size_t i = 0; i < ds->size(); ++i) {
    if (!ds->info(i).labels.empty()) continue;
    ++negatives;
    EXPECT_EQ(cv::norm(aug.get(i, 7).img, val.get(i, 0).img, cv::NORM_INF), 0);
  }
  EXPECT_EQ(negatives, 2);

  // The same through the config key data.augment_empty.
  set.cfg.data.augment_empty = load_config(YAML::Load("data: {augment_empty: false}")).data.augment_empty;
  set.cfg.data.batch_size = 8;
  auto loader = make_train_loader(set.cfg, [](const std::string&) {});
  Batch b;
  ASSERT_TRUE(loader->next(b));
  int checked = 0;
  for (int k = 0; k < b.n; ++k) {
    if (!ds->info(b.indices[k]).labels.empty()) continue;
    std::vector<float> expect(3 * 64 * 64);
    bgr_to_chw_rgb(val.get(b.indices[k], 0).img, expect.data());
    EXPECT_TRUE(std::equal(expect.begin(), expect.end(), b.images.begin() + k * expect.size()));
    ++checked;
  }
  EXPECT_EQ(checked, 2);
  EXPECT_THROW(load_config(YAML::Load("data: {augment_empty: maybe}")), UsageError);
}

TEST(Augment, MixupBlendsAndConcatenates) {
  Sample a = bright_sample(32, 32, {1, 1, 5, 5}), b = bright_sample(32, 32, {20, 20, 5, 5});
  a.img.setTo(cv::Scalar(200, 200, 200));
  b.img.setTo(cv::Scalar(100, 100, 100));
  Rng rng(5);
  mixup(a, b, rng);
  EXPECT_EQ(a.boxes.size(), 2u);
  const int v = a.img.at<cv::Vec3b>(0, 0)[0];
  EXPECT_GT(v, 130);  // r ~ Beta(32, 32) stays near 0.5
  EXPECT_LT(v, 170);
}

TEST(Augment, HsvChangesColourButKeepsGrey0) {
  cv::Mat img(8, 8, CV_8UC3, cv::Scalar(30, 90, 200));
  Rng rng(11);
  cv::Mat before = img.clone();
  random_hsv(img, 0.015, 0.7, 0.4, rng);
  EXPECT_GT(cv::norm(img, before, cv::NORM_L1), 0);
}

TEST(Loader, EveryImageOnceAndDeterministicAcrossWorkerCounts) {
  LoaderSet set(10);
  auto ds = YoloDataset::from_config(set.cfg, Role::Train, [](const std::string&) {});
  AugmentOptions ao;
  LoaderOptions lo;
  lo.batch_size = 3;
  lo.seed = 7;
  lo.close_mosaic = 2;
  lo.num_workers = 2;
  DataLoader two(ds, set.cfg.hyp, ao, lo);
  lo.num_workers = 0;
  DataLoader zero(ds, set.cfg.hyp, ao, lo);
  EXPECT_EQ(two.num_batches(), 4u);
  std::vector<size_t> first_order;
  for (int epoch = 0; epoch < 2; ++epoch) {
    auto a = run_epoch(two, epoch, 5), b = run_epoch(zero, epoch, 5);
    ASSERT_EQ(a.size(), 4u);
    ASSERT_EQ(b.size(), 4u);
    std::multiset<size_t> seen;
    std::vector<size_t> order;
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].n, k < 3 ? 3 : 1);  // the last partial batch is kept
      EXPECT_EQ(a[k].images.size(), size_t(a[k].n) * 3 * 64 * 64);
      EXPECT_EQ(a[k].indices, b[k].indices);
      EXPECT_EQ(a[k].images, b[k].images);
      EXPECT_EQ(a[k].targets, b[k].targets);
      EXPECT_TRUE(a[k].mosaic);
      for (size_t i : a[k].indices) seen.insert(i), order.push_back(i);
      for (const auto& t : a[k].targets) {
        EXPECT_GE(t[0], 0);
        EXPECT_LT(t[0], a[k].n);
        for (int j = 2; j < 6; ++j) {
          EXPECT_GE(t[j], 0);
          EXPECT_LE(t[j], 1);
        }
      }
      for (float v : a[k].images) ASSERT_TRUE(v >= 0 && v <= 1);
    }
    EXPECT_EQ(seen.size(), 10u);
    for (size_t i = 0; i < 10; ++i) EXPECT_EQ(seen.count(i), 1u);
    if (epoch == 0) {
      first_order = order;
    } else {
      EXPECT_NE(order, first_order) << "no reshuffle between epochs";
    }
  }
  // close_mosaic = 2 of 5 epochs: epochs 3 and 4 without mosaic.
  auto late = run_epoch(two, 3, 5);
  for (const auto& b : late) EXPECT_FALSE(b.mosaic);
  auto early = run_epoch(two, 2, 5);
  for (const auto& b : early) EXPECT_TRUE(b.mosaic);
  // As Ultralytics: a run of 1 epoch with close_mosaic = 2 never reaches the closing epoch (mosaic on); one of exactly
  // 2 epochs closes it at once.
  for (const auto& b : run_epoch(two, 0, 1)) EXPECT_TRUE(b.mosaic) << "run shorter than close_mosaic";
  for (const auto& b : run_epoch(two, 0, 2)) EXPECT_FALSE(b.mosaic) << "run as long as close_mosaic";
  // Abandoning an epoch half-way and starting another works.
  two.set_epoch(0, 5);
  Batch x;
  ASSERT_TRUE(two.next(x));
  auto again = run_epoch(two, 1, 5);
  EXPECT_EQ(again.size(), 4u);
}

TEST(Loader, ValidationLoaderFromConfig) {
  LoaderSet set(7);
  set.cfg.val.rect = false;  // square letterbox: the images keep their 64 x 64
  auto val = make_val_loader(set.cfg, 4, [](const std::string&) {});
  auto batches = run_epoch(*val, 0, 1);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].n, 4);
  EXPECT_EQ(batches[1].n, 3);
  EXPECT_FALSE(batches[0].mosaic);
  std::vector<size_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.indices.begin(), b.indices.end());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i);  // dataset order
  EXPECT_EQ(batches[0].ratio_pad[0][0], 1.0f);
  EXPECT_EQ(batches[0].orig_hw[0], std::make_pair(64, 64));
  // Labels come back unchanged (no augmentation): image 0 is the first file, P0_L1_slice_100.
  const auto& info = val->dataset().info(batches[0].indices[0]);
  ASSERT_EQ(info.labels.size(), 1u);
  EXPECT_NEAR(batches[0].targets[0][2], info.labels[0].cx, 1e-5);
  EXPECT_NEAR(batches[0].targets[0][5], info.labels[0].h, 1e-5);
  // The images are RGB: channel order reversed from OpenCV's BGR (bone window is OpenCV channel 0 -> plane 2).
  const Batch& b0 = batches[0];
  const size_t plane = 64 * 64;
  cv::Mat bgr = val->dataset().load(b0.indices[0]).img;
  const int y = int(info.labels[0].cy * 64), x = int(info.labels[0].cx * 64);
  EXPECT_NEAR(b0.images[2 * plane + y * 64 + x], bgr.at<cv::Vec3b>(y, x)[0] / 255.0f, 1e-6);
  EXPECT_NEAR(b0.images[0 * plane + y * 64 + x], bgr.at<cv::Vec3b>(y, x)[2] / 255.0f, 1e-6);
}

TEST(Loader, RectValidationPadsSquareImagesAsUltralytics) {
  // Ultralytics' set_rectangle adds half a stride: square 64-px images validate in 96 x 96 batches (640 -> 672,
  // 256 -> 288), the image centred with 16 px of grey around it; labels follow.
  LoaderSet set(7);
  auto val = make_val_loader(set.cfg, 4, [](const std::string&) {});
  auto batches = run_epoch(*val, 0, 1);
  ASSERT_EQ(batches.size(), 2u);
  for (const auto& b : batches) {
    EXPECT_EQ(b.h, 96);
    EXPECT_EQ(b.w, 96);
  }
  EXPECT_EQ(batches[0].ratio_pad[0][0], 1.0f);
  EXPECT_EQ(batches[0].ratio_pad[0][2], 16.0f);
  const auto& info = val->dataset().info(batches[0].indices[0]);
  ASSERT_EQ(info.labels.size(), 1u);
  EXPECT_NEAR(batches[0].targets[0][2] * 96, info.labels[0].cx * 64 + 16, 1e-3);
  EXPECT_NEAR(batches[0].targets[0][5] * 96, info.labels[0].h * 64, 1e-3);
  EXPECT_NEAR(batches[0].images[0], 114 / 255.0f, 1e-6);  // grey border
}

TEST(Loader, RectPlanSortsByAspectRatioAndShapesEachBatch) {
  // Ultralytics' set_rectangle for 5 images of h / w 0.5, 2, 1, 0.25, 1 at imgsz 320, batch 2: sorted 0.25, 0.5 |
  // 1, 1 | 2 -> shapes ceil(0.5 * 10 + 0.5) * 32 = 192 x 352; 352 x 352; 352 x ceil(0.5 * 10 + 0.5) * 32 = 192.
  EXPECT_EQ(ops::rect_batch_shapes({0.25, 0.5, 1, 1, 2}, 2, 320),
            (std::vector<std::array<int, 2>>{{192, 352}, {352, 352}, {352, 192}}));
  EXPECT_EQ(ops::load_size(416, 164, 320), (std::array<int, 2>{320, 127}));  // ceil(126.15)
  EXPECT_EQ(ops::load_size(320, 200, 320), (std::array<int, 2>{320, 200}));
}

TEST(Loader, RectOrderIsNumpysArgsortIncludingTies) {
  // np.argsort(v) from numpy 1.24.2 (introsort: equal values are not kept in input order; a stable sort would give
  // 6 17 2 8 13 20 1 3 ...). Which image of equal aspect ratio lands in which rect batch depends on it.
  const std::vector<double> v{2.5, 1.0, 0.5, 1.0, 1.0, 2.5, 0.25, 1.0, 0.5, 1.0, 2.0, 1.0, 1.0,
                              0.5, 1.0, 2.5, 1.0, 0.25, 1.0, 1.0, 0.5, 1.0, 3.0, 1.0, 1.0};
  const std::vector<size_t> numpy{6, 17, 2, 20, 8, 13, 12, 21, 19, 18, 16, 14, 24,
                                  11, 9, 7, 4, 3, 1, 23, 10, 15, 5, 0, 22};
  EXPECT_EQ(ops::numpy_argsort(v), numpy);
  EXPECT_EQ(ops::numpy_argsort({}), std::vector<size_t>{});
  EXPECT_EQ(ops::numpy_argsort({3, 1, 2}), (std::vector<size_t>{1, 2, 0}));
}

TEST(Loader, TrainLoaderFromConfigAndEmptySplitError) {
  LoaderSet set(6);
  auto train = make_train_loader(set.cfg, [](const std::string&) {});
  EXPECT_EQ(train->num_batches(), 2u);
  set.cfg.split.train_patients.clear();
  EXPECT_THROW(make_train_loader(set.cfg, [](const std::string&) {}), UsageError);
}

// For a given partner rule, the RAM cache and the recent-image decode cache change nothing; the two rules differ.
TEST(Loader, CachesDoNotChangeResults) {
  LoaderSet set(9);
  auto quiet = [](const std::string&) {};
  auto disk = YoloDataset::from_config(set.cfg, Role::Train, quiet);
  set.cfg.data.cache = "ram";
  auto ram = YoloDataset::from_config(set.cfg, Role::Train, quiet);
  std::vector<Batch> first_epoch[2];
  for (bool recent : {true, false}) {
    SCOPED_TRACE(recent ? "recent partners" : "any partners");
    LoaderOptions lo;
    lo.batch_size = 2;  // window = 9 images, recent cache 9 + 2 * 7 entries
    lo.num_workers = 2;
    lo.recent_partners = recent;
    lo.close_mosaic = 2;  // mosaic (and its partners) in both epochs below
    DataLoader a(disk, set.cfg.hyp, AugmentOptions{}, lo), b(ram, set.cfg.hyp, AugmentOptions{}, lo);
    disk->set_recent_cache(3);  // smaller than the window: misses and evictions
    for (int e = 0; e < 2; ++e) {
      auto x = run_epoch(a, e, 10), y = run_epoch(b, e, 10);
      ASSERT_EQ(x.size(), y.size());
      for (size_t k = 0; k < x.size(); ++k) {
        EXPECT_EQ(x[k].images, y[k].images);
        EXPECT_EQ(x[k].targets, y[k].targets);
      }
      if (e == 0) first_epoch[recent] = x;
    }
  }
  ASSERT_EQ(first_epoch[0].size(), first_epoch[1].size());
  bool differ = false;
  for (size_t k = 0; k < first_epoch[0].size(); ++k) differ |= first_epoch[0][k].images != first_epoch[1][k].images;
  EXPECT_TRUE(differ) << "the partner rule does not reach the loader";
}

// Ultralytics 8.4 takes mosaic partners from its recent-image buffer, except with cache=ram (any image).
TEST(Loader, MosaicPartnerRuleFollowsUltralytics) {
  DataConfig d;
  EXPECT_TRUE(recent_partners(d));
  d.cache = "ram";
  EXPECT_FALSE(recent_partners(d));
  d.mosaic_partners = "recent";
  EXPECT_TRUE(recent_partners(d));
  d.cache = "";
  d.mosaic_partners = "any";
  EXPECT_FALSE(recent_partners(d));
  d.mosaic_partners = "buffer";
  try {
    recent_partners(d);
    ADD_FAILURE() << "no error for data.mosaic_partners=buffer";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("data.mosaic_partners"), std::string::npos) << e.what();
  }
  // Through the config key, and the training loader refuses a bad value before it starts.
  EXPECT_EQ(load_config(YAML::Load("data: {mosaic_partners: any}")).data.mosaic_partners, "any");
  LoaderSet set(6);
  set.cfg.data.mosaic_partners = "buffer";
  EXPECT_THROW(make_train_loader(set.cfg, [](const std::string&) {}), UsageError);
}

// Throughput of the training loader (mosaic on, 256 px, batch 16): run with VYOLO_DATASET_BENCH=1.
TEST(Loader, Throughput) {
  if (!std::getenv("VYOLO_DATASET_BENCH")) GTEST_SKIP() << "set VYOLO_DATASET_BENCH=1 to measure";
  LoaderSet set(400, 256);
  auto ds = YoloDataset::from_config(set.cfg, Role::Train, [](const std::string&) {});
  for (int workers : {0, 1, 2}) {
    for (bool ram : {false, true}) {
      DatasetOptions o = ds->options();
      o.cache_ram = ram;
      std::vector<std::string> files;
      for (size_t i = 0; i < ds->size(); ++i) files.push_back(ds->info(i).image);
      auto d = std::make_shared<YoloDataset>(files, "bench", o);
      LoaderOptions lo;
      lo.batch_size = 16;
      lo.num_workers = workers;
      HypConfig h;  // Ultralytics defaults: mosaic 1.0
      DataLoader l(d, h, AugmentOptions{}, lo);
      run_epoch(l, 0, 100);  // warm-up
      const auto t0 = std::chrono::steady_clock::now();
      const std::clock_t c0 = std::clock();
      int n = 0;
      for (int e = 1; e <= 1; ++e)
        for (const auto& b : run_epoch(l, e, 100)) n += b.n;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
      std::printf("loader 256px mosaic, workers=%d ram=%d: %.1f images/s wall (%.1f ms per batch of 16), "
                  "%.1f ms CPU per batch\n", workers, ram, n / s, 16000.0 * s / n, 16000.0 * cpu / n);
    }
  }
}

TEST(Loader, ImageThatVanishesMidRunIsSkippedAndReported) {
  LoaderSet set(5);
  auto ds = YoloDataset::from_config(set.cfg, Role::Val, [](const std::string&) {});
  const std::string gone = ds->info(1).image;
  fs::remove(gone);
  std::vector<std::string> warned;
  LoaderOptions lo;
  lo.batch_size = 5;
  lo.shuffle = false;
  lo.warn = [&](const std::string& m) { warned.push_back(m); };
  DataLoader l(ds, set.cfg.hyp, AugmentOptions{false, true, false}, lo);
  auto batches = run_epoch(l, 0, 1);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].n, 4);
  EXPECT_EQ(batches[0].indices, (std::vector<size_t>{0, 2, 3, 4}));
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_EQ(l.skipped(), 1);
  EXPECT_NE(warned[0].find(gone), std::string::npos) << warned[0];
  EXPECT_NE(warned[0].find("skipped"), std::string::npos) << warned[0];
}
