// Label parsing, dataset listing/filtering, label cache, data.yaml, and bad-input errors.
#include <gtest/gtest.h>

#include <thread>

#include "common/error.h"
#include "common/fs_util.h"
#include "dataset/labels.h"
#include "dataset/yolo_dataset.h"
#include "test_util.h"

namespace fs = std::filesystem;

using namespace vyolo;
using namespace vyolo::dataset;
using namespace vyolo::dataset::test;

namespace {

bool any_contains(const std::vector<std::string>& v, const std::string& a, const std::string& b = "") {
  for (const auto& s : v)
    if (s.find(a) != std::string::npos && s.find(b) != std::string::npos) return true;
  return false;
}

// data_dir/images/axial: P1 (two 16-bit slices, one with a box, one negative without label file), P2 (an 8-bit
// colour JPEG with two boxes and a bad label line), P3 (a corrupt PNG).
struct SmallSet {
  TempDir dir;
  fs::path img, lab;
  SmallSet() {
    img = dir.path / "images" / "axial";
    lab = dir.path / "labels" / "axial";
    write_image(img / "P1_L1_slice_000.png", hu_slice(64, 64, {10, 20, 16, 12}));
    write_text(lab / "P1_L1_slice_000.txt", yolo_line(0, {10, 20, 16, 12}, 64, 64));
    write_image(img / "P1_L1_slice_001.png", hu_slice(64, 64, {0, 0, 1, 1}));
    cv::Mat colour(40, 80, CV_8UC3, cv::Scalar(10, 120, 200));
    write_image(img / "P2_T4_slice_000.jpg", colour);
    write_text(lab / "P2_T4_slice_000.txt",
               yolo_line(0, {5, 5, 10, 10}, 80, 40) + "0 0.5 0.5 nan 0.1\n" + yolo_line(0, {40, 20, 20, 10}, 80, 40));
    write_text(img / "P3_L2_slice_000.png", "this is not a png");
  }
  Config cfg(std::vector<std::string> train = {"P1", "P2", "P3"}) const {
    Config c;
    c.data.data_dir = dir.path.string();
    c.data.view = "axial";
    c.data.image_size = 64;
    c.data.num_workers = 2;
    c.split.train_patients = std::move(train);
    c.split.val_patients = {"P2"};
    return c;
  }
};

}  // namespace

TEST(Labels, ParsesGoodLinesAndSkipsEachBadKindWithPathAndLine) {
  const std::string text =
      "0 0.5 0.5 0.2 0.2\n"        // 1 good
      "\n"                         // 2 blank: ignored
      "0 0.5 0.5 0.2\n"            // 3 wrong column count
      "0 0.5 nan 0.2 0.2\n"        // 4 NaN
      "2 0.5 0.5 0.2 0.2\n"        // 5 class >= nc
      "0 1.5 0.5 0.2 0.2\n"        // 6 outside 0..1
      "-1 0.5 0.5 0.2 0.2\n"       // 7 negative class
      "0.5 0.5 0.5 0.2 0.2\n"      // 8 non-integer class
      "1 0.995 0.5 0.02 0.1\n"     // 9 tiny overshoot: clipped to x2 = 1
      "0 0.5 0.5 0.2 0.2\n"        // 10 duplicate of line 1
      "1 0.1 0.1 0.3 0.1 0.3 0.4\n";  // 11 polygon -> box
  LabelParse p = parse_labels(text, "/x/a.txt", 2);
  ASSERT_EQ(p.labels.size(), 3u);
  EXPECT_EQ(p.bad_lines, 6);
  EXPECT_EQ(p.duplicates, 1);
  EXPECT_TRUE(any_contains(p.warnings, "/x/a.txt:3:", "columns"));
  EXPECT_TRUE(any_contains(p.warnings, "/x/a.txt:4:", "not a finite number"));
  EXPECT_TRUE(any_contains(p.warnings, "/x/a.txt:5:", "class id 2"));
  EXPECT_TRUE(any_contains(p.warnings, "/x/a.txt:6:", "outside 0..1"));
  EXPECT_TRUE(any_contains(p.warnings, "/x/a.txt:7:", "class id -1"));
  EXPECT_TRUE(any_contains(p.warnings, "/x/a.txt:8:", "not an integer"));
  EXPECT_TRUE(any_contains(p.warnings, "/x/a.txt", "1 duplicate"));
  const Label& clipped = p.labels[1];
  EXPECT_EQ(clipped.cls, 1);
  EXPECT_NEAR(clipped.cx + clipped.w / 2, 1.0, 1e-6);
  EXPECT_NEAR(clipped.cx - clipped.w / 2, 0.985, 1e-6);
  const Label& poly = p.labels[2];
  EXPECT_NEAR(poly.cx, 0.2, 1e-6);
  EXPECT_NEAR(poly.cy, 0.25, 1e-6);
  EXPECT_NEAR(poly.w, 0.2, 1e-6);
  EXPECT_NEAR(poly.h, 0.3, 1e-6);
}

