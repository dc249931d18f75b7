// The addon's own SGEMM, used where no BLAS was found at build time (and by tests that compare it
// with the BLAS). The classic packed, cache-blocked layout (Goto / BLIS):
//   for each KC-deep slice of K and NC-wide panel of op(B): pack the panel into NR-column slivers;
//     for each MC-row block of op(A): pack it (times alpha) into MR-row slivers;
//       for each MR x NR tile of C: one micro-kernel call runs the KC rank-1 updates in registers.
// The packed A block (MC x KC floats, 120 KiB) stays in L2 and one B sliver (KC x NR, 16 KiB) in
// L1. The micro-kernel keeps a 6 x 16 tile of C in twelve 8-wide registers: an AVX2+FMA version
// picked at load time on x86-64 CPUs that have it, and a plain C++ one (auto-vectorised for the
// baseline ISA) everywhere else. Single-threaded: callers split work across the pool.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "sgemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define ARTIST_GEMM_X86_AVX2 1
#include <immintrin.h>
#endif

namespace artist {
namespace {

constexpr int kMR = 6;
constexpr int kNR = 16;
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 120;   // multiple of kMR
constexpr int64_t kNC = 2048;  // multiple of kNR

// c[r * ldc + j] (r < kMR, j < kNR) = acc + beta c, with beta == 0 not reading c
inline float merge(float acc, float beta, float c) {
  return beta == 0.f ? acc : (beta == 1.f ? c + acc : beta * c + acc);
}

using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                             float beta);
// d[k * kMR + r] = alpha * a[r * lda + k] for r < kMR, k < kc: six rows of A interleaved into one
// packed sliver. May write up to 2 floats past d[kc * kMR] (the packing buffer has slack).
using PackRows = void (*)(const float* a, int64_t lda, int64_t kc, float alpha, float* d);

// d[k * kMR + r] = alpha * a[k * lda + r] for r < kMR, k < kn: kn depths of a transposed sliver of
// A. The AVX2 version reads 8 floats per k (the caller checks they are inside A) and writes 2
// floats past d[kn * kMR] unless `exact_end`.
using PackCols = void (*)(const float* a, int64_t lda, int64_t kn, float alpha, float* d,
                          bool exact_end);

void pack_cols_generic(const float* a, int64_t lda, int64_t kc, float alpha, float* d, bool) {
  for (int64_t k = 0; k < kc; k++, a += lda, d += kMR) {
    for (int r = 0; r < kMR; r++) d[r] = alpha * a[r];
  }
}

void pack_rows_generic(const float* a, int64_t lda, int64_t kc, float alpha, float* d) {
  const float *s0 = a, *s1 = s0 + lda, *s2 = s1 + lda, *s3 = s2 + lda, *s4 = s3 + lda,
              *s5 = s4 + lda;
  for (int64_t k = 0; k < kc; k++, d += kMR) {
    d[0] = alpha * s0[k];
    d[1] = alpha * s1[k];
    d[2] = alpha * s2[k];
    d[3] = alpha * s3[k];
    d[4] = alpha * s4[k];
    d[5] = alpha * s5[k];
  }
}

// a: kc x kMR (column k of the sliver at a + k * kMR), b: kc x kNR; c: kMR x kNR tile of C.
// GCC/Clang 4-wide vector types (SSE2 on baseline x86-64, NEON on arm64), no target-specific
// intrinsics; the tile is computed in two 6 x 8 halves so its 12 accumulators, two B vectors and a
// broadcast fit the 16 registers of SSE2.
typedef float v4f __attribute__((vector_size(16)));

void micro_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float beta) {
  for (int half = 0; half < 2; half++) {
    v4f acc[kMR][2] = {};
    const float* ap = a;
    const float* bp = b + 8 * half;
    for (int64_t k = 0; k < kc; k++, ap += kMR, bp += kNR) {
      v4f b0, b1;
      std::memcpy(&b0, bp, sizeof b0);
      std::memcpy(&b1, bp + 4, sizeof b1);
      for (int r = 0; r < kMR; r++) {
        const float x = ap[r];
        const v4f av = {x, x, x, x};
        acc[r][0] += av * b0;
        acc[r][1] += av * b1;
      }
    }
    for (int r = 0; r < kMR; r++) {
      float row[8];
      std::memcpy(row, acc[r], sizeof row);
      float* cr = c + r * ldc + 8 * half;
      for (int j = 0; j < 8; j++) cr[j] = merge(row[j], beta, cr[j]);
    }
  }
}

