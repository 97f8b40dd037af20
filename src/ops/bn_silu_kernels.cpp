#include "ops/bn_silu_kernels.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

namespace vyolo::ops::kernels {

// One declaration set per compiled copy of bn_silu_rows.inc.
#define VYOLO_ROWS_DECLARE(ns)                                                                                     \
  namespace ns {                                                                                                   \
  void bn_stats(const float*, int64_t, int64_t, int64_t, const float*, float*, float*);                           \
  void bn_silu_forward(const float*, float*, int64_t, int64_t, int64_t, const float*, const float*);              \
  void bn_silu_backward_sums(const float*, const float*, float*, int64_t, int64_t, int64_t, const float*,         \
                             const float*, const float*, const float*, float*, float*);                           \
  void bn_silu_backward_dx(const float*, float*, int64_t, int64_t, int64_t, const float*, const float*,           \
                           const float*, const float*, const float*);                                             \
  }
VYOLO_ROWS_DECLARE(generic)
#if defined(VYOLO_ROWS_X86)
VYOLO_ROWS_DECLARE(avx2)
VYOLO_ROWS_DECLARE(avx512)
#endif
#undef VYOLO_ROWS_DECLARE

namespace {

struct Rows {
  const char* isa;
  decltype(&generic::bn_stats) stats;
  decltype(&generic::bn_silu_forward) forward;
  decltype(&generic::bn_silu_backward_sums) backward_sums;
  decltype(&generic::bn_silu_backward_dx) backward_dx;
};

#define VYOLO_ROWS(ns) \
  Rows { #ns, ns::bn_stats, ns::bn_silu_forward, ns::bn_silu_backward_sums, ns::bn_silu_backward_dx }

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

void bn_stats(const float* x, int64_t c, int64_t rows, int64_t per, const float* ref, float* s1, float* s2) {
  const auto f = rows_for_cpu().stats;
  for_chunks(rows, per, [&](int64_t k, int64_t r0, int64_t r1) { f(x, c, r0, r1, ref, s1 + k * c, s2 + k * c); });
}

void bn_silu_forward(const float* x, float* z, int64_t c, int64_t rows, int64_t per, const float* scale,
                     const float* shift) {
  const auto f = rows_for_cpu().forward;
  for_chunks(rows, per, [&](int64_t, int64_t r0, int64_t r1) { f(x, z, c, r0, r1, scale, shift); });
}

void bn_silu_backward_sums(const float* x, const float* dz, float* dy_out, int64_t c, int64_t rows, int64_t per,
                           const float* mean, const float* invstd, const float* gamma, const float* beta,
                           float* s_dy, float* s_dyxh) {
  const auto f = rows_for_cpu().backward_sums;
  for_chunks(rows, per, [&](int64_t k, int64_t r0, int64_t r1) {
    f(x, dz, dy_out, c, r0, r1, mean, invstd, gamma, beta, s_dy + k * c, s_dyxh + k * c);
  });
}

void bn_silu_backward_dx(const float* x, float* dy_dx, int64_t c, int64_t rows, int64_t per, const float* mean,
                         const float* invstd, const float* gamma, const float* mean_dy, const float* mean_dyxh) {
  const auto f = rows_for_cpu().backward_dx;
  for_chunks(rows, per,
             [&](int64_t, int64_t r0, int64_t r1) { f(x, dy_dx, c, r0, r1, mean, invstd, gamma, mean_dy, mean_dyxh); });
}

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
