// The one resize-and-pad geometry of the project, as Ultralytics 8.4.50 computes it: LetterBox (data/augment.py),
// load_image's long-side resize (data/base.py), rectangular batch shapes (set_rectangle) and scale_boxes
// (utils/ops.py). Used by predict, validation, training and volume inference. OpenCV only, no LibTorch.
#pragma once
#include <array>
#include <vector>

#include <opencv2/core.hpp>

namespace vyolo::ops {

// Python's round() on a double: halves go to the even neighbour (2.5 -> 2, 3.5 -> 4).
int pyround(double v);

struct LetterboxGeometry {
  double ratio = 1.0;                      // resize gain applied to the input
  int unpad_w = 0, unpad_h = 0;            // resized size before padding
  int top = 0, bottom = 0, left = 0, right = 0;
  int out_w() const { return unpad_w + left + right; }
  int out_h() const { return unpad_h + top + bottom; }
};

// LetterBox.get_params for an h x w input and a (new_h, new_w) target: gain min(new_h/h, new_w/w) (at most 1 unless
// `scaleup`), resized size round(w * r) x round(h * r) (half to even), padding centred as round(d - 0.1) /
// round(d + 0.1). `auto_pad` (the predictor's single-shape mode) pads only up to the next multiple of `stride`.
LetterboxGeometry letterbox_geometry(int h, int w, int new_h, int new_w, bool auto_pad = false, bool scaleup = true,
                                     int stride = 32);

// Resizes (INTER_LINEAR) and pads `img` (any channel count of 8-bit or float) with `value` per geometry `g`.
cv::Mat apply_letterbox(const cv::Mat& img, const LetterboxGeometry& g, double value = 114);

// load_image in rect mode: the long side becomes imgsz, the other min(ceil(side * imgsz / long), imgsz).
// Returns (h, w); the input size when it already has long side imgsz.
std::array<int, 2> load_size(int h0, int w0, int imgsz);

// np.argsort(v) with NumPy's default kind (introsort as numpy 1.24's aquicksort: median of three, insertion sort
// below 16, heapsort past the depth limit). Not stable: set_rectangle's batches depend on how it orders equal
// aspect ratios, so Ultralytics' rect batches are reproduced only with this exact order.
std::vector<size_t> numpy_argsort(const std::vector<double>& v);

// set_rectangle: batch i of the images sorted by aspect ratio h/w gets shape (h, w) =
// ceil(s * imgsz / stride + pad) * stride with s = (max_ar, 1) when all ar < 1, (1, 1 / min_ar) when all > 1,
// else (1, 1). `sorted_ar` ascending; batch b holds entries [b * batch, (b + 1) * batch).
std::vector<std::array<int, 2>> rect_batch_shapes(const std::vector<double>& sorted_ar, int batch, int imgsz,
                                                  int stride = 32, double pad = 0.5);

// scale_boxes without ratio_pad: from an h1 x w1 letterboxed image back to h0 x w0, gain = min(h1/h0, w1/w0) and
// pad = round((w1 - round(w0 * gain)) / 2 - 0.1) (8.4.50 rounds the resized size first). x0 = (x1 - pad_x) / gain.
struct BoxMapping {
  double gain = 1, pad_x = 0, pad_y = 0;
};
BoxMapping scale_boxes_mapping(int h1, int w1, int h0, int w0);

}  // namespace vyolo::ops
