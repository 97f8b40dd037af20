// What both trackers (TensorBoard, W&B) stamp on what they write, beyond their own formats: wall-clock time, the
// machine's name, and images as PNG bytes. One copy so the two can never disagree on the clock, the host or the image
// encoding of one run.
#pragma once
#include <string>

#include <opencv2/core.hpp>

namespace vyolo::log {

// Seconds since the Unix epoch, with the system clock's fraction.
double unix_now();

// gethostname(), or "localhost" when the system has none.
std::string hostname();

// strftime(fmt) of unix time `t` (whole seconds), in local time or UTC.
std::string format_unix_time(double t, const char* fmt, bool utc);

// An 8-bit image as PNG file bytes (OpenCV's encoder). Throws RuntimeError naming `tag` for an empty or unencodable
// image.
std::string png_bytes(const cv::Mat& bgr, const std::string& tag);

}  // namespace vyolo::log