TEST(Labels, PathRuleAndPatientId) {
  EXPECT_EQ(label_path_for("/d/images/axial/P1_L1_slice_000.png"), "/d/labels/axial/P1_L1_slice_000.txt");
  EXPECT_EQ(label_path_for("/images/d/images/x.a.jpg"), "/images/d/labels/x.a.txt");
  EXPECT_EQ(patient_id("/d/images/axial/sub-verse004_L1_slice_010.png"), "sub-verse004");
  EXPECT_EQ(patient_id("/d/noscore.png"), "noscore.png");
}

TEST(Dataset, FolderWithSplitChecksImagesAndLabels) {
  SmallSet s;
  std::vector<std::string> warned;
  auto ds = YoloDataset::from_config(s.cfg(), Role::Train, [&](const std::string& m) { warned.push_back(m); });
  const DatasetReport& r = ds->report();
  EXPECT_EQ(ds->size(), 3u);
  EXPECT_EQ(r.corrupt, 1);
  EXPECT_TRUE(any_contains(r.messages, "P3_L2_slice_000.png", "skipped"));
  EXPECT_EQ(r.bad_lines, 1);
  EXPECT_TRUE(any_contains(r.messages, "P2_T4_slice_000.txt:2:", "not a finite number"));
  EXPECT_EQ(r.missing, 1);
  EXPECT_EQ(r.boxes, 3);
  EXPECT_EQ(warned, r.messages);
  // Sorted listing: P1 000, P1 001, P2.
  EXPECT_TRUE(ds->info(0).hu);
  EXPECT_EQ(ds->info(0).labels.size(), 1u);
  EXPECT_TRUE(ds->info(1).labels.empty());
  EXPECT_FALSE(ds->info(2).hu);
  EXPECT_EQ(ds->info(2).w0, 80);
  EXPECT_EQ(ds->info(2).h0, 40);

  // HU slices are windowed at load time; colour images stay BGR, resized so the long side is imgsz.
  LoadedImage li = ds->load(0);
  ASSERT_EQ(li.img.type(), CV_8UC3);
  cv::Mat expect = window_hu(cv::imread(ds->info(0).image, cv::IMREAD_UNCHANGED), s.cfg().data.hu_windows);
  EXPECT_EQ(cv::norm(li.img, expect, cv::NORM_INF), 0);
  EXPECT_EQ(li.img.at<cv::Vec3b>(25, 15)[0], 200);  // bone window: (1500-400)/1400*255 truncated
  LoadedImage c = ds->load(2);
  EXPECT_EQ(c.img.cols, 64);
  EXPECT_EQ(c.img.rows, 32);
}

TEST(Dataset, LabelCacheIsReusedAndInvalidatedPerFile) {
  SmallSet s;
  auto quiet = [](const std::string&) {};
  auto first = YoloDataset::from_config(s.cfg(), Role::Train, quiet);
  EXPECT_EQ(first->report().cached, 0);
  ASSERT_TRUE(fs::exists(s.dir.path / "labels" / "axial.vyolo-cache.json"));
  EXPECT_FALSE(fs::exists(s.dir.path / "labels" / "axial.cache"));  // Ultralytics' name is left alone
  auto second = YoloDataset::from_config(s.cfg(), Role::Train, quiet);
  EXPECT_EQ(second->report().cached, 4);
  EXPECT_EQ(second->report().messages, first->report().messages);
  EXPECT_EQ(second->report().boxes, 3);
  // Changing one label file re-checks that image only.
  write_text(s.lab / "P1_L1_slice_000.txt", "0 0.5 0.5 0.25 0.25\n0 0.2 0.2 0.1 0.1\n");
  auto third = YoloDataset::from_config(s.cfg(), Role::Train, quiet);
  EXPECT_EQ(third->report().cached, 3);
  EXPECT_EQ(third->report().boxes, 4);
}

TEST(Dataset, PatientFilter) {
  SmallSet s;
  auto quiet = [](const std::string&) {};
  auto ds = YoloDataset::from_config(s.cfg({"P1"}), Role::Train, quiet);
  ASSERT_EQ(ds->size(), 2u);
  for (size_t i = 0; i < ds->size(); ++i) EXPECT_EQ(patient_id(ds->info(i).image), "P1");
  auto val = YoloDataset::from_config(s.cfg(), Role::Val, quiet);
  ASSERT_EQ(val->size(), 1u);
  EXPECT_EQ(patient_id(val->info(0).image), "P2");
}