#if defined(ARTIST_GEMM_X86_AVX2)
__attribute__((target("avx2,fma"))) inline void store_row(float* c, __m256 lo, __m256 hi,
                                                          float beta) {
  if (beta != 0.f) {
    const __m256 bv = _mm256_set1_ps(beta);
    lo = _mm256_fmadd_ps(bv, _mm256_loadu_ps(c), lo);
    hi = _mm256_fmadd_ps(bv, _mm256_loadu_ps(c + 8), hi);
  }
  _mm256_storeu_ps(c, lo);
  _mm256_storeu_ps(c + 8, hi);
}

__attribute__((target("avx2,fma"))) void micro_avx2(int64_t kc, const float* a, const float* b,
                                                    float* c, int64_t ldc, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; k++, a += kMR, b += kNR) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    __m256 av = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  store_row(c, c00, c01, beta);
  store_row(c + ldc, c10, c11, beta);
  store_row(c + 2 * ldc, c20, c21, beta);
  store_row(c + 3 * ldc, c30, c31, beta);
  store_row(c + 4 * ldc, c40, c41, beta);
  store_row(c + 5 * ldc, c50, c51, beta);
}

// Eight k at a time: six rows (two zero rows added) transposed 8 x 8 in registers, then each
// k's six values stored with an 8-wide store that the next one overwrites past its sixth float.
__attribute__((target("avx2,fma"))) void pack_rows_avx2(const float* a, int64_t lda, int64_t kc,
                                                        float alpha, float* d) {
  const __m256 av = _mm256_set1_ps(alpha);
  const __m256 z = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8, d += 8 * kMR) {
    const __m256 r0 = _mm256_mul_ps(av, _mm256_loadu_ps(a + k));
    const __m256 r1 = _mm256_mul_ps(av, _mm256_loadu_ps(a + lda + k));
    const __m256 r2 = _mm256_mul_ps(av, _mm256_loadu_ps(a + 2 * lda + k));
    const __m256 r3 = _mm256_mul_ps(av, _mm256_loadu_ps(a + 3 * lda + k));
    const __m256 r4 = _mm256_mul_ps(av, _mm256_loadu_ps(a + 4 * lda + k));
    const __m256 r5 = _mm256_mul_ps(av, _mm256_loadu_ps(a + 5 * lda + k));
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, z, 0x44), u5 = _mm256_shuffle_ps(t4, z, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, z, 0x44), u7 = _mm256_shuffle_ps(t5, z, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + 6, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 12, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 18, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 24, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 30, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 36, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 42, _mm256_permute2f128_ps(u3, u7, 0x31));
  }
  if (k < kc) pack_rows_generic(a + k, lda, kc - k, alpha, d);
}

__attribute__((target("avx2,fma"))) void pack_cols_avx2(const float* a, int64_t lda, int64_t kn,
                                                        float alpha, float* d, bool exact_end) {
  const __m256 av = _mm256_set1_ps(alpha);
  const int64_t wide = exact_end ? kn - 1 : kn;
  for (int64_t k = 0; k < wide; k++, a += lda, d += kMR) {
    _mm256_storeu_ps(d, _mm256_mul_ps(av, _mm256_loadu_ps(a)));
  }
  if (exact_end && kn > 0) {
    const __m256 v = _mm256_mul_ps(av, _mm256_loadu_ps(a));
    _mm_storeu_ps(d, _mm256_castps256_ps128(v));
    _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), _mm256_extractf128_ps(v, 1));
  }
}
#endif

