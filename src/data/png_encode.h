// A small, fast PNG encoder for the dataset writer: 8- or 16-bit, 1 or 3 channels, "Up" row filter, deflate at the
// given level (libdeflate, 0-12; 0 = stored). libpng's adaptive filtering and zlib dominated `prepare` time; this
// writes the same pixels (cv::imread reads them back unchanged, 3-channel Mats in OpenCV's BGR order like cv::imwrite).
#pragma once
#include <string>

#include <opencv2/core.hpp>

namespace vyolo {

// CV_8UC1, CV_8UC3, CV_16UC1 or CV_16UC3 -> PNG file bytes. Throws RuntimeError for other types.
std::string encode_png(const cv::Mat& img, int level = 1);

}  // namespace vyolo
