// HU windowing at load time (DESIGN.md §5): a 16-bit slice (value = HU + 32768) -> the 3-channel image of the
// configured hu_windows, so that changing windows needs no re-preparation.
#pragma once
#include <opencv2/core.hpp>

#include "config/config.h"

namespace vyolo {

// Offset that maps HU into uint16 PNG values.
constexpr int kHuOffset = 32768;

// CV_16UC1 (HU + 32768) -> CV_8UC3. Channel order equals what the upstream Python writes with
// cv2.imwrite(np.stack([bone, soft_tissue, wide], -1)): channel 0 = bone, 1 = soft_tissue, 2 = wide (OpenCV "BGR").
// Each channel = uint8(trunc((clip(HU, min, max) - min) / (max - min) * 255)), computed in double like numpy.
// Throws RuntimeError on a wrong type or a window with max <= min.
cv::Mat window_hu(const cv::Mat& hu16, const HuWindows& w);

// Same as window_hu but CV_32FC3 in 0..1: (clip(HU, min, max) - min) / (max - min), no truncation.
cv::Mat window_hu_float(const cv::Mat& hu16, const HuWindows& w);

// One channel: CV_16UC1 -> CV_8UC1 with the formula above.
cv::Mat window_hu_channel(const cv::Mat& hu16, const HuWindow& w);

}  // namespace vyolo