struct Kernel {
  MicroKernel fn;
  PackRows pack_rows;
  PackCols pack_cols;
  bool cols_read_8;  // pack_cols reads 8 floats per k
  const char* name;
};

const Kernel kGeneric = {micro_generic, pack_rows_generic, pack_cols_generic, false, "generic"};

const Kernel* best_kernel() {
#if defined(ARTIST_GEMM_X86_AVX2)
  static const Kernel avx2 = {micro_avx2, pack_rows_avx2, pack_cols_avx2, true, "avx2-fma"};
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &avx2;
#endif
  return &kGeneric;
}

const Kernel* const kBest = best_kernel();
std::atomic<const Kernel*> g_kernel{kBest};

// 64-byte aligned, per-thread packing buffers (the micro-kernel's aligned loads read them)
struct PackBuffer {
  float* data = nullptr;
  size_t size = 0;
  ~PackBuffer() { std::free(data); }
  float* get(size_t n) {
    if (n > size) {
      std::free(data);
      data = static_cast<float*>(std::aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64));
      size = n;
    }
    return data;
  }
};

// dst = alpha op(A)[i0 .. i0 + mc, k0 .. k0 + kc] as kMR-row slivers, zero-padded to whole slivers
// (sliver s, depth k, row r at dst[s * kc * kMR + k * kMR + r])
// (m_total: the M of the whole product, so no read passes the end of A)
void pack_a(const Kernel& kernel, bool ta, const float* A, int64_t lda, int64_t m_total,
            int64_t i0, int64_t mc, int64_t k0, int64_t kc, float alpha, float* dst) {
  if (ta) {  // op(A)(i, k) = A[k * lda + i]: each sliver is 6 adjacent columns of A
    // 8 rows of A at a time across all slivers: rows lda apart map to few cache sets, so a sliver's
    // whole depth at once would thrash L1 when lda is a multiple of 1024 floats
    constexpr int64_t kRows = 8;
    for (int64_t kb = 0; kb < kc; kb += kRows) {
      const int64_t kn = std::min(kRows, kc - kb);
      const bool last = kb + kn == kc;  // the sliver's end: no store may spill into the next one
      for (int64_t s = 0; s < mc; s += kMR) {
        const float* src = A + (k0 + kb) * lda + i0 + s;
        float* d = dst + s * kc + kb * kMR;
        const int64_t room = m_total - (i0 + s);  // readable floats from src in A's last row
        if (s + kMR <= mc && (room >= 8 || !kernel.cols_read_8)) {
          kernel.pack_cols(src, lda, kn, alpha, d, last);
          continue;
        }
        const int mr = static_cast<int>(std::min<int64_t>(kMR, mc - s));
        for (int64_t k = 0; k < kn; k++) {
          for (int r = 0; r < mr; r++) d[k * kMR + r] = alpha * src[k * lda + r];
          for (int r = mr; r < kMR; r++) d[k * kMR + r] = 0.f;
        }
      }
    }
    return;
  }
  for (int64_t s = 0; s < mc; s += kMR, dst += kc * kMR) {
    const int mr = static_cast<int>(std::min<int64_t>(kMR, mc - s));
    if (mr == kMR) {  // op(A)(i, k) = A[i * lda + k]: six rows side by side
      kernel.pack_rows(A + (i0 + s) * lda + k0, lda, kc, alpha, dst);
    } else {
      for (int r = 0; r < mr; r++) {
        const float* src = A + (i0 + s + r) * lda + k0;
        for (int64_t k = 0; k < kc; k++) dst[k * kMR + r] = alpha * src[k];
      }
      for (int r = mr; r < kMR; r++) {
        for (int64_t k = 0; k < kc; k++) dst[k * kMR + r] = 0.f;
      }
    }
  }
}