TEST(Dataset, BadSplitsFailBeforeTraining) {
  SmallSet s;
  auto quiet = [](const std::string&) {};
  try {
    YoloDataset::from_config(s.cfg({}), Role::Train, quiet);
    FAIL() << "empty split accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("train_patients is empty"), std::string::npos) << e.what();
  }
  try {
    YoloDataset::from_config(s.cfg({"P1", "P9", "Q7"}), Role::Train, quiet);
    FAIL() << "unknown patients accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("2 patient(s) with no images"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("P9, Q7"), std::string::npos) << e.what();
  }
  // Only the corrupt image: nothing usable.
  EXPECT_THROW(YoloDataset::from_config(s.cfg({"P3"}), Role::Train, quiet), UsageError);
  // No folder at all.
  Config c = s.cfg();
  c.data.data_dir = (s.dir.path / "nope").string();
  EXPECT_THROW(YoloDataset::from_config(c, Role::Train, quiet), UsageError);
}

TEST(Dataset, NoLabelsFailsForTrainingButNegativesAreFine) {
  TempDir d;
  for (int i = 0; i < 3; ++i)
    write_image(d.path / "images" / "axial" / ("N1_L1_slice_00" + std::to_string(i) + ".png"),
                hu_slice(32, 32, {1, 1, 2, 2}));
  Config c;
  c.data.data_dir = d.path.string();
  c.data.image_size = 32;
  c.split.train_patients = {"N1"};
  c.split.val_patients = {"N1"};
  auto quiet = [](const std::string&) {};
  try {
    YoloDataset::from_config(c, Role::Train, quiet);
    FAIL() << "label-less training set accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no labels"), std::string::npos) << e.what();
  }
  auto val = YoloDataset::from_config(c, Role::Val, quiet);  // negatives only: a valid validation set
  EXPECT_EQ(val->size(), 3u);
  EXPECT_EQ(val->report().missing, 3);
}

TEST(Dataset, UltralyticsDataYaml) {
  TempDir d;
  const fs::path root = d.path / "set";
  cv::Mat grey(30, 50, CV_8UC1, cv::Scalar(90));
  for (int i = 0; i < 3; ++i) {
    write_image(root / "images" / "train" / ("a" + std::to_string(i) + ".png"), grey);
    write_text(root / "labels" / "train" / ("a" + std::to_string(i) + ".txt"), "1 0.5 0.5 0.2 0.2\n");
  }
  write_image(root / "images" / "val" / "b0.jpg", grey);
  write_image(root / "images" / "val" / "b1.jpg", grey);
  write_text(root / "labels" / "val" / "b0.txt", "0 0.5 0.5 0.2 0.2\n");
  write_text(root / "val.txt", "./images/val/b0.jpg\nimages/val/b1.jpg\n");
  write_text(d.path / "data.yaml", "path: set\ntrain: images/train\nval: val.txt\nnames:\n  0: a\n  1: b\n");

  DataYaml y = read_data_yaml(d.path / "data.yaml");
  EXPECT_EQ(y.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(y.train.size(), 3u);
  EXPECT_EQ(y.val.size(), 2u);

  Config c;
  c.data.data_yaml = (d.path / "data.yaml").string();
  c.data.image_size = 64;
  auto quiet = [](const std::string&) {};
  auto tr = YoloDataset::from_config(c, Role::Train, quiet);
  EXPECT_EQ(tr->size(), 3u);
  EXPECT_EQ(tr->options().nc, 2);
  EXPECT_EQ(tr->report().boxes, 3);
  EXPECT_EQ(tr->load(0).img.type(), CV_8UC3);  // grey -> 3 channels
  auto va = YoloDataset::from_config(c, Role::Val, quiet);
  EXPECT_EQ(va->size(), 2u);
  EXPECT_EQ(va->report().missing, 1);

  write_text(d.path / "bad.yaml", "train: images/train\n");
  EXPECT_THROW(read_data_yaml(d.path / "bad.yaml"), UsageError);
  write_text(d.path / "bad2.yaml", "path: set\ntrain: nowhere\nnames: [a]\n");
  try {
    read_data_yaml(d.path / "bad2.yaml");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("nowhere"), std::string::npos) << e.what();
  }
}

