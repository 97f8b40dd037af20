#include "log/tracker_util.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "common/error.h"

namespace vyolo::log {

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

std::string format_unix_time(double t, const char* fmt, bool utc) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (utc)
    gmtime_r(&tt, &tm);
  else
    localtime_r(&tt, &tm);
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, fmt, &tm));
}

std::string png_bytes(const cv::Mat& bgr, const std::string& tag) {
  std::vector<uchar> png;
  if (bgr.empty() || !cv::imencode(".png", bgr, png)) throw RuntimeError("cannot PNG-encode image " + tag);
  return std::string(png.begin(), png.end());
}

}  // namespace vyolo::log