// dst = op(B)[k0 .. k0 + kc, j0 .. j0 + nc] as kNR-column slivers, zero-padded
// (sliver s, depth k, column j at dst[s * kc * kNR + k * kNR + j])
void pack_b(bool tb, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
            float* dst) {
  for (int64_t s = 0; s < nc; s += kNR, dst += kc * kNR) {
    const int nr = static_cast<int>(std::min<int64_t>(kNR, nc - s));
    if (!tb) {  // op(B)(k, j) = B[k * ldb + j]
      for (int64_t k = 0; k < kc; k++) {
        const float* src = B + (k0 + k) * ldb + j0 + s;
        float* d = dst + k * kNR;
        if (nr == kNR) {
          std::memcpy(d, src, sizeof(float) * kNR);
        } else {
          for (int j = 0; j < nr; j++) d[j] = src[j];
          for (int j = nr; j < kNR; j++) d[j] = 0.f;
        }
      }
    } else {  // op(B)(k, j) = B[j * ldb + k]
      for (int j = 0; j < nr; j++) {
        const float* src = B + (j0 + s + j) * ldb + k0;
        for (int64_t k = 0; k < kc; k++) dst[k * kNR + j] = src[k];
      }
      for (int j = nr; j < kNR; j++) {
        for (int64_t k = 0; k < kc; k++) dst[k * kNR + j] = 0.f;
      }
    }
  }
}

}  // namespace

const char* portable_sgemm_kernel() { return g_kernel.load()->name; }

const char* portable_sgemm_use_generic(bool generic) {
  g_kernel.store(generic ? &kGeneric : kBest);
  return portable_sgemm_kernel();
}

void portable_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                    float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.f) {  // no product: C = beta C
    for (int64_t i = 0; i < M; i++) {
      float* c = C + i * ldc;
      for (int64_t j = 0; j < N; j++) c[j] = beta == 0.f ? 0.f : beta * c[j];
    }
    return;
  }
  static thread_local PackBuffer a_buf, b_buf;
  const Kernel& kernel = *g_kernel.load(std::memory_order_relaxed);
  const MicroKernel micro = kernel.fn;
  const int64_t kc_max = std::min(K, kKC);
  const int64_t nc_max = std::min((N + kNR - 1) / kNR * kNR, kNC);
  const int64_t mc_max = std::min((M + kMR - 1) / kMR * kMR, kMC);
  float* bp = b_buf.get(static_cast<size_t>(kc_max * nc_max));
  float* ap = a_buf.get(static_cast<size_t>(kc_max * mc_max + 8));  // + pack_rows' overrun
  alignas(64) float edge[kMR * kNR];
  for (int64_t j0 = 0; j0 < N; j0 += kNC) {
    const int64_t nc = std::min(kNC, N - j0);
    for (int64_t k0 = 0; k0 < K; k0 += kKC) {
      const int64_t kc = std::min(kKC, K - k0);
      const float b_eff = k0 == 0 ? beta : 1.f;  // later K slices add onto the first one's C
      pack_b(tb, B, ldb, k0, kc, j0, nc, bp);
      for (int64_t i0 = 0; i0 < M; i0 += kMC) {
        const int64_t mc = std::min(kMC, M - i0);
        pack_a(kernel, ta, A, lda, M, i0, mc, k0, kc, alpha, ap);
        for (int64_t jr = 0; jr < nc; jr += kNR) {
          const int64_t nr = std::min<int64_t>(kNR, nc - jr);
          const float* b = bp + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            const int64_t mr = std::min<int64_t>(kMR, mc - ir);
            const float* a = ap + ir * kc;
            float* c = C + (i0 + ir) * ldc + j0 + jr;
            if (mr == kMR && nr == kNR) {
              micro(kc, a, b, c, ldc, b_eff);
            } else {  // an edge tile: compute the whole tile aside, merge the part inside C
              micro(kc, a, b, edge, kNR, 0.f);
              for (int64_t r = 0; r < mr; r++) {
                for (int64_t j = 0; j < nr; j++) {
                  c[r * ldc + j] = merge(edge[r * kNR + j], b_eff, c[r * ldc + j]);
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace artist
