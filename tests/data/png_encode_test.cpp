#include "data/png_encode.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"

using namespace vyolo;

TEST(PngEncode, RoundTripsThroughOpenCv) {
  for (int type : {CV_8UC1, CV_8UC3, CV_16UC1, CV_16UC3}) {
    cv::Mat m(37, 53, type);
    cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(CV_MAT_DEPTH(type) == CV_16U ? 65535 : 255));
    for (int level : {0, 1, 6}) {
      const std::string png = encode_png(m, level);
      cv::Mat back = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_UNCHANGED);
      ASSERT_EQ(back.type(), type);
      EXPECT_EQ(cv::norm(back, m, cv::NORM_INF), 0) << "type " << type << " level " << level;
    }
  }
  EXPECT_THROW(encode_png(cv::Mat(2, 2, CV_32FC1)), RuntimeError);
}
