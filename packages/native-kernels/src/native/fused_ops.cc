// Fused transformer kernels: GELU (exact and tanh forms), LayerNorm over the last axis, and causal
// self-attention, each forward and backward, plus the strided row copy behind the Concat override.
// They replace chains of 10-90 element-wise kernels per layer (and, for attention, the 4-D head
// transposes, the mask and the softmax) by one pass over memory. Work is split across artist's
// pool (parallel.h): element ranges for GELU, fixed blocks of rows for LayerNorm, (batch, head)
// pairs for attention, rows for the copy. Results do not depend on the thread count:
// every output element is computed by the same instructions in the same order whatever the split
// (LayerNorm's dgamma/dbeta add per-block partial sums in block order, blocks of a fixed size).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "parallel.h"
#include "sgemm.h"
#include "simd_math.h"


namespace artist {
namespace {

// ---------------------------------------------------------------------------------------------
// Branch-free float32 math that GCC and Clang vectorise (exp_f32 from simd_math.h).

// erfcx(z) = exp(z^2) erfc(z) for z >= 0 as t q(t), t = 1 / (1 + z / 2) in (0, 1], q a degree-10
// polynomial least-squares fitted (numpy, Chebyshev basis) to erfcx(z) / t: relative error
// <= 2e-7 over [0, inf) in float32. erfc(z) = erfcx(z) exp(-z^2) keeps its relative accuracy for
// large z, so Phi(x) = erfc(-x / sqrt 2) / 2 stays accurate in the negative tail, where 1 + erf(x)
// (the textbook formula and tf.erf's Abramowitz-Stegun 7.1.26) cancels; and the exp(-x^2 / 2) it
// needs is the normal density's, which the gradient reuses.
inline float erfcx_pos(float z) {
  const float t = 1.f / (1.f + 0.5f * z);
  float q = 4.429923743e-02f;
  q = q * t + -2.401580364e-01f;
  q = q * t + 5.050540566e-01f;
  q = q * t + -4.681969285e-01f;
  q = q * t + 1.415383518e-01f;
  q = q * t + -6.335500628e-02f;
  q = q * t + 9.459784627e-02f;
  q = q * t + 1.751319915e-01f;
  q = q * t + 2.469005883e-01f;
  q = q * t + 2.820931375e-01f;
  q = q * t + 2.820948064e-01f;
  return t * q;
}

constexpr float kSqrtHalf = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;  // 1 / sqrt(2 pi)
constexpr float kSqrt2OverPi = 0.79788456080286536f;  // sqrt(2 / pi)
constexpr float kGeluCubic = 0.044715f;

// Phi(x), the standard normal CDF, given e = exp(-x^2 / 2).
inline float normal_cdf(float x, float e) {
  const float ax = x < 0.f ? -x : x;
  const float half_erfc = 0.5f * erfcx_pos(ax * kSqrtHalf) * e;
  return x < 0.f ? half_erfc : 1.f - half_erfc;
}

ARTIST_SIMD_CLONES void gelu_exact_fwd(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = v * normal_cdf(v, exp_f32(-0.5f * v * v));
  }
}

// The tanh form as 0.5 x (1 + tanh(u)) = x sigmoid(2u), with sigmoid(a) from e = exp(-|a|) (never
// overflows): 1 + tanh(u) cancels for negative x in float32, the sigmoid keeps relative accuracy.
inline float gelu_tanh_u(float v) { return kSqrt2OverPi * (v + kGeluCubic * v * v * v); }

ARTIST_SIMD_CLONES void gelu_tanh_fwd(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float u = gelu_tanh_u(v);
    const float e = exp_f32(-2.f * (u < 0.f ? -u : u));
    const float r = 1.f / (1.f + e);
    y[i] = v * (u < 0.f ? e * r : r);
  }
}

// dx = dy * (Phi(x) + x phi(x))
ARTIST_SIMD_CLONES void gelu_exact_bwd(const float* __restrict x, const float* __restrict dy,
                                       float* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float e = exp_f32(-0.5f * v * v);
    dx[i] = dy[i] * (normal_cdf(v, e) + v * (kInvSqrt2Pi * e));
  }
}

// dx = dy * (s + 2 x s (1 - s) u'), s = sigmoid(2u) = (1 + tanh(u)) / 2,
// u' = sqrt(2/pi) (1 + 3 c x^2); s (1 - s) = e / (1 + e)^2 with e = exp(-|2u|) for either sign
ARTIST_SIMD_CLONES void gelu_tanh_bwd(const float* __restrict x, const float* __restrict dy,
                                      float* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float v2 = v * v;
    const float u = gelu_tanh_u(v);
    const float e = exp_f32(-2.f * (u < 0.f ? -u : u));
    const float r = 1.f / (1.f + e);
    const float sg = u < 0.f ? e * r : r;
    const float du = kSqrt2OverPi * (1.f + 3.f * kGeluCubic * v2);
    dx[i] = dy[i] * (sg + 2.f * v * (e * r * r) * du);
  }
}

