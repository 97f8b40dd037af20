#include "ops/bn_silu_kernels.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

namespace vyolo::ops::kernels {

// One declaration set per compiled copy of bn_silu_rows.inc.
#define VYOLO_ROWS_DECLARE_T(T)                                                                                 \
  void bn_stats(const T*, int64_t, int64_t, int64_t, const float*, float*, float*);                             \
  void bn_silu_forward(const T*, T*, int64_t, int64_t, int64_t, const float*, const float*);                    \
  void bn_silu_backward_sums(const T*, const T*, float*, int64_t, int64_t, int64_t, const float*, const float*, \
                             const float*, const float*, float*, float*);
#define VYOLO_ROWS_DECLARE(ns)                                                                                        \
  namespace ns {                                                                                                      \
  VYOLO_ROWS_DECLARE_T(float)                                                                                         \
  VYOLO_ROWS_DECLARE_T(bf16)                                                                                          \
  void bn_silu_backward_dx(const float*, float*, int64_t, int64_t, int64_t, const float*, const float*, const float*, \
                           const float*, const float*);                                                               \
  void bn_silu_backward_dx(const bf16*, const float*, bf16*, int64_t, int64_t, int64_t, const float*, const float*,   \
                           const float*, const float*, const float*);                                                 \
  }
VYOLO_ROWS_DECLARE(generic)
#if defined(VYOLO_ROWS_X86)
VYOLO_ROWS_DECLARE(avx2)
VYOLO_ROWS_DECLARE(avx512)
#endif
#undef VYOLO_ROWS_DECLARE
#undef VYOLO_ROWS_DECLARE_T

namespace {

// backward_dx: in place on dy for float, dy float and dx bfloat16 for bfloat16.
template <class T>
struct DxLoop {
  using type = void (*)(const T*, const float*, T*, int64_t, int64_t, int64_t, const float*, const float*, const float*,
                        const float*, const float*);
};
template <>
struct DxLoop<float> {
  using type = void (*)(const float*, float*, int64_t, int64_t, int64_t, const float*, const float*, const float*,
                        const float*, const float*);
};

// The loops of one instruction set for one element type.
template <class T>
struct Loops {
  void (*stats)(const T*, int64_t, int64_t, int64_t, const float*, float*, float*);
  void (*forward)(const T*, T*, int64_t, int64_t, int64_t, const float*, const float*);
  void (*backward_sums)(const T*, const T*, float*, int64_t, int64_t, int64_t, const float*, const float*, const float*,
                        const float*, float*, float*);
  typename DxLoop<T>::type backward_dx;
};

struct Rows {
  const char* isa;
  Loops<float> f32;
  Loops<bf16> b16;
  const Loops<float>& of(const float*) const { return f32; }
  const Loops<bf16>& of(const bf16*) const { return b16; }
};

#define VYOLO_LOOPS(ns, T) \
  Loops<T> { ns::bn_stats, ns::bn_silu_forward, ns::bn_silu_backward_sums, ns::bn_silu_backward_dx }
#define VYOLO_ROWS(ns) \
  Rows { #ns, VYOLO_LOOPS(ns, float), VYOLO_LOOPS(ns, bf16) }

// The widest set this CPU has, first; `usable` lists every set it can run.
std::vector<Rows> usable_rows() {
  std::vector<Rows> v;
#if defined(VYOLO_ROWS_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
    v.push_back(VYOLO_ROWS(avx512));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) v.push_back(VYOLO_ROWS(avx2));
#endif
  v.push_back(VYOLO_ROWS(generic));
  return v;
}

const std::vector<Rows>& usable() {
  static const std::vector<Rows> v = usable_rows();
  return v;
}

std::atomic<const Rows*> g_rows{nullptr};

const Rows& rows_for_cpu() {
  const Rows* r = g_rows.load();
  return r ? *r : usable().front();
}

// fn(chunk, r0, r1) for every chunk, on the OpenMP threads LibTorch set up (torch::set_num_threads).
template <class F>
void for_chunks(int64_t rows, int64_t per, const F& fn) {
  const int64_t n = chunk_count(rows, per);
#pragma omp parallel for schedule(static) if (n > 1)
  for (int64_t k = 0; k < n; ++k) fn(k, k * per, std::min(rows, (k + 1) * per));
}

}  // namespace

int64_t chunk_count(int64_t rows, int64_t rows_per_chunk) { return (rows + rows_per_chunk - 1) / rows_per_chunk; }

template <class T>
void bn_stats(const T* x, int64_t c, int64_t rows, int64_t per, const float* ref, float* s1, float* s2) {
  const auto f = rows_for_cpu().of(x).stats;
  for_chunks(rows, per, [&](int64_t k, int64_t r0, int64_t r1) { f(x, c, r0, r1, ref, s1 + k * c, s2 + k * c); });
}

template <class T>
void bn_silu_forward(const T* x, T* z, int64_t c, int64_t rows, int64_t per, const float* scale, const float* shift) {
  const auto f = rows_for_cpu().of(x).forward;
  for_chunks(rows, per, [&](int64_t, int64_t r0, int64_t r1) { f(x, z, c, r0, r1, scale, shift); });
}

template <class T>
void bn_silu_backward_sums(const T* x, const T* dz, float* dy_out, int64_t c, int64_t rows, int64_t per,
                           const float* mean, const float* invstd, const float* gamma, const float* beta, float* s_dy,
                           float* s_dyxh) {
  const auto f = rows_for_cpu().of(x).backward_sums;
  for_chunks(rows, per, [&](int64_t k, int64_t r0, int64_t r1) {
    f(x, dz, dy_out, c, r0, r1, mean, invstd, gamma, beta, s_dy + k * c, s_dyxh + k * c);
  });
}

void bn_silu_backward_dx(const float* x, float* dy_dx, int64_t c, int64_t rows, int64_t per, const float* mean,
                         const float* invstd, const float* gamma, const float* mean_dy, const float* mean_dyxh) {
  const auto f = rows_for_cpu().f32.backward_dx;
  for_chunks(rows, per,
             [&](int64_t, int64_t r0, int64_t r1) { f(x, dy_dx, c, r0, r1, mean, invstd, gamma, mean_dy, mean_dyxh); });
}

void bn_silu_backward_dx(const bf16* x, const float* dy, bf16* dx, int64_t c, int64_t rows, int64_t per,
                         const float* mean, const float* invstd, const float* gamma, const float* mean_dy,
                         const float* mean_dyxh) {
  const auto f = rows_for_cpu().b16.backward_dx;
  for_chunks(rows, per, [&](int64_t, int64_t r0, int64_t r1) {
    f(x, dy, dx, c, r0, r1, mean, invstd, gamma, mean_dy, mean_dyxh);
  });
}

#define VYOLO_KERNELS_INSTANTIATE(T)                                                                       \
  template void bn_stats(const T*, int64_t, int64_t, int64_t, const float*, float*, float*);               \
  template void bn_silu_forward(const T*, T*, int64_t, int64_t, int64_t, const float*, const float*);      \
  template void bn_silu_backward_sums(const T*, const T*, float*, int64_t, int64_t, int64_t, const float*, \
                                      const float*, const float*, const float*, float*, float*);
VYOLO_KERNELS_INSTANTIATE(float)
VYOLO_KERNELS_INSTANTIATE(bf16)
#undef VYOLO_KERNELS_INSTANTIATE

const char* bn_silu_isa() { return rows_for_cpu().isa; }

bool bn_silu_use_isa(const char* isa) {
  for (const auto& r : usable())
    if (!std::strcmp(r.isa, isa)) {
      g_rows = &r;
      return true;
    }
  return false;
}

}  // namespace vyolo::ops::kernels