TEST(Dataset, RamCacheGivesTheSameImages) {
  SmallSet s;
  Config c = s.cfg();
  auto quiet = [](const std::string&) {};
  auto disk = YoloDataset::from_config(c, Role::Train, quiet);
  c.data.cache = "ram";
  auto ram = YoloDataset::from_config(c, Role::Train, quiet);
  for (size_t i = 0; i < ram->size(); ++i) EXPECT_EQ(cv::norm(disk->load(i).img, ram->load(i).img, cv::NORM_INF), 0);
  c.data.cache = "disk";
  EXPECT_THROW(YoloDataset::from_config(c, Role::Train, quiet), UsageError);
}

TEST(Dataset, RealXraySpineSetLoads) {
  const fs::path shared = shared_dir();
  const fs::path root = shared.empty() ? fs::path() : shared / "data" / "xray_spine_vertebrae_yolo";
  if (shared.empty() || !fs::is_directory(root / "images")) GTEST_SKIP() << "shared xray_spine_vertebrae_yolo absent";
  DatasetOptions o;
  o.imgsz = 256;
  o.use_label_cache = false;  // never write into ../shared
  o.warn = [](const std::string&) {};
  YoloDataset ds(list_images(root / "images"), "xray_spine_vertebrae_yolo", o);
  EXPECT_GT(ds.size(), 300u);
  EXPECT_EQ(ds.report().corrupt, 0);
  EXPECT_GT(ds.report().boxes, 1000);
  LoadedImage li = ds.load(0);
  EXPECT_EQ(std::max(li.img.rows, li.img.cols), 256);
}

TEST(Dataset, HuTableEqualsWindowHu) {
  cv::Mat hu(37, 53, CV_16UC1);
  cv::randu(hu, 0, 65536);
  HuWindows w;
  w.wide = {-350, 1250};
  HuLut lut(w);
  EXPECT_EQ(cv::norm(lut.apply(hu), window_hu(hu, w), cv::NORM_INF), 0);
  w.bone = {500, 100};
  EXPECT_THROW(HuLut bad(w), UsageError);
}

// Issue 17: a JPEG cut short (OpenCV decodes it without an error, the missing rows grey) and a 16-bit grey image that
// cannot be HU + 32768 are skipped with their path; a data.yaml value of the wrong kind names file and line.
TEST(Dataset, TruncatedJpegAndNonHu16BitImagesAreSkippedByName) {
  TempDir d;
  const fs::path img = d.path / "images" / "val";
  cv::Mat grey(40, 60, CV_8UC3, cv::Scalar(90, 100, 110));
  write_image(img / "good.jpg", grey);
  write_image(img / "good_hu.png", hu_slice(40, 40, {5, 5, 10, 10}));
  cv::Mat xray16(40, 40, CV_16UC1, cv::Scalar(4095));  // a 12-bit X-ray saved as 16 bits
  write_image(img / "xray16.png", xray16);
  const std::string jpeg = read_file(img / "good.jpg");
  write_text(img / "cut.jpg", jpeg.substr(0, jpeg.size() - 100));
  write_text(img / "cut_named.png", jpeg.substr(0, jpeg.size() / 2));
  std::vector<std::string> warnings;
  DatasetOptions o;
  o.imgsz = 64;
  o.use_label_cache = false;
  o.warn = [&](const std::string& m) { warnings.push_back(m); };
  YoloDataset ds(list_images(img), "val", o);
  EXPECT_EQ(ds.size(), 2u);
  EXPECT_TRUE(any_contains(warnings, (img / "cut.jpg").string() + ": skipped", "truncated JPEG"));
  EXPECT_TRUE(any_contains(warnings, (img / "cut_named.png").string() + ": skipped", "truncated JPEG"));
  EXPECT_TRUE(any_contains(warnings, (img / "xray16.png").string() + ": skipped", "not HU + 32768"));

  write_text(d.path / "names.yaml", "path: .\ntrain: images/val\nval: images/val\nnames: [[a], [b]]\n");
  write_text(d.path / "nc.yaml", "path: .\ntrain: images/val\nnc: 2\nnames: [a]\n");
  write_text(d.path / "deep.yaml", "train: images/val\nnames: " + std::string(5000, '[') + std::string(5000, ']'));
  for (const auto& [file, line] : {std::pair<std::string, std::string>{"names.yaml", ":4:"}, {"nc.yaml", ":3:"},
                                   {"deep.yaml", ":2:"}}) {
    try {
      read_data_yaml(d.path / file);
      ADD_FAILURE() << file << " was read";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find((d.path / file).string() + line), std::string::npos) << e.what();
    }
  }
}
