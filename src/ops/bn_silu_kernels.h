// The arithmetic of the fused BatchNorm + SiLU training op (bn_silu.h) on an NHWC float activation seen as a
// (rows x c) matrix. Loops run in parallel on LibTorch's OpenMP threads over fixed chunks of `rows_per_chunk` rows,
// each with the widest instruction set this CPU has (AVX-512, AVX2 + FMA, or the compiler's default): per-chunk float
// sums land in tables of (chunks x c) that the caller adds up in chunk order, so results do not depend on threads.
// Activations are float or bfloat16 (T = bf16, the bit patterns); arithmetic, sums and the dy scratch are float.
#pragma once

#include <cstdint>

namespace vyolo::ops::kernels {

using bf16 = uint16_t;  // a bfloat16's bits (c10::BFloat16 has the same layout)

int64_t chunk_count(int64_t rows, int64_t rows_per_chunk);

// Sums of (x - ref[c]) and (x - ref[c])^2 per chunk and channel.
template <class T>
void bn_stats(const T* x, int64_t c, int64_t rows, int64_t rows_per_chunk, const float* ref, float* s1, float* s2);

// z = silu(x * scale[c] + shift[c]).
template <class T>
void bn_silu_forward(const T* x, T* z, int64_t c, int64_t rows, int64_t rows_per_chunk, const float* scale,
                     const float* shift);

// With xh = (x - mean) * invstd, y = xh * gamma + beta: dy = dz * silu'(y) into dy_out, and per chunk and channel
// the sums of dy and dy * xh.
template <class T>
void bn_silu_backward_sums(const T* x, const T* dz, float* dy_out, int64_t c, int64_t rows, int64_t rows_per_chunk,
                           const float* mean, const float* invstd, const float* gamma, const float* beta, float* s_dy,
                           float* s_dyxh);

// dx = gamma * invstd * (dy - mean_dy[c] - xh * mean_dyxh[c]): for float in place on dy, for bfloat16 into dx.
void bn_silu_backward_dx(const float* x, float* dy_dx, int64_t c, int64_t rows, int64_t rows_per_chunk,
                         const float* mean, const float* invstd, const float* gamma, const float* mean_dy,
                         const float* mean_dyxh);
void bn_silu_backward_dx(const bf16* x, const float* dy, bf16* dx, int64_t c, int64_t rows, int64_t rows_per_chunk,
                         const float* mean, const float* invstd, const float* gamma, const float* mean_dy,
                         const float* mean_dyxh);

// Which row loops run: "avx512", "avx2" or "generic" (the widest this CPU has, unless bn_silu_use_isa chose).
const char* bn_silu_isa();
// Runs the loops built for `isa` from now on (tests, benchmarks); false when this CPU cannot or it was not built.
bool bn_silu_use_isa(const char* isa);

}  // namespace vyolo::ops::kernels
