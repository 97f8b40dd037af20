// One detection after NMS, in pixels of the image it was found in (the predictor maps it back to the original
// image; the metrics compare it with labels in the same frame).
#pragma once

namespace vyolo::ops {

struct Detection {
  float x1, y1, x2, y2;
  float conf;
  int cls;
};

}  // namespace vyolo::ops
