#include "data/slicing.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "common/error.h"

using namespace vyolo;

namespace {
Volume coded() {
  Volume v;
  v.dims = {4, 3, 5};
  v.spacing = {1, 1, 2};
  v.affine = make_affine(v.spacing);
  v.voxels.resize(v.size());
  for (int k = 0; k < 5; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 4; ++i) v.at(i, j, k) = static_cast<float>(100 * k + 10 * j + i);
  return v;
}
}  // namespace

TEST(Slicing, RowsAndColumnsOfEachView) {
  Volume v = coded();
  SliceRegion r = SliceRegion::whole(v);
  cv::Mat ax = extract_slice(v, view_axis("axial"), 2, r);
  ASSERT_EQ(ax.size(), cv::Size(4, 3));
  EXPECT_EQ(ax.at<float>(1, 3), 213);  // row j = 1, column i = 3
  cv::Mat co = extract_slice(v, view_axis("coronal"), 1, r);
  ASSERT_EQ(co.size(), cv::Size(4, 5));
  EXPECT_EQ(co.at<float>(0, 2), 412);  // top row = most superior k = 4
  cv::Mat sa = extract_slice(v, view_axis("sagittal"), 3, r);
  ASSERT_EQ(sa.size(), cv::Size(3, 5));
  EXPECT_EQ(sa.at<float>(4, 2), 23);   // bottom row k = 0, column j = 2
  EXPECT_EQ(slice_spacing(v, 0), (std::array<double, 2>{2, 1}));
  EXPECT_THROW(view_axis("oblique"), UsageError);
  // Cropped region.
  SliceRegion c;
  c.lo = {1, 1, 1};
  c.hi = {2, 2, 3};
  cv::Mat axc = extract_slice(v, 2, 3, c);
  ASSERT_EQ(axc.size(), cv::Size(2, 2));
  EXPECT_EQ(axc.at<float>(0, 0), 311);
}

TEST(Slicing, LetterboxMapsBack) {
  cv::Mat m(20, 40, CV_32FC1, cv::Scalar(5));
  m.at<float>(10, 30) = 900;
  Letterbox lb;
  cv::Mat out = letterbox(m, 80, cv::INTER_NEAREST, -1000, 1, 1, &lb);
  ASSERT_EQ(out.size(), cv::Size(80, 80));
  EXPECT_DOUBLE_EQ(lb.scale_x, 2);
  EXPECT_DOUBLE_EQ(lb.scale_y, 2);
  EXPECT_DOUBLE_EQ(lb.pad_x, 0);
  EXPECT_DOUBLE_EQ(lb.pad_y, 20);
  EXPECT_EQ(out.at<float>(0, 0), -1000);              // padding
  EXPECT_EQ(out.at<float>(20 + 2 * 10, 2 * 30), 900);  // (px - pad) / scale = (30, 10)
  // Anisotropic rows (2 mm) make the 20 x 40 slice physically square.
  cv::Mat sq = letterbox(m, 80, cv::INTER_LINEAR, 0, 2, 1, &lb);
  EXPECT_DOUBLE_EQ(lb.scale_y, 4);
  EXPECT_DOUBLE_EQ(lb.pad_y, 0);
  EXPECT_EQ(letterbox(m, 0, cv::INTER_LINEAR, 0).size(), m.size());
  cv::Mat u = hu_to_u16(cv::Mat(1, 2, CV_32FC1, cv::Scalar(-1000.4f)));
  EXPECT_EQ(u.at<uint16_t>(0, 0), 32768 - 1000);
}
