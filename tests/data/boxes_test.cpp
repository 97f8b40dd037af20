#include "data/boxes.h"

#include <gtest/gtest.h>

#include "data/vertebra_labels.h"

using namespace vyolo;

TEST(Boxes, OneBoxPerInstanceUnionOfItsPixels) {
  cv::Mat m(100, 200, CV_8UC1, cv::Scalar(0));
  m(cv::Rect(10, 20, 30, 15)).setTo(2);   // instance 2, two parts
  m(cv::Rect(60, 50, 12, 12)).setTo(2);
  m(cv::Rect(100, 10, 20, 40)).setTo(1);  // instance 1
  BoxCounts c;
  auto b = mask_to_boxes(m, {}, &c);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].instance, 1);
  EXPECT_DOUBLE_EQ(b[0].x0, 100);
  EXPECT_DOUBLE_EQ(b[0].x1, 120);
  EXPECT_DOUBLE_EQ(b[0].y0, 10);
  EXPECT_DOUBLE_EQ(b[0].y1, 50);
  EXPECT_EQ(b[1].instance, 2);
  EXPECT_DOUBLE_EQ(b[1].x0, 10);
  EXPECT_DOUBLE_EQ(b[1].x1, 72);
  EXPECT_DOUBLE_EQ(b[1].y0, 20);
  EXPECT_DOUBLE_EQ(b[1].y1, 62);
  EXPECT_EQ(c.kept, 2);
  EXPECT_EQ(c.grown, 0);
  // cx = 110/200, cy = 30/100, w = 20/200, h = 40/100
  EXPECT_EQ(yolo_line(b[0], 200, 100), "0 0.550000 0.300000 0.100000 0.400000");
}

TEST(Boxes, SmallSidesGrowToTenCentredAndInsideTheImage) {
  cv::Mat m(50, 50, CV_16UC1, cv::Scalar(0));
  m(cv::Rect(20, 20, 6, 8)).setTo(3);  // 6x8 = 48 px² >= 36: kept, both sides grown to 10
  m(cv::Rect(0, 40, 4, 10)).setTo(4);  // at the corner: 4x10 = 40 px², width grown to 10 from x = 0
  BoxCounts c;
  auto b = mask_to_boxes(m, {}, &c);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_DOUBLE_EQ(b[0].x0, 18);  // centre 23 -> [18, 28)
  EXPECT_DOUBLE_EQ(b[0].x1, 28);
  EXPECT_DOUBLE_EQ(b[0].y0, 19);  // centre 24 -> [19, 29)
  EXPECT_DOUBLE_EQ(b[0].y1, 29);
  EXPECT_DOUBLE_EQ(b[1].x0, 0);   // centre 2 -> [-3, 7) shifted to [0, 10)
  EXPECT_DOUBLE_EQ(b[1].x1, 10);
  EXPECT_DOUBLE_EQ(b[1].y0, 40);
  EXPECT_DOUBLE_EQ(b[1].y1, 50);
  EXPECT_EQ(c.grown, 2);
  EXPECT_EQ(c.kept, 2);
}

TEST(Boxes, SmallAreaDropped) {
  cv::Mat m(50, 50, CV_32SC1, cv::Scalar(0));
  m(cv::Rect(5, 5, 5, 7)).setTo(1);    // 35 px² < 36: dropped
  m(cv::Rect(20, 20, 6, 6)).setTo(2);  // 36 px²: kept
  m.at<int>(40, 40) = 3;               // one pixel: dropped
  BoxCounts c;
  auto b = mask_to_boxes(m, {}, &c);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].instance, 2);
  EXPECT_EQ(c.dropped_area, 2);
  EXPECT_EQ(c.dropped_aspect, 0);
}

TEST(Boxes, ExtremeAspectDropped) {
  cv::Mat m(300, 300, CV_8UC1, cv::Scalar(0));
  m(cv::Rect(0, 0, 205, 10)).setTo(1);    // 20.5 > 20: dropped
  m(cv::Rect(0, 100, 200, 10)).setTo(2);  // exactly 20: kept
  m(cv::Rect(250, 0, 2, 41)).setTo(3);    // 82 px², 20.5: dropped
  BoxCounts c;
  auto b = mask_to_boxes(m, {}, &c);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].instance, 2);
  EXPECT_EQ(c.dropped_aspect, 2);
  EXPECT_EQ(c.dropped_area, 0);
}

TEST(VertebraLabels, VerseAndTotalSegmentator) {
  EXPECT_EQ(vertebra_name(1, VertebraLabels::Verse), "C1");
  EXPECT_EQ(vertebra_name(7, VertebraLabels::Verse), "C7");
  EXPECT_EQ(vertebra_name(8, VertebraLabels::Verse), "T1");
  EXPECT_EQ(vertebra_name(19, VertebraLabels::Verse), "T12");
  EXPECT_EQ(vertebra_name(20, VertebraLabels::Verse), "L1");
  EXPECT_EQ(vertebra_name(25, VertebraLabels::Verse), "L6");
  EXPECT_EQ(vertebra_name(28, VertebraLabels::Verse), "T13");
  EXPECT_EQ(vertebra_name(26, VertebraLabels::Verse), "");
  EXPECT_EQ(vertebra_name(26, VertebraLabels::TotalSeg), "S1");
  EXPECT_EQ(vertebra_name(27, VertebraLabels::TotalSeg), "L5");
  EXPECT_EQ(vertebra_name(31, VertebraLabels::TotalSeg), "L1");
  EXPECT_EQ(vertebra_name(32, VertebraLabels::TotalSeg), "T12");
  EXPECT_EQ(vertebra_name(33, VertebraLabels::TotalSeg), "T11");
  EXPECT_EQ(vertebra_name(43, VertebraLabels::TotalSeg), "T1");
  EXPECT_EQ(vertebra_name(44, VertebraLabels::TotalSeg), "C7");
  EXPECT_EQ(vertebra_name(50, VertebraLabels::TotalSeg), "C1");
  EXPECT_EQ(vertebra_name(51, VertebraLabels::TotalSeg), "");
  EXPECT_EQ(vertebra_name(5, VertebraLabels::TotalSeg), "");
}
