#include "ops/letterbox.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace vyolo::ops {

int pyround(double v) { return static_cast<int>(std::nearbyint(v)); }  // default rounding mode: ties to even

LetterboxGeometry letterbox_geometry(int h, int w, int new_h, int new_w, bool auto_pad, bool scaleup, int stride) {
  LetterboxGeometry g;
  double r = std::min(static_cast<double>(new_h) / h, static_cast<double>(new_w) / w);
  if (!scaleup) r = std::min(r, 1.0);
  g.ratio = r;
  g.unpad_w = pyround(w * r);
  g.unpad_h = pyround(h * r);
  double dw = new_w - g.unpad_w, dh = new_h - g.unpad_h;
  if (auto_pad) {
    // np.mod: the result takes the divisor's sign, so a negative remainder (never here: unpad <= new) stays >= 0
    dw = dw - stride * std::floor(dw / stride);
    dh = dh - stride * std::floor(dh / stride);
  }
  dw /= 2;
  dh /= 2;
  g.top = pyround(dh - 0.1), g.bottom = pyround(dh + 0.1);
  g.left = pyround(dw - 0.1), g.right = pyround(dw + 0.1);
  return g;
}

cv::Mat apply_letterbox(const cv::Mat& img, const LetterboxGeometry& g, double value) {
  cv::Mat resized = img;
  if (img.cols != g.unpad_w || img.rows != g.unpad_h)
    cv::resize(img, resized, cv::Size(g.unpad_w, g.unpad_h), 0, 0, cv::INTER_LINEAR);
  if (g.top == 0 && g.bottom == 0 && g.left == 0 && g.right == 0) return resized;
  cv::Mat out;
  cv::copyMakeBorder(resized, out, g.top, g.bottom, g.left, g.right, cv::BORDER_CONSTANT, cv::Scalar::all(value));
  return out;
}

std::array<int, 2> load_size(int h0, int w0, int imgsz) {
  const double r = static_cast<double>(imgsz) / std::max(h0, w0);
  if (r == 1.0) return {h0, w0};
  return {std::min(static_cast<int>(std::ceil(h0 * r)), imgsz), std::min(static_cast<int>(std::ceil(w0 * r)), imgsz)};
}

namespace {

// NumPy's float "less than": NaNs sort last.
inline bool np_lt(double a, double b) { return a < b || (b != b && a == a); }

void np_aheapsort(const std::vector<double>& v, size_t* tosort, std::ptrdiff_t n) {
  size_t* a = tosort - 1;  // 1-based heap indexing
  for (std::ptrdiff_t l = n >> 1; l > 0; --l) {
    const size_t tmp = a[l];
    std::ptrdiff_t i = l, j = l << 1;
    while (j <= n) {
      if (j < n && np_lt(v[a[j]], v[a[j + 1]])) ++j;
      if (!np_lt(v[tmp], v[a[j]])) break;
      a[i] = a[j], i = j, j += j;
    }
    a[i] = tmp;
  }
  for (; n > 1;) {
    const size_t tmp = a[n];
    a[n] = a[1];
    --n;
    std::ptrdiff_t i = 1, j = 2;
    while (j <= n) {
      if (j < n && np_lt(v[a[j]], v[a[j + 1]])) ++j;
      if (!np_lt(v[tmp], v[a[j]])) break;
      a[i] = a[j], i = j, j += j;
    }
    a[i] = tmp;
  }
}

}  // namespace

std::vector<size_t> numpy_argsort(const std::vector<double>& v) {
  const std::ptrdiff_t num = static_cast<std::ptrdiff_t>(v.size());
  std::vector<size_t> t(v.size());
  for (size_t i = 0; i < t.size(); ++i) t[i] = i;
  if (num <= 1) return t;
  struct Part {
    std::ptrdiff_t lo, hi;
    int depth;
  };
  std::vector<Part> stack;
  std::ptrdiff_t pl = 0, pr = num - 1;
  int cdepth = 0;
  for (std::ptrdiff_t u = num; u >>= 1;) ++cdepth;
  cdepth *= 2;
  for (;;) {
    if (cdepth < 0) {
      np_aheapsort(v, t.data() + pl, pr - pl + 1);
    } else {
      while (pr - pl > 15) {
        const std::ptrdiff_t pm = pl + ((pr - pl) >> 1);
        if (np_lt(v[t[pm]], v[t[pl]])) std::swap(t[pm], t[pl]);
        if (np_lt(v[t[pr]], v[t[pm]])) std::swap(t[pr], t[pm]);
        if (np_lt(v[t[pm]], v[t[pl]])) std::swap(t[pm], t[pl]);
        const double vp = v[t[pm]];
        std::ptrdiff_t pi = pl, pj = pr - 1;
        std::swap(t[pm], t[pj]);
        for (;;) {
          do ++pi; while (np_lt(v[t[pi]], vp));
          do --pj; while (np_lt(vp, v[t[pj]]));
          if (pi >= pj) break;
          std::swap(t[pi], t[pj]);
        }
        std::swap(t[pi], t[pr - 1]);
        // the larger part waits on the stack
        if (pi - pl < pr - pi) {
          stack.push_back({pi + 1, pr, --cdepth});
          pr = pi - 1;
        } else {
          stack.push_back({pl, pi - 1, --cdepth});
          pl = pi + 1;
        }
      }
      for (std::ptrdiff_t pi = pl + 1; pi <= pr; ++pi) {  // insertion sort
        const size_t vi = t[pi];
        const double x = v[vi];
        std::ptrdiff_t pj = pi;
        while (pj > pl && np_lt(x, v[t[pj - 1]])) t[pj] = t[pj - 1], --pj;
        t[pj] = vi;
      }
    }
    if (stack.empty()) break;
    pl = stack.back().lo, pr = stack.back().hi, cdepth = stack.back().depth;
    stack.pop_back();
  }
  return t;
}

std::vector<std::array<int, 2>> rect_batch_shapes(const std::vector<double>& ar, int batch, int imgsz, int stride,
                                                  double pad) {
  std::vector<std::array<int, 2>> shapes;
  for (size_t lo = 0; lo < ar.size(); lo += static_cast<size_t>(batch)) {
    const size_t hi = std::min(ar.size(), lo + static_cast<size_t>(batch));
    const double mini = *std::min_element(ar.begin() + lo, ar.begin() + hi);
    const double maxi = *std::max_element(ar.begin() + lo, ar.begin() + hi);
    double sh = 1, sw = 1;
    if (maxi < 1) sh = maxi;
    else if (mini > 1) sw = 1 / mini;
    auto side = [&](double s) { return static_cast<int>(std::ceil(s * imgsz / stride + pad)) * stride; };
    shapes.push_back({side(sh), side(sw)});
  }
  return shapes;
}

BoxMapping scale_boxes_mapping(int h1, int w1, int h0, int w0) {
  BoxMapping m;
  m.gain = std::min(static_cast<double>(h1) / h0, static_cast<double>(w1) / w0);
  m.pad_x = pyround((w1 - pyround(w0 * m.gain)) / 2.0 - 0.1);
  m.pad_y = pyround((h1 - pyround(h0 * m.gain)) / 2.0 - 0.1);
  return m;
}

}  // namespace vyolo::ops