// Element-wise work (in "element operations") per GELU element, for the pool's threshold.
constexpr int64_t kGeluCost = 40;
constexpr int64_t kGeluGrain = 4096;

// ---------------------------------------------------------------------------------------------
// LayerNorm

// Sum of n floats with 8 independent accumulators (vectorised; fixed order).
inline float sum8(const float* x, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; k++) s[k] += x[j + k];
  }
  float r = 0;
  for (; j < n; j++) r += x[j];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + r;
}

// Sum of (x - m)^2.
inline float sqdev8(const float* x, float m, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; k++) {
      const float d = x[j + k] - m;
      s[k] += d * d;
    }
  }
  float r = 0;
  for (; j < n; j++) r += (x[j] - m) * (x[j] - m);
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + r;
}

// Rows [r0, r1) of the forward.
ARTIST_SIMD_CLONES void layer_norm_rows(const float* __restrict x, const float* __restrict gamma,
                                        const float* __restrict beta, float* __restrict y,
                                        float* __restrict mean, float* __restrict rstd,
                                        int64_t r0, int64_t r1, int64_t D, float eps) {
  const float inv_d = 1.f / static_cast<float>(D);
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * D;
    float* yr = y + r * D;
    const float m = sum8(xr, D) * inv_d;
    const float var = sqdev8(xr, m, D) * inv_d;
    const float rs = 1.f / std::sqrt(var + eps);
    for (int64_t j = 0; j < D; j++) yr[j] = (xr[j] - m) * rs * gamma[j] + beta[j];
    mean[r] = m;
    rstd[r] = rs;
  }
}

// Rows [r0, r1) of the gradient: dx, and this block's dgamma / dbeta partial sums (pg, pb).
ARTIST_SIMD_CLONES void layer_norm_grad_rows(const float* __restrict x,
                                             const float* __restrict gamma,
                                             const float* __restrict mean,
                                             const float* __restrict rstd,
                                             const float* __restrict dy, float* __restrict dx,
                                             float* __restrict pg, float* __restrict pb, int64_t r0,
                                             int64_t r1, int64_t D) {
  const float inv_d = 1.f / static_cast<float>(D);
  for (int64_t j = 0; j < D; j++) {
    pg[j] = 0.f;
    pb[j] = 0.f;
  }
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * D;
    const float* dyr = dy + r * D;
    float* dxr = dx + r * D;
    const float m = mean[r], rs = rstd[r];
    // a = mean(dy * gamma), c = mean(dy * gamma * xhat)
    float sa[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= D; j += 8) {
      for (int k = 0; k < 8; k++) {
        const float g = dyr[j + k] * gamma[j + k];
        sa[k] += g;
        sc[k] += g * ((xr[j + k] - m) * rs);
      }
    }
    float ta = 0, tc = 0;
    for (; j < D; j++) {
      const float g = dyr[j] * gamma[j];
      ta += g;
      tc += g * ((xr[j] - m) * rs);
    }
    const float a =
        (((sa[0] + sa[4]) + (sa[1] + sa[5])) + ((sa[2] + sa[6]) + (sa[3] + sa[7])) + ta) * inv_d;
    const float c =
        (((sc[0] + sc[4]) + (sc[1] + sc[5])) + ((sc[2] + sc[6]) + (sc[3] + sc[7])) + tc) * inv_d;
    for (int64_t q = 0; q < D; q++) {
      const float xh = (xr[q] - m) * rs;
      const float d = dyr[q];
      dxr[q] = rs * (d * gamma[q] - a - xh * c);
      pg[q] += d * xh;
      pb[q] += d;
    }
  }
}

// Rows per LayerNorm block: fixed (not derived from the thread count) so the dgamma/dbeta
// partial sums, and so the results, are the same with any number of threads.
constexpr int64_t kLnBlockRows = 32;
constexpr int64_t kLnCost = 16;

std::vector<float>& ln_partials(size_t n) {
  static thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Causal attention

// Query rows per block: the scores of block [r0, r1) are computed for keys [0, r1) only, which
// skips most of the masked upper triangle (62.5 % of the full products are computed at t = 128;
// blocks of 16 and 64 were no faster on the 2-core Zen 4 test machine).
constexpr int64_t kAttBlock = 32;

std::vector<float>& att_scratch(size_t n) {
  static thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc) {
  sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, 0.f, C, ldc);
}

