#include "data/prepare.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/fs_util.h"
#include "data/hu_window.h"
#include "data/phantom.h"
#include "data/vertebra_labels.h"
#include "data/volume.h"

namespace fs = std::filesystem;

using namespace vyolo;
using json = nlohmann::json;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("vyolo_prep_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// Phantom cases shared by the tests of this file (written once, removed when the test program ends).
struct SharedPhantoms {
  fs::path dir = temp_dir("phantom_src");
  SharedPhantoms() { write_phantoms(dir, 4, 42); }
  ~SharedPhantoms() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

const fs::path& phantom_source() {
  static SharedPhantoms p;
  return p.dir;
}

struct LabelCount {
  long slices = 0, with_fracture = 0, boxes = 0;
  std::map<int, long> hist;
};

LabelCount count_labels(const fs::path& dir) {
  LabelCount c;
  for (auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path());
    std::string line;
    int n = 0;
    while (std::getline(in, line))
      if (!line.empty()) ++n;
    ++c.slices;
    c.with_fracture += n > 0;
    c.boxes += n;
    ++c.hist[n];
  }
  return c;
}

std::vector<std::array<double, 5>> read_boxes(const fs::path& p) {
  std::vector<std::array<double, 5>> out;
  std::ifstream in(p);
  std::array<double, 5> b;
  while (in >> b[0] >> b[1] >> b[2] >> b[3] >> b[4]) out.push_back(b);
  return out;
}

}  // namespace

TEST(Prepare, PhantomStatsEqualLabelFilesAndRerunSkips) {
  PrepareOptions o;
  o.source = phantom_source();
  o.out = temp_dir("phantom_out");
  o.max_negatives = 6;
  std::ostringstream log;
  PrepareStats s = prepare_dataset(o, &log);
  EXPECT_EQ(s.failures.size(), 0u) << log.str();
  EXPECT_EQ(s.cases_done, 4);
  EXPECT_GT(s.slices_with_fracture, 0);
  LabelCount c = count_labels(o.out / "labels/axial");
  json j = json::parse(read_file(o.out / "stats.json"));
  EXPECT_EQ(j["slices"].get<long>(), c.slices);
  EXPECT_EQ(j["slices_with_fracture"].get<long>(), c.with_fracture);
  EXPECT_EQ(j["boxes"].get<long>(), c.boxes);
  for (auto& [k, v] : c.hist) EXPECT_EQ(j["boxes_per_slice"][std::to_string(k)].get<long>(), v) << k;
  EXPECT_EQ(j["boxes_per_slice"].size(), c.hist.size());
  // Every label file has its image, 256x256 16-bit.
  long images = 0;
  for (auto& e : fs::directory_iterator(o.out / "images/axial")) {
    ++images;
    fs::path lbl = o.out / "labels/axial" / (e.path().stem().string() + ".txt");
    ASSERT_TRUE(fs::exists(lbl)) << lbl;
    if (images < 5) {
      cv::Mat m = cv::imread(e.path().string(), cv::IMREAD_UNCHANGED);
      EXPECT_EQ(m.type(), CV_16UC1);
      EXPECT_EQ(m.rows, 256);
      EXPECT_EQ(m.cols, 256);
    }
  }
  EXPECT_EQ(images, c.slices);
  // Negative cap: at most 6 slices without a box per vertebra crop.
  std::map<std::string, int> neg;
  for (auto& e : fs::directory_iterator(o.out / "labels/axial")) {
    if (fs::file_size(e.path()) > 0) continue;
    std::string n = e.path().filename().string();
    ++neg[n.substr(0, n.find("_slice_"))];
  }
  for (auto& [k, v] : neg) EXPECT_LE(v, 6) << k;
  YAML::Node dy = YAML::LoadFile((o.out / "data.yaml").string());
  EXPECT_EQ(dy["train"].as<std::string>(), "images/axial");
  EXPECT_EQ(dy["names"][0].as<std::string>(), "fracture");

  // Re-run: everything is skipped, same totals.
  PrepareStats s2 = prepare_dataset(o, nullptr);
  EXPECT_EQ(s2.cases_skipped, 4);
  EXPECT_EQ(s2.cases_done, 0);
  EXPECT_EQ(s2.slices, s.slices);
  EXPECT_EQ(s2.boxes, s.boxes);
  // A deleted output makes its case run again.
  {
    auto it = fs::directory_iterator(o.out / "images/axial");
    const std::string victim = it->path().filename().string();
    fs::remove(it->path());
    PrepareStats s4 = prepare_dataset(o, nullptr);
    EXPECT_EQ(s4.cases_done, 1);
    EXPECT_EQ(s4.cases_skipped, 3);
    EXPECT_EQ(s4.slices, s.slices);
    EXPECT_TRUE(fs::exists(o.out / "images/axial" / victim));
  }
  // A changed option redoes the cases and leaves no stale files.
  o.max_negatives = 2;
  PrepareStats s3 = prepare_dataset(o, nullptr);
  EXPECT_EQ(s3.cases_done, 4);
  EXPECT_EQ(count_labels(o.out / "labels/axial").slices, s3.slices);
  EXPECT_LT(s3.slices, s.slices);
  fs::remove_all(o.out);
}

