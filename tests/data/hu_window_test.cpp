#include "data/hu_window.h"

#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "common/error.h"

using namespace vyolo;

namespace {
// The upstream formula written out independently: uint8(((clip(h, lo, hi) - lo) / (hi - lo)) * 255).
int ref(int hu, double lo, double hi) {
  double h = hu < lo ? lo : (hu > hi ? hi : hu);
  return static_cast<int>(std::floor((h - lo) / (hi - lo) * 255.0));
}
}  // namespace

TEST(HuWindow, MatchesFormulaPerChannel) {
  HuWindows w;  // bone 400..1800, soft -100..300, wide -200..500
  std::vector<int> hus = {-32768, -1024, -1000, -201, -200, -199, -100, 0, 40, 299, 300, 301, 399, 400,
                          401,    1000,  1799,  1800, 1801, 3000, 32767};
  cv::Mat m(1, static_cast<int>(hus.size()), CV_16UC1);
  for (size_t i = 0; i < hus.size(); ++i) m.at<uint16_t>(0, static_cast<int>(i)) = uint16_t(hus[i] + 32768);
  cv::Mat out = window_hu(m, w);
  ASSERT_EQ(out.type(), CV_8UC3);
  for (size_t i = 0; i < hus.size(); ++i) {
    cv::Vec3b p = out.at<cv::Vec3b>(0, static_cast<int>(i));
    EXPECT_EQ(p[0], ref(hus[i], 400, 1800)) << "bone at HU " << hus[i];
    EXPECT_EQ(p[1], ref(hus[i], -100, 300)) << "soft tissue at HU " << hus[i];
    EXPECT_EQ(p[2], ref(hus[i], -200, 500)) << "wide at HU " << hus[i];
  }
  // Spot values computed by hand: HU 0 in soft tissue -> 100/400*255 = 63.75 -> 63; HU 1000 in bone -> 109.28 -> 109.
  EXPECT_EQ(out.at<cv::Vec3b>(0, 7)[1], 63);
  EXPECT_EQ(out.at<cv::Vec3b>(0, 15)[0], 109);
}

TEST(HuWindow, LargeSliceUsesSameValuesAsSmall) {
  HuWindows w;
  w.wide = {-1000, 2000};
  cv::Mat big(300, 300, CV_16UC1);
  cv::randu(big, cv::Scalar(32768 - 2000), cv::Scalar(32768 + 4000));
  cv::Mat out = window_hu(big, w);
  cv::Mat f = window_hu_float(big, w);
  for (int y = 0; y < big.rows; y += 7)
    for (int x = 0; x < big.cols; x += 5) {
      int hu = big.at<uint16_t>(y, x) - 32768;
      EXPECT_EQ(out.at<cv::Vec3b>(y, x)[0], ref(hu, 400, 1800));
      EXPECT_EQ(out.at<cv::Vec3b>(y, x)[2], ref(hu, -1000, 2000));
      double h = std::min<double>(std::max<double>(hu, -100), 300);
      EXPECT_NEAR(f.at<cv::Vec3f>(y, x)[1], (h + 100) / 400.0, 1e-6);
    }
  cv::Mat one = window_hu_channel(big, w.bone);
  for (int y = 0; y < big.rows; y += 11)
    EXPECT_EQ(one.at<uint8_t>(y, 3), out.at<cv::Vec3b>(y, 3)[0]);
}

TEST(HuWindow, RejectsBadInput) {
  HuWindows w;
  EXPECT_THROW(window_hu(cv::Mat(2, 2, CV_8UC1), w), RuntimeError);
  w.bone = {100, 100};
  EXPECT_THROW(window_hu(cv::Mat(2, 2, CV_16UC1, cv::Scalar(0)), w), RuntimeError);
}