// row[0, n) = softmax(row[0, n)), row[n, len) = 0
ARTIST_SIMD_CLONES void softmax_prefix(float* row, int64_t n, int64_t len) {
  const float m = row_max(row, n);
  for (int64_t j = 0; j < n; j++) row[j] = exp_f32(row[j] - m);
  const float inv = 1.f / sum8(row, n);
  for (int64_t j = 0; j < n; j++) row[j] *= inv;
  for (int64_t j = n; j < len; j++) row[j] = 0.f;
}

// ds[0, n) = scale p (dp - sum_j p dp), ds[n, len) = 0 (ds may alias dp)
ARTIST_SIMD_CLONES void softmax_grad_prefix(const float* __restrict p, float* dp, int64_t n,
                                            int64_t len, float scale) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; k++) s[k] += p[j + k] * dp[j + k];
  }
  float r = 0;
  for (; j < n; j++) r += p[j] * dp[j];
  const float dot = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + r;
  for (int64_t q = 0; q < n; q++) dp[q] = scale * p[q] * (dp[q] - dot);
  for (int64_t q = n; q < len; q++) dp[q] = 0.f;
}

// One (batch, head) pair of the forward. Q, K, V, Y have row stride d; P is [t, t].
void attention_pair_fwd(const float* Q, const float* K, const float* V, float* Y, float* P,
                        int64_t t, int64_t d, int64_t hd, float scale) {
  for (int64_t r0 = 0; r0 < t; r0 += kAttBlock) {
    const int64_t r1 = std::min(t, r0 + kAttBlock);
    // S[r0:r1, 0:r1] = scale Q[r0:r1] K[0:r1]^T
    gemm(false, true, r1 - r0, r1, hd, scale, Q + r0 * d, d, K, d, P + r0 * t, t);
    for (int64_t i = r0; i < r1; i++) softmax_prefix(P + i * t, i + 1, t);
    // Y[r0:r1] = P[r0:r1, 0:r1] V[0:r1]
    gemm(false, false, r1 - r0, hd, r1, 1.f, P + r0 * t, t, V, d, Y + r0 * d, d);
  }
}

// One (batch, head) pair of the gradient; dS is a [t, t] scratch.
void attention_pair_bwd(const float* Q, const float* K, const float* V, const float* P,
                        const float* dY, float* dQ, float* dK, float* dV, float* dS, int64_t t,
                        int64_t d, int64_t hd, float scale) {
  for (int64_t c0 = 0; c0 < t; c0 += kAttBlock) {
    const int64_t c1 = std::min(t, c0 + kAttBlock);
    // dV[c0:c1] = P[c0:t, c0:c1]^T dY[c0:t]   (P[i, j] = 0 for j > i)
    gemm(true, false, c1 - c0, hd, t - c0, 1.f, P + c0 * t + c0, t, dY + c0 * d, d, dV + c0 * d,
         d);
  }
  for (int64_t r0 = 0; r0 < t; r0 += kAttBlock) {
    const int64_t r1 = std::min(t, r0 + kAttBlock);
    // dP[r0:r1, 0:r1] = dY[r0:r1] V[0:r1]^T, then dS = scale P (dP - rowsum(P dP)) in place
    gemm(false, true, r1 - r0, r1, hd, 1.f, dY + r0 * d, d, V, d, dS + r0 * t, t);
    for (int64_t i = r0; i < r1; i++) softmax_grad_prefix(P + i * t, dS + i * t, i + 1, r1, scale);
    // dQ[r0:r1] = dS[r0:r1, 0:r1] K[0:r1]
    gemm(false, false, r1 - r0, hd, r1, 1.f, dS + r0 * t, t, K, d, dQ + r0 * d, d);
  }
  for (int64_t c0 = 0; c0 < t; c0 += kAttBlock) {
    const int64_t c1 = std::min(t, c0 + kAttBlock);
    // dK[c0:c1] = dS[c0:t, c0:c1]^T Q[c0:t]
    gemm(true, false, c1 - c0, hd, t - c0, 1.f, dS + c0 * t + c0, t, Q + c0 * d, d, dK + c0 * d,
         d);
  }
}

}  // namespace

void gelu_forward_f32(const float* x, float* y, int64_t n, GeluForm form) {
  parallel_for(n, kGeluGrain, n * kGeluCost, [&](int64_t b, int64_t e, int) {
    if (form == GeluForm::kTanh) {
      gelu_tanh_fwd(x + b, y + b, e - b);
    } else {
      gelu_exact_fwd(x + b, y + b, e - b);
    }
  });
}