TEST(Prepare, PhantomBoxesOverlapTheirFractureInstances) {
  for (int size : {0, 256}) {
    PrepareOptions o;
    o.source = phantom_source();
    o.out = temp_dir("overlap" + std::to_string(size));
    o.crop = "none";
    o.keep = "vertebrae";
    o.image_size = size;  // 128 x 128 slices: native, or scaled by 2 without padding
    const double scale = size == 0 ? 1.0 : size / 128.0;
    PrepareStats s = prepare_dataset(o, nullptr);
    ASSERT_TRUE(s.failures.empty());
    long checked = 0;
    for (int ci = 1; ci <= 4; ++ci) {
      PhantomCase pc = make_phantom_case(ci, 42);
      for (auto& e : fs::directory_iterator(o.out / "labels/axial")) {
        std::string n = e.path().stem().string();
        if (n.rfind(pc.id + "_", 0) != 0) continue;
        const int k = std::stoi(n.substr(n.rfind('_') + 1));
        const int W = static_cast<int>(128 * scale);
        for (auto& b : read_boxes(e.path())) {
          // The phantom's canonical grid is its own grid (LPS identity), so pixel / scale = voxel.
          int x0 = static_cast<int>(std::floor((b[1] - b[3] / 2) * W / scale + 1e-6));
          int x1 = static_cast<int>(std::ceil((b[1] + b[3] / 2) * W / scale - 1e-6));
          int y0 = static_cast<int>(std::floor((b[2] - b[4] / 2) * W / scale + 1e-6));
          int y1 = static_cast<int>(std::ceil((b[2] + b[4] / 2) * W / scale - 1e-6));
          bool hit = false;
          for (int j = std::max(0, y0); j < std::min(128, y1) && !hit; ++j)
            for (int i = std::max(0, x0); i < std::min(128, x1) && !hit; ++i) hit = pc.fracture.at(i, j, k) > 0;
          EXPECT_TRUE(hit) << n << " box does not overlap a fracture voxel";
          ++checked;
        }
      }
      // Conversely, every slice holding a large fracture cross-section got a box.
      for (int k = 0; k < pc.fracture.dims[2]; ++k) {
        long vox = 0;
        for (int j = 0; j < 128; ++j)
          for (int i = 0; i < 128; ++i) vox += pc.fracture.at(i, j, k) > 0;
        if (vox < 100) continue;
        char name[64];
        std::snprintf(name, sizeof name, "%s_all_slice_%03d.txt", pc.id.c_str(), k);
        EXPECT_FALSE(read_boxes(o.out / "labels/axial" / name).empty()) << name;
      }
    }
    EXPECT_GT(checked, 10);
    fs::remove_all(o.out);
  }
}

