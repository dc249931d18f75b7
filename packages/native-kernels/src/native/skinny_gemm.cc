// Skinny GEMM: C = alpha * A B + beta * C for A [M, K] with few rows (M <= 4), B [K, N] row-major,
// neither transposed. This is token-by-token decoding (one row per sampled image): every weight is
// read once per token, so the kernel is bound by memory bandwidth, not arithmetic. A packed SGEMM
// copies B into panels first; here B is streamed once, front to back: each thread takes a
// contiguous band of B's rows (one sequential read), keeps M x N partial sums, and the bands' sums
// are added in band order (the result does not depend on which thread ran which band).
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "parallel.h"
#include "sgemm.h"

namespace artist {

namespace {

// 8 floats, unaligned loads allowed: SSE pairs on baseline x86-64, one AVX register in the AVX2
// build, NEON pairs on arm64.
typedef float v8f __attribute__((vector_size(32), aligned(4)));

// acc[m, :] = sum over rows k in [k0, k1) of A[m, k] B[k, :]. Four rows of B at a time, and for
// each 8 columns the four B vectors are loaded once and used for all MR rows of A, so each B
// element is read once and each partial sum once per four rows. Used for one row of A (its sums
// fit L1); `band_tiled` below for more. Inlined into the target-specific wrappers below, so each
// ISA gets its own code (FMA where the target has it).
template <int MR>
__attribute__((always_inline)) inline void band(const float* A, int64_t lda, const float* B,
                                                int64_t ldb, int64_t N, int64_t k0, int64_t k1,
                                                float* __restrict__ acc) {
  constexpr int KR = 4;
  for (int64_t j = 0; j < MR * N; j++) acc[j] = 0.f;
  const int64_t jv = N - N % 8;  // end of the whole vectors
  for (int64_t k = k0; k < k1; k += KR) {
    const int rows = static_cast<int>(std::min<int64_t>(KR, k1 - k));
    const float* b[KR];
    float a[MR][KR];
    for (int r = 0; r < KR; r++) {
      b[r] = B + (k + std::min(r, rows - 1)) * ldb;  // a missing row repeats one with weight 0
      for (int m = 0; m < MR; m++) a[m][r] = r < rows ? A[m * lda + k + r] : 0.f;
    }
    for (int64_t j = 0; j < jv; j += 8) {
      v8f bv[KR];
      for (int r = 0; r < KR; r++) bv[r] = *reinterpret_cast<const v8f*>(b[r] + j);
      for (int m = 0; m < MR; m++) {
        v8f* out = reinterpret_cast<v8f*>(acc + m * N + j);
        v8f s = *out;
        for (int r = 0; r < KR; r++) s += a[m][r] * bv[r];
        *out = s;
      }
    }
    for (int64_t j = jv; j < N; j++) {
      for (int m = 0; m < MR; m++) {
        float s = acc[m * N + j];
        for (int r = 0; r < KR; r++) s += a[m][r] * b[r][j];
        acc[m * N + j] = s;
      }
    }
  }
}

// The same for 2-4 rows of A, register-tiled: within each block of KB = 8 rows of B, a tile of
// 16 columns keeps its MR x 16 sums in registers (MR x 2 vectors) while it walks down the block,
// so the partial sums in memory are read and written once per 8 rows of B instead of once per 4.
// With 4 rows of A (48 KiB of sums for a 3072-wide row: past L1) `band` spent more time moving
// sums than reading B: one thread ran a 4-row product 1.3-1.9x as long as a 1-row one, this one
// 1.05-1.15x (2-core Zen 4; taller blocks and wider or narrower tiles measured slower).
template <int MR>
__attribute__((always_inline)) inline void band_tiled(const float* A, int64_t lda, const float* B,
                                                      int64_t ldb, int64_t N, int64_t k0,
                                                      int64_t k1, float* __restrict__ acc) {
  constexpr int NV = 2;   // vectors per tile
  constexpr int KB = 8;   // rows of B per block
  constexpr int64_t W = NV * 8;
  for (int64_t j = 0; j < MR * N; j++) acc[j] = 0.f;
  const int64_t jt = N - N % W;  // end of the whole tiles
  for (int64_t kb = k0; kb < k1; kb += KB) {
    const int64_t ke = std::min<int64_t>(kb + KB, k1);
    for (int64_t j = 0; j < jt; j += W) {
      v8f c[MR][NV];
      for (int m = 0; m < MR; m++) {
        for (int v = 0; v < NV; v++) c[m][v] = *reinterpret_cast<const v8f*>(acc + m * N + j + 8 * v);
      }
      for (int64_t k = kb; k < ke; k++) {
        const float* b = B + k * ldb + j;
        v8f bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = *reinterpret_cast<const v8f*>(b + 8 * v);
        for (int m = 0; m < MR; m++) {
          const float a = A[m * lda + k];
          for (int v = 0; v < NV; v++) c[m][v] += a * bv[v];
        }
      }
      for (int m = 0; m < MR; m++) {
        for (int v = 0; v < NV; v++) *reinterpret_cast<v8f*>(acc + m * N + j + 8 * v) = c[m][v];
      }
    }
    for (int64_t j = jt; j < N; j++) {
      for (int m = 0; m < MR; m++) {
        float s = acc[m * N + j];
        for (int64_t k = kb; k < ke; k++) s += A[m * lda + k] * B[k * ldb + j];
        acc[m * N + j] = s;
      }
    }
  }
}

// One row of A: `band`; more: `band_tiled`.
template <int MR>
__attribute__((always_inline)) inline void band_any(const float* A, int64_t lda, const float* B,
                                                    int64_t ldb, int64_t N, int64_t k0, int64_t k1,
                                                    float* acc) {
  if constexpr (MR == 1) {
    band<MR>(A, lda, B, ldb, N, k0, k1, acc);
  } else {
    band_tiled<MR>(A, lda, B, ldb, N, k0, k1, acc);
  }
}

template <int MR>
void band_generic(const float* A, int64_t lda, const float* B, int64_t ldb, int64_t N, int64_t k0,
                  int64_t k1, float* acc) {
  band_any<MR>(A, lda, B, ldb, N, k0, k1, acc);
}

#if defined(__x86_64__)
#if defined(__clang__)
#define ARTIST_FP_CONTRACT  // clang contracts a * b + c within an expression by default
#else
#define ARTIST_FP_CONTRACT , optimize("fp-contract=fast")  // GCC's ISO modes do not
#endif
template <int MR>
__attribute__((target("avx2,fma") ARTIST_FP_CONTRACT)) void band_avx2(
    const float* A, int64_t lda, const float* B, int64_t ldb, int64_t N, int64_t k0, int64_t k1,
    float* acc) {
  band_any<MR>(A, lda, B, ldb, N, k0, k1, acc);
}
#undef ARTIST_FP_CONTRACT
#endif

using Band = void (*)(const float*, int64_t, const float*, int64_t, int64_t, int64_t, int64_t,
                      float*);

// The AVX2 code where the portable SGEMM runs its AVX2 micro-kernel (so useGemm('generic') tests
// the plain code here too), else the baseline one.
template <int MR>
Band band_for_cpu() {
#if defined(__x86_64__)
  if (std::strcmp(portable_sgemm_kernel(), "avx2-fma") == 0) return band_avx2<MR>;
#endif
  return band_generic<MR>;
}

}  // namespace

bool skinny_gemm_applies(int64_t M, int64_t N, int64_t K, bool transA, bool transB) {
  return !transA && !transB && M >= 1 && M <= kSkinnyMaxRows && N >= 16 && N * K >= 65536;
}

void skinny_gemm(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                 int64_t M, int64_t N, int64_t K, float alpha, float beta) {
  Band fn = nullptr;
  switch (M) {
    case 1: fn = band_for_cpu<1>(); break;
    case 2: fn = band_for_cpu<2>(); break;
    case 3: fn = band_for_cpu<3>(); break;
    default: fn = band_for_cpu<4>(); break;
  }
  // Memory-bound: the work that decides splitting is the bytes of B, not the multiply-adds. Four
  // bands per thread, claimed as threads come free: when another process holds a core, the caller
  // runs the bands a descheduled worker has not started instead of waiting for it (with one band
  // per thread, 2-core decoding fell to a sixth of its speed beside one busy process).
  const int threads = pool_chunks_for(K / 4, 1, N * K * 8);
  const int chunks = threads > 1 ? static_cast<int>(std::min<int64_t>(4 * threads, K / 16)) : 1;
  const int64_t size = M * N;
  thread_local std::vector<float> sums;  // [chunks, M, N], grown once and reused
  if (sums.size() < static_cast<size_t>(chunks * size)) sums.resize(chunks * size);
  float* s = sums.data();
  parallel_chunks(K, chunks, [&](int64_t k0, int64_t k1, int c) {
    fn(A, lda, B, ldb, N, k0, k1, s + c * size);
  });
  for (int c = 1; c < chunks; c++) {
    const float* part = s + c * size;
    for (int64_t i = 0; i < size; i++) s[i] += part[i];
  }
  for (int64_t m = 0; m < M; m++) {
    float* c = C + m * ldc;
    const float* row = s + m * N;
    if (beta == 0.f) {
      for (int64_t j = 0; j < N; j++) c[j] = alpha * row[j];
    } else {
      for (int64_t j = 0; j < N; j++) c[j] = alpha * row[j] + beta * c[j];
    }
  }
}

}  // namespace artist