void gelu_backward_f32(const float* x, const float* dy, float* dx, int64_t n, GeluForm form) {
  parallel_for(n, kGeluGrain, n * kGeluCost, [&](int64_t b, int64_t e, int) {
    if (form == GeluForm::kTanh) {
      gelu_tanh_bwd(x + b, dy + b, dx + b, e - b);
    } else {
      gelu_exact_bwd(x + b, dy + b, dx + b, e - b);
    }
  });
}

void layer_norm_forward_f32(const float* x, const float* gamma, const float* beta, float* y,
                            float* mean, float* rstd, int64_t rows, int64_t dim, float eps) {
  if (rows == 0 || dim == 0) return;
  const int64_t blocks = (rows + kLnBlockRows - 1) / kLnBlockRows;
  parallel_for(blocks, 1, rows * dim * kLnCost, [&](int64_t b0, int64_t b1, int) {
    layer_norm_rows(x, gamma, beta, y, mean, rstd, b0 * kLnBlockRows,
                    std::min(rows, b1 * kLnBlockRows), dim, eps);
  });
}

void layer_norm_backward_f32(const float* x, const float* gamma, const float* mean,
                             const float* rstd, const float* dy, float* dx, float* dgamma,
                             float* dbeta, int64_t rows, int64_t dim) {
  if (dim == 0) return;
  std::fill(dgamma, dgamma + dim, 0.f);
  std::fill(dbeta, dbeta + dim, 0.f);
  if (rows == 0) return;
  const int64_t blocks = (rows + kLnBlockRows - 1) / kLnBlockRows;
  // per block: dgamma partial [dim] then dbeta partial [dim]
  float* parts = ln_partials(static_cast<size_t>(blocks * 2 * dim)).data();
  parallel_for(blocks, 1, rows * dim * kLnCost, [&](int64_t b0, int64_t b1, int) {
    for (int64_t blk = b0; blk < b1; blk++) {
      layer_norm_grad_rows(x, gamma, mean, rstd, dy, dx, parts + blk * 2 * dim,
                           parts + blk * 2 * dim + dim, blk * kLnBlockRows,
                           std::min(rows, (blk + 1) * kLnBlockRows), dim);
    }
  });
  for (int64_t blk = 0; blk < blocks; blk++) {  // in block order: deterministic
    const float* pg = parts + blk * 2 * dim;
    const float* pb = pg + dim;
    for (int64_t j = 0; j < dim; j++) {
      dgamma[j] += pg[j];
      dbeta[j] += pb[j];
    }
  }
}

void causal_attention_forward_f32(const float* q, const float* k, const float* v, float* y,
                                  float* p, int64_t batch, int64_t t, int64_t heads, int64_t hd,
                                  float scale) {
  const int64_t d = heads * hd;
  const int64_t pairs = batch * heads;
  if (pairs == 0 || t == 0 || hd == 0) return;
  parallel_for(pairs, 1, pairs * t * t * hd * 2, [&](int64_t p0, int64_t p1, int) {
    for (int64_t pr = p0; pr < p1; pr++) {
      const int64_t b = pr / heads, h = pr % heads;
      const int64_t off = b * t * d + h * hd;
      attention_pair_fwd(q + off, k + off, v + off, y + off, p + pr * t * t, t, d, hd, scale);
    }
  });
}

void causal_attention_backward_f32(const float* q, const float* k, const float* v, const float* p,
                                   const float* dy, float* dq, float* dk, float* dv, int64_t batch,
                                   int64_t t, int64_t heads, int64_t hd, float scale) {
  const int64_t d = heads * hd;
  const int64_t pairs = batch * heads;
  if (pairs == 0 || t == 0 || hd == 0) return;
  parallel_for(pairs, 1, pairs * t * t * hd * 4, [&](int64_t p0, int64_t p1, int) {
    float* ds = att_scratch(static_cast<size_t>(t * t)).data();
    for (int64_t pr = p0; pr < p1; pr++) {
      const int64_t b = pr / heads, h = pr % heads;
      const int64_t off = b * t * d + h * hd;
      attention_pair_bwd(q + off, k + off, v + off, p + pr * t * t, dy + off, dq + off, dk + off,
                         dv + off, ds, t, d, hd, scale);
    }
  });
}

void copy_2d_f32(const float* src, float* dst, int64_t rows, int64_t cols, int64_t src_stride,
                 int64_t dst_stride) {
  if (rows == 0 || cols == 0) return;
  parallel_for(rows, 64, rows * cols, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; r++) {
      std::memcpy(dst + r * dst_stride, src + r * src_stride, sizeof(float) * cols);
    }
  });
}

}  // namespace artist