TEST(Prepare, WindowedAndSlabModesAgreeWithHu16) {
  PrepareOptions o;
  o.source = phantom_source() / "sub-phantom001";
  o.crop = "none";
  o.image_size = 0;
  o.out = temp_dir("mode_hu16");
  prepare_dataset(o, nullptr);
  PrepareOptions w = o, sl = o;
  w.mode = "windowed";
  w.out = temp_dir("mode_win");
  prepare_dataset(w, nullptr);
  sl.mode = "slab";
  sl.out = temp_dir("mode_slab");
  prepare_dataset(sl, nullptr);
  const std::string name = "sub-phantom001_all_slice_060.png";
  cv::Mat hu = cv::imread((o.out / "images/axial" / name).string(), cv::IMREAD_UNCHANGED);
  cv::Mat win = cv::imread((w.out / "images/axial" / name).string(), cv::IMREAD_UNCHANGED);
  cv::Mat slab = cv::imread((sl.out / "images/axial" / name).string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(hu.type(), CV_16UC1);
  ASSERT_EQ(win.type(), CV_8UC3);
  ASSERT_EQ(slab.type(), CV_8UC3);
  EXPECT_EQ(cv::norm(win, window_hu(hu, HuWindows{}), cv::NORM_INF), 0);
  std::vector<cv::Mat> ch;
  cv::split(slab, ch);
  EXPECT_EQ(cv::norm(ch[0], window_hu_channel(hu, HuWindows{}.bone), cv::NORM_INF), 0);
  // Channel 1 is the mean of 15 slices in the bone window: check pixels against the phantom itself.
  PhantomCase pc = make_phantom_case(1, 42);
  int checked = 0;
  for (int y = 30; y < 100; y += 3)
    for (int x = 30; x < 100; x += 3) {
      double sum = 0;
      for (int k = 53; k <= 67; ++k) sum += pc.ct.at(x, y, k);
      const double hu_mean = std::nearbyint(sum / 15);
      const double v = (std::clamp(hu_mean, 400.0, 1800.0) - 400) / 1400 * 255;
      EXPECT_EQ(ch[1].at<uint8_t>(y, x), static_cast<int>(v)) << x << "," << y;
      checked += v > 0;
    }
  EXPECT_GT(checked, 5);
  for (auto* d : {&o.out, &w.out, &sl.out}) fs::remove_all(*d);
}

TEST(Prepare, BadCasesAreReportedOthersComplete) {
  fs::path src = temp_dir("bad_src");
  const fs::path good = phantom_source() / "sub-phantom002";
  auto copy_case = [&](const std::string& name) {
    fs::create_directories(src / name);
    for (auto& e : fs::directory_iterator(good)) fs::copy_file(e.path(), src / name / e.path().filename());
  };
  copy_case("good");
  copy_case("trunc");
  {
    std::string b = read_file(src / "trunc/ct.nii.gz");
    write_file_atomic(src / "trunc/ct.nii.gz", b.substr(0, b.size() * 2 / 3));
  }
  copy_case("shape");
  {
    Volume v;
    v.dims = {10, 10, 10};
    v.affine = make_affine({1, 1, 1});
    v.voxels.assign(v.size(), 0);
    write_nifti(v, src / "shape/fracture.nii.gz", 2);
  }
  copy_case("nomask");
  fs::remove(src / "nomask/fracture.nii.gz");
  copy_case("novert");
  fs::remove(src / "novert/vertebrae.nii.gz");
  copy_case("nan");
  {
    Volume v = read_nifti(src / "nan/ct.nii.gz");
    v.voxels[v.size() / 2] = std::nanf("");
    write_nifti(v, src / "nan/ct.nii.gz", 16);
  }
  copy_case("mixed");
  {
    fs::remove(src / "mixed/ct.nii.gz");
    Volume v = make_phantom_case(2, 42).ct;
    write_dicom_series(v, src / "mixed/tmp_a");
    write_dicom_series(v, src / "mixed/tmp_b");
    fs::create_directories(src / "mixed/ct");
    int n = 0;
    for (auto& e : fs::directory_iterator(src / "mixed/tmp_a")) {
      if (n++ < 60) fs::rename(e.path(), src / "mixed/ct" / ("a" + e.path().filename().string()));
    }
    n = 0;
    for (auto& e : fs::directory_iterator(src / "mixed/tmp_b"))
      if (n++ < 2) fs::rename(e.path(), src / "mixed/ct" / ("b" + e.path().filename().string()));
    fs::remove_all(src / "mixed/tmp_a");
    fs::remove_all(src / "mixed/tmp_b");
  }
  PrepareOptions o;
  o.source = src;
  o.out = temp_dir("bad_out");
  std::ostringstream log;
  PrepareStats s = prepare_dataset(o, &log);
  EXPECT_EQ(s.cases, 7) << log.str();
  EXPECT_EQ(s.cases_done, 1) << log.str();
  ASSERT_EQ(s.failures.size(), 6u) << log.str();
  std::map<std::string, std::string> why(s.failures.begin(), s.failures.end());
  EXPECT_NE(why["trunc"].find("trunc"), std::string::npos) << why["trunc"];
  EXPECT_NE(why["trunc"].find("truncated"), std::string::npos) << why["trunc"];
  EXPECT_NE(why["shape"].find("differs from CT shape"), std::string::npos) << why["shape"];
  EXPECT_NE(why["nomask"].find("missing fracture mask"), std::string::npos) << why["nomask"];
  EXPECT_NE(why["novert"].find("missing vertebra mask"), std::string::npos) << why["novert"];
  EXPECT_NE(why["nan"].find("NaN"), std::string::npos) << why["nan"];
  EXPECT_NE(why["mixed"].find("mixed DICOM series"), std::string::npos) << why["mixed"];
  json j = json::parse(read_file(o.out / "stats.json"));
  EXPECT_EQ(j["cases_failed"].get<int>(), 6);
  EXPECT_EQ(j["slices"].get<long>(), count_labels(o.out / "labels/axial").slices);
  // Only the good case left files.
  for (auto& e : fs::directory_iterator(o.out / "images/axial"))
    EXPECT_EQ(e.path().filename().string().rfind("good_", 0), 0u) << e.path();
  fs::remove_all(src);
  fs::remove_all(o.out);
}

TEST(Prepare, RealCtExamplesNiftiAndDicom) {
  const fs::path shared = shared_dir();
  const fs::path src = shared / "data/ct_spine_examples";
  if (shared.empty() || !fs::is_directory(src)) GTEST_SKIP() << "../shared/data/ct_spine_examples not available";
  PrepareOptions o;
  o.source = src;
  o.out = temp_dir("real");
  o.vertebra_labels = "totalseg";
  o.allow_unlabeled = true;
  o.image_size = 0;
  o.margin = 3;
  std::ostringstream log;
  PrepareStats s = prepare_dataset(o, &log);
  ASSERT_TRUE(s.failures.empty()) << log.str();
  ASSERT_EQ(s.cases_done, 2);
  struct Case {
    std::string id;
    fs::path ct, mask;
  };
  for (const Case& c : {Case{"totalseg-example-ct", src / "totalseg_example_ct/ct.nii.gz",
                             src / "totalseg_example_ct/vertebrae_mask.nii.gz"},
                        Case{"totalseg-example-ct-dicom", src / "totalseg_example_ct_dicom/dicom",
                             src / "totalseg_example_ct_dicom/multilabel_mask.nii.gz"}}) {
    Volume ct = to_canonical(read_volume(c.ct));
    Volume mask = to_canonical(read_nifti(c.mask));
    // Each vertebra's bounding box, computed here independently.
    std::map<int, std::array<int, 6>> bb;
    for (int k = 0; k < mask.dims[2]; ++k)
      for (int j = 0; j < mask.dims[1]; ++j)
        for (int i = 0; i < mask.dims[0]; ++i) {
          int l = static_cast<int>(mask.at(i, j, k));
          if (vertebra_name(l, VertebraLabels::TotalSeg).empty()) continue;
          auto it = bb.find(l);
          if (it == bb.end()) bb[l] = {i, i, j, j, k, k};
          else {
            auto& b = it->second;
            b = {std::min(b[0], i), std::max(b[1], i), std::min(b[2], j), std::max(b[3], j), std::min(b[4], k),
                 std::max(b[5], k)};
          }
        }
    ASSERT_FALSE(bb.empty()) << c.id;
    for (auto& [l, b] : bb) {
      const std::string vname = vertebra_name(l, VertebraLabels::TotalSeg);
      const int x0 = std::max(0, b[0] - 3), x1 = std::min(ct.dims[0] - 1, b[1] + 3);
      const int y0 = std::max(0, b[2] - 3), y1 = std::min(ct.dims[1] - 1, b[3] + 3);
      const int z0 = std::max(0, b[4] - 3), z1 = std::min(ct.dims[2] - 1, b[5] + 3);
      int found = 0;
      for (auto& e : fs::directory_iterator(o.out / "images/axial")) {
        const std::string n = e.path().stem().string();
        if (n.rfind(c.id + "_" + vname + "_slice_", 0) != 0) continue;
        const int k = std::stoi(n.substr(n.rfind('_') + 1));
        EXPECT_GE(k, z0) << n;
        EXPECT_LE(k, z1) << n;
        ++found;
        cv::Mat img = cv::imread(e.path().string(), cv::IMREAD_UNCHANGED);
        ASSERT_EQ(img.type(), CV_16UC1);
        ASSERT_EQ(img.cols, x1 - x0 + 1) << n;
        ASSERT_EQ(img.rows, y1 - y0 + 1) << n;
        for (int y = 0; y < img.rows; y += 3)
          for (int x = 0; x < img.cols; x += 3)
            ASSERT_EQ(img.at<uint16_t>(y, x) - 32768, static_cast<int>(ct.at(x0 + x, y0 + y, k))) << n;
      }
      EXPECT_EQ(found, z1 - z0 + 1) << c.id << " " << vname;
    }
  }
  fs::remove_all(o.out);
}

TEST(Prepare, UpstreamSliceLayoutIsAccepted) {
  fs::path src = temp_dir("slices_src");
  PhantomCase pc = make_phantom_case(2, 42);  // fractured
  ASSERT_FALSE(pc.fractures.empty());
  // slice_train/axial/<case>/<vertebra>/slice_NNN.nii and axial_mask/... for every slice of the fractured vertebra.
  const int label = pc.fractures[0].vertebra_label;
  int k0 = 1 << 30, k1 = -1;
  for (int k = 0; k < pc.ct.dims[2]; ++k)
    for (int j = 0; j < 128; ++j)
      for (int i = 0; i < 128; ++i)
        if (pc.vertebrae.at(i, j, k) == label) k0 = std::min(k0, k), k1 = std::max(k1, k);
  auto slice_of = [](const Volume& v, int k) {
    Volume s;
    s.dims = {v.dims[0], v.dims[1], 1};
    s.affine = make_affine({1, 1, 1});
    s.voxels.assign(v.voxels.begin() + v.index(0, 0, k), v.voxels.begin() + v.index(0, 0, k + 1));
    return s;
  };
  for (int k = k0; k <= k1; ++k) {
    char n[32];
    std::snprintf(n, sizeof n, "slice_%03d.nii", k);
    write_nifti(slice_of(pc.ct, k), src / "slice_train/axial/sub-phantom002/L1" / n, 4);
    write_nifti(slice_of(pc.fracture, k), src / "slice_train/axial_mask/sub-phantom002/L1" / n, 2);
  }
  PrepareOptions o;
  o.source = src;
  o.out = temp_dir("slices_out");
  o.image_size = 0;
  std::ostringstream log;
  PrepareStats s = prepare_dataset(o, &log);
  ASSERT_TRUE(s.failures.empty()) << log.str();
  EXPECT_EQ(s.slices, k1 - k0 + 1);
  long expect_boxes = 0;
  for (int k = k0; k <= k1; ++k) {
    Volume m = slice_of(pc.fracture, k);
    cv::Mat m16;
    cv::Mat(128, 128, CV_32FC1, m.voxels.data()).convertTo(m16, CV_16U);
    const auto boxes = mask_to_boxes(m16);
    expect_boxes += static_cast<long>(boxes.size());
    char n[64];
    std::snprintf(n, sizeof n, "sub-phantom002_L1_slice_%03d", k);
    EXPECT_EQ(read_boxes(o.out / "labels/axial" / (std::string(n) + ".txt")).size(), boxes.size()) << n;
    cv::Mat img = cv::imread((o.out / "images/axial" / (std::string(n) + ".png")).string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(img.type(), CV_16UC1);
    EXPECT_EQ(img.at<uint16_t>(60, 70) - 32768, static_cast<int>(pc.ct.at(70, 60, k))) << n;
  }
  EXPECT_EQ(s.boxes, expect_boxes);
  EXPECT_GT(expect_boxes, 0);
  fs::remove_all(src);
  fs::remove_all(o.out);
}

TEST(Prepare, BadOptionsAreUsageErrors) {
  PrepareOptions o;
  o.source = "/nonexistent";
  o.out = "/tmp/x";
  EXPECT_NO_THROW(validate(o));
  for (auto bad : std::vector<std::function<void(PrepareOptions&)>>{
           [](PrepareOptions& p) { p.view = "oblique"; }, [](PrepareOptions& p) { p.mode = "jpeg"; },
           [](PrepareOptions& p) { p.crop = "body"; }, [](PrepareOptions& p) { p.keep = "some"; },
           [](PrepareOptions& p) { p.margin = -1; }, [](PrepareOptions& p) { p.workers = 0; },
           [](PrepareOptions& p) { p.vertebra_labels = "nnunet"; }, [](PrepareOptions& p) { p.source.clear(); }}) {
    PrepareOptions p = o;
    bad(p);
    EXPECT_THROW(validate(p), UsageError);
  }
  EXPECT_THROW(prepare_dataset(o, nullptr), RuntimeError);  // source folder missing
}

TEST(Prepare, SagittalSlicesKeepPhysicalProportions) {
  // 40 x 40 x 20 voxels of 1 x 1 x 2 mm: a 40 mm cube. A 10 x 10 x 10 mm fracture block must give a square box.
  fs::path src = temp_dir("aniso_src");
  Volume ct;
  ct.dims = {40, 40, 20};
  ct.spacing = {1, 1, 2};
  ct.affine = make_affine(ct.spacing);
  ct.voxels.assign(ct.size(), 40.0f);
  Volume fr = ct;
  std::fill(fr.voxels.begin(), fr.voxels.end(), 0.0f);
  for (int k = 5; k < 10; ++k)
    for (int j = 10; j < 20; ++j)
      for (int i = 15; i < 25; ++i) fr.at(i, j, k) = 1, ct.at(i, j, k) = 1200;
  write_nifti(ct, src / "c1/ct.nii.gz", 4);
  write_nifti(fr, src / "c1/fracture.nii.gz", 2);
  PrepareOptions o;
  o.source = src;
  o.out = temp_dir("aniso_out");
  o.view = "sagittal";
  o.crop = "none";
  o.image_size = 80;
  PrepareStats s = prepare_dataset(o, nullptr);
  ASSERT_TRUE(s.failures.empty());
  auto b = read_boxes(o.out / "labels/sagittal/c1_all_slice_020.txt");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NEAR(b[0][3], 0.25, 1e-6);  // 10 mm of 40 mm across
  EXPECT_NEAR(b[0][4], 0.25, 1e-6);  // 10 mm of 40 mm up
  EXPECT_NEAR(b[0][1], 15.0 / 40, 1e-6);         // centre at j = 15 mm
  EXPECT_NEAR(b[0][2], 1 - 15.0 / 40, 1e-6);     // centre at z = 15 mm, superior at the top
  cv::Mat img = cv::imread((o.out / "images/sagittal/c1_all_slice_020.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(img.rows, 80);
  ASSERT_EQ(img.cols, 80);
  EXPECT_EQ(img.at<uint16_t>(50, 30) - 32768, 1200);  // inside the block (rows 40..60, columns 20..40)
  EXPECT_EQ(img.at<uint16_t>(2, 2) - 32768, 40);      // no padding: the slice fills the square
  fs::remove_all(src);
  fs::remove_all(o.out);
}
