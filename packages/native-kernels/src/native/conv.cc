// NHWC 2-D convolution and its two gradients as im2col + SGEMM.
//   forward:         y[r, co]  = col(x)[r, k] . W[k, co]
//   backprop input:  col[r, k] = dy[r, co] . W[k, co]^T, then col2im (scatter-add) into dx
//   backprop filter: dW[k, co] = sum over chunks of col(x)[r, k]^T . dy[r, co]
// with r = (image, oy, ox) and k = (ky, kx, ci), so W in HWIO layout is already the [k, co] matrix.
// Output rows are processed in chunks so the column buffer (about kColBudget floats) stays in L2.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "parallel.h"
#include "sgemm.h"
#include "simd_math.h"

namespace artist {
namespace {

constexpr int64_t kColBudget = int64_t(1) << 18;  // 256 Ki floats = 1 MiB of column buffer

std::vector<float>& scratch(size_t n) {
  static thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

bool is_pointwise(const ConvParams& p) {
  return p.fh == 1 && p.fw == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 &&
         p.oh == p.h && p.ow == p.w;
}

// Rows of the column matrix per chunk: about kColBudget floats, so a chunk stays in L2.
int64_t chunk_rows(const ConvParams& p) {
  const int64_t K = std::max<int64_t>(1, p.fh * p.fw * p.ci);
  return std::max<int64_t>(16, kColBudget / K);
}

// col[r - r0, (ky * fw + kx) * ci + c] for the output rows r = (b, oy, ox) in [r0, r0 + nr)
void im2col(const ConvParams& p, const float* x, int64_t r0, int64_t nr, float* col) {
  const int64_t K = p.fh * p.fw * p.ci;
  const size_t row_bytes = sizeof(float) * p.ci;
  const int64_t per_image = p.oh * p.ow;
  for (int64_t r = r0; r < r0 + nr; r++) {
    const int64_t b = r / per_image;
    const int64_t oy = (r % per_image) / p.ow;
    const int64_t ox = r % p.ow;
    const float* xb = x + b * p.h * p.w * p.ci;
    float* dst = col + (r - r0) * K;
    const int64_t iy0 = oy * p.sh - p.pt;
    const int64_t ix0 = ox * p.sw - p.pl;
    for (int64_t ky = 0; ky < p.fh; ky++) {
      const int64_t iy = iy0 + ky * p.dh;
      float* drow = dst + ky * p.fw * p.ci;
      if (iy < 0 || iy >= p.h) {
        std::memset(drow, 0, row_bytes * p.fw);
        continue;
      }
      const float* xrow = xb + iy * p.w * p.ci;
      if (p.dw == 1 && ix0 >= 0 && ix0 + p.fw <= p.w) {  // the whole filter row is inside
        std::memcpy(drow, xrow + ix0 * p.ci, row_bytes * p.fw);
        continue;
      }
      for (int64_t kx = 0; kx < p.fw; kx++) {
        const int64_t ix = ix0 + kx * p.dw;
        if (ix < 0 || ix >= p.w) {
          std::memset(drow + kx * p.ci, 0, row_bytes);
        } else {
          std::memcpy(drow + kx * p.ci, xrow + ix * p.ci, row_bytes);
        }
      }
    }
  }
}

// dx += col2im(col) for the output rows [r0, r0 + nr); dx must be zeroed by the caller.
void col2im_add(const ConvParams& p, const float* col, int64_t r0, int64_t nr, float* dx) {
  const int64_t K = p.fh * p.fw * p.ci;
  const int64_t per_image = p.oh * p.ow;
  for (int64_t r = r0; r < r0 + nr; r++) {
    const int64_t b = r / per_image;
    const int64_t oy = (r % per_image) / p.ow;
    const int64_t ox = r % p.ow;
    float* db = dx + b * p.h * p.w * p.ci;
    const float* src = col + (r - r0) * K;
    const int64_t iy0 = oy * p.sh - p.pt;
    const int64_t ix0 = ox * p.sw - p.pl;
    for (int64_t ky = 0; ky < p.fh; ky++) {
      const int64_t iy = iy0 + ky * p.dh;
      if (iy < 0 || iy >= p.h) continue;
      float* drow = db + iy * p.w * p.ci;
      const float* srow = src + ky * p.fw * p.ci;
      for (int64_t kx = 0; kx < p.fw; kx++) {
        const int64_t ix = ix0 + kx * p.dw;
        if (ix < 0 || ix >= p.w) continue;
        float* d = drow + ix * p.ci;
        const float* sp = srow + kx * p.ci;
        for (int64_t c = 0; c < p.ci; c++) d[c] += sp[c];
      }
    }
  }
}

// y[r, :] += bias for rows [0, rows) of y [rows, co]; nothing when bias is null. Called on each
// block of outputs right after it is written, while it is still in cache.
ARTIST_SIMD_CLONES void add_bias_rows(float* y, int64_t rows, int64_t co, const float* bias) {
  if (!bias) return;
  for (int64_t r = 0; r < rows; r++) {
    float* yr = y + r * co;
    for (int64_t o = 0; o < co; o++) yr[o] += bias[o];
  }
}

// One single-threaded SGEMM call; callers split work across the pool at a coarser grain.
inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
}

// C[M, N] = op(A) op(B) (+ beta C) with C's rows split across the pool (op(A) rows follow).
void gemm_rows(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  parallel_for(M, 16, M * N * K, [&](int64_t i0, int64_t i1, int) {
    gemm(ta, tb, i1 - i0, N, K, A + (ta ? i0 : i0 * lda), lda, B, ldb, beta, C + i0 * ldc, ldc);
  });
}

// Convolutions with few output channels (an RGB output layer: co = 3) make a GEMM with N = co,
// which BLAS runs at a few GFLOP/s after writing a column matrix of fh * fw * ci floats per pixel.
// These direct loops (forward and input gradient; the filter gradient stays a GEMM, which was as
// fast) read each input pixel in place and vectorise over ci instead.
constexpr int64_t kDirectMaxCo = 4;

bool use_direct(const ConvParams& p) { return p.co <= kDirectMaxCo && p.ci >= 8; }

// wt[(tap * co + c) * ci + i] = filter[tap, i, c] (HWIO -> per tap, per output channel, ci contiguous)
void transpose_filter(const ConvParams& p, const float* filter, float* wt) {
  const int64_t taps = p.fh * p.fw;
  for (int64_t t = 0; t < taps; t++) {
    for (int64_t i = 0; i < p.ci; i++) {
      for (int64_t c = 0; c < p.co; c++) wt[(t * p.co + c) * p.ci + i] = filter[(t * p.ci + i) * p.co + c];
    }
  }
}

// Calls f(out_row, in_pixel_offset, tap) for every valid (output pixel, filter tap) pair.
template <typename F>
inline void for_each_tap(const ConvParams& p, int64_t b0, int64_t b1, F f) {
  for (int64_t b = b0; b < b1; b++) {
    for (int64_t oy = 0; oy < p.oh; oy++) {
      for (int64_t ox = 0; ox < p.ow; ox++) {
        const int64_t r = (b * p.oh + oy) * p.ow + ox;
        for (int64_t ky = 0; ky < p.fh; ky++) {
          const int64_t iy = oy * p.sh - p.pt + ky * p.dh;
          if (iy < 0 || iy >= p.h) continue;
          for (int64_t kx = 0; kx < p.fw; kx++) {
            const int64_t ix = ox * p.sw - p.pl + kx * p.dw;
            if (ix < 0 || ix >= p.w) continue;
            f(r, ((b * p.h + iy) * p.w + ix) * p.ci, ky * p.fw + kx);
          }
        }
      }
    }
  }
}

// One output pixel of the direct forward convolution for CO output channels: 2 * CO independent
// 8-lane accumulators run over every valid tap before one horizontal sum per channel (a dot product
// per tap and channel, reduced each time, was latency-bound at ~8 GFLOP/s).
template <int CO>
inline void direct_pixel(const ConvParams& p, const float* x, const float* wt, int64_t b,
                         int64_t oy, int64_t ox, float* out) {
  float acc[CO][16];
  for (int c = 0; c < CO; c++) {
    for (int k = 0; k < 16; k++) acc[c][k] = 0.f;
  }
  float tail[CO];
  for (int c = 0; c < CO; c++) tail[c] = 0.f;
  const int64_t ci = p.ci;
  const int64_t main = ci & ~int64_t(15);
  for (int64_t ky = 0; ky < p.fh; ky++) {
    const int64_t iy = oy * p.sh - p.pt + ky * p.dh;
    if (iy < 0 || iy >= p.h) continue;
    for (int64_t kx = 0; kx < p.fw; kx++) {
      const int64_t ix = ox * p.sw - p.pl + kx * p.dw;
      if (ix < 0 || ix >= p.w) continue;
      const float* xp = x + ((b * p.h + iy) * p.w + ix) * ci;
      const float* wp = wt + (ky * p.fw + kx) * CO * ci;
      for (int64_t i = 0; i < main; i += 16) {
        for (int c = 0; c < CO; c++) {
          const float* w = wp + c * ci + i;
          for (int k = 0; k < 16; k++) acc[c][k] += xp[i + k] * w[k];
        }
      }
      for (int64_t i = main; i < ci; i++) {
        for (int c = 0; c < CO; c++) tail[c] += xp[i] * wp[c * ci + i];
      }
    }
  }
  for (int c = 0; c < CO; c++) {
    float s = tail[c];
    for (int k = 0; k < 8; k++) s += acc[c][k] + acc[c][k + 8];
    out[c] = s;
  }
}

template <int CO>
ARTIST_SIMD_CLONES void direct_forward_co(const ConvParams& p, const float* x, const float* wt,
                                          float* y, int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; b++) {
    for (int64_t oy = 0; oy < p.oh; oy++) {
      for (int64_t ox = 0; ox < p.ow; ox++) {
        direct_pixel<CO>(p, x, wt, b, oy, ox, y + ((b * p.oh + oy) * p.ow + ox) * CO);
      }
    }
  }
}

// Calls f(std::integral_constant<int, CO>) for CO = co in [1, kDirectMaxCo].
template <typename F>
void dispatch_co(int64_t co, F f) {
  switch (co) {
    case 1:
      f(std::integral_constant<int, 1>{});
      break;
    case 2:
      f(std::integral_constant<int, 2>{});
      break;
    case 3:
      f(std::integral_constant<int, 3>{});
      break;
    default:
      f(std::integral_constant<int, 4>{});
      break;
  }
}

// Images [b0, b1) of the direct forward convolution (p.co <= kDirectMaxCo).
void direct_forward(const ConvParams& p, const float* x, const float* wt, float* y, int64_t b0,
                    int64_t b1) {
  dispatch_co(p.co, [&](auto co) { direct_forward_co<decltype(co)::value>(p, x, wt, y, b0, b1); });
}

// Images [b0, b1) of the filter gradient with CO <= kDirectMaxCo output channels, summed into
// acc[(tap * CO + c) * ci + i] (zeroed here): per output pixel and tap, CO axpys of length ci into
// an accumulator that stays in L1, instead of a column matrix of fh * fw * ci floats per pixel
// and a GEMM with N = CO.
template <int CO>
ARTIST_SIMD_CLONES void direct_filter_co(const ConvParams& p, const float* x, const float* dy,
                                         float* acc, int64_t b0, int64_t b1) {
  const int64_t ci = p.ci;
  std::fill(acc, acc + p.fh * p.fw * CO * ci, 0.f);
  for (int64_t b = b0; b < b1; b++) {
    for (int64_t oy = 0; oy < p.oh; oy++) {
      for (int64_t ox = 0; ox < p.ow; ox++) {
        const float* g = dy + ((b * p.oh + oy) * p.ow + ox) * CO;
        for (int64_t ky = 0; ky < p.fh; ky++) {
          const int64_t iy = oy * p.sh - p.pt + ky * p.dh;
          if (iy < 0 || iy >= p.h) continue;
          for (int64_t kx = 0; kx < p.fw; kx++) {
            const int64_t ix = ox * p.sw - p.pl + kx * p.dw;
            if (ix < 0 || ix >= p.w) continue;
            const float* xp = x + ((b * p.h + iy) * p.w + ix) * ci;
            float* a = acc + (ky * p.fw + kx) * CO * ci;
            for (int c = 0; c < CO; c++) {
              const float gc = g[c];
              float* ac = a + c * ci;
              for (int64_t i = 0; i < ci; i++) ac[i] += gc * xp[i];
            }
          }
        }
      }
    }
  }
}

void direct_filter(const ConvParams& p, const float* x, const float* dy, float* acc, int64_t b0,
                   int64_t b1) {
  dispatch_co(p.co, [&](auto co) { direct_filter_co<decltype(co)::value>(p, x, dy, acc, b0, b1); });
}

// Images [b0, b1) of the direct input gradient (dx zeroed by the caller).
ARTIST_SIMD_CLONES void direct_backprop_input(const ConvParams& p, const float* dy,
                                              const float* wt, float* dx, int64_t b0, int64_t b1) {
  for_each_tap(p, b0, b1, [&](int64_t r, int64_t xo, int64_t t) {
    float* d = dx + xo;
    for (int64_t c = 0; c < p.co; c++) {
      const float g = dy[r * p.co + c];
      const float* w = wt + (t * p.co + c) * p.ci;
      for (int64_t i = 0; i < p.ci; i++) d[i] += g * w[i];
    }
  });
}

}  // namespace

void conv2d_forward(const ConvParams& p, const float* x, const float* filter, float* y,
                    const float* bias) {
  const int64_t K = p.fh * p.fw * p.ci;
  const int64_t rows_per_image = p.oh * p.ow;
  if (p.n * rows_per_image == 0 || p.co == 0) return;
  const int64_t rows = p.n * rows_per_image;
  if (K == 0) {
    for (int64_t r = 0; r < rows; r++) {
      float* yr = y + r * p.co;
      for (int64_t o = 0; o < p.co; o++) yr[o] = bias ? bias[o] : 0.f;
    }
    return;
  }
  const int64_t work = rows * p.co * K;
  if (is_pointwise(p)) {  // 1x1, stride 1, no padding: the input already is the column matrix
    parallel_for(rows, 16, work, [&](int64_t i0, int64_t i1, int) {
      gemm(false, false, i1 - i0, p.co, K, x + i0 * K, K, filter, p.co, 0.f, y + i0 * p.co, p.co);
      add_bias_rows(y + i0 * p.co, i1 - i0, p.co, bias);
    });
    return;
  }
  if (use_direct(p)) {
    std::vector<float> wt(static_cast<size_t>(K * p.co));
    transpose_filter(p, filter, wt.data());
    parallel_for(p.n, 1, work, [&](int64_t b0, int64_t b1, int) {
      direct_forward(p, x, wt.data(), y, b0, b1);
      add_bias_rows(y + b0 * rows_per_image * p.co, (b1 - b0) * rows_per_image, p.co, bias);
    });
    return;
  }
  if (winograd_applies(p)) {
    winograd_forward(p, x, filter, y, bias);
    return;
  }
  // Output rows are independent: each thread runs whole L2-sized chunks of its own rows.
  const int64_t chunk = chunk_rows(p);
  parallel_for(rows, 16, work, [&](int64_t lo, int64_t hi, int) {
    float* col = scratch(static_cast<size_t>(std::min(chunk, hi - lo) * K)).data();
    for (int64_t r0 = lo; r0 < hi; r0 += chunk) {
      const int64_t nr = std::min(chunk, hi - r0);
      im2col(p, x, r0, nr, col);
      gemm(false, false, nr, p.co, K, col, K, filter, p.co, 0.f, y + r0 * p.co, p.co);
      add_bias_rows(y + r0 * p.co, nr, p.co, bias);
    }
  });
}

void conv2d_backprop_input(const ConvParams& p, const float* dy, const float* filter, float* dx) {
  const int64_t K = p.fh * p.fw * p.ci;
  const int64_t rows_per_image = p.oh * p.ow;
  if (p.n * rows_per_image == 0 || K == 0 || p.co == 0) {
    std::fill(dx, dx + p.n * p.h * p.w * p.ci, 0.f);
    return;
  }
  const int64_t rows = p.n * rows_per_image;
  const int64_t work = rows * p.co * K;
  if (is_pointwise(p)) {
    gemm_rows(false, true, rows, K, p.co, dy, p.co, filter, p.co, 0.f, dx, K);
    return;
  }
  if (p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1) {
    // Stride 1: the input gradient is the forward convolution of dy with the filter rotated by
    // 180 degrees and its channels swapped, W'[ky, kx, co, ci] = W[fh-1-ky, fw-1-kx, ci, co], padded
    // by fh-1-pt / fw-1-pl. That runs as im2col + GEMM (or the direct loops) and writes dx once,
    // instead of a GEMM into columns and a scatter-add of every column back into dx.
    std::vector<float> rotated(static_cast<size_t>(K * p.co));
    for (int64_t ky = 0; ky < p.fh; ky++) {
      for (int64_t kx = 0; kx < p.fw; kx++) {
        const float* src = filter + ((p.fh - 1 - ky) * p.fw + (p.fw - 1 - kx)) * p.ci * p.co;
        float* dst = rotated.data() + (ky * p.fw + kx) * p.co * p.ci;
        for (int64_t i = 0; i < p.ci; i++) {
          for (int64_t o = 0; o < p.co; o++) dst[o * p.ci + i] = src[i * p.co + o];
        }
      }
    }
    const ConvParams q{p.n, p.oh, p.ow, p.co, p.fh, p.fw, p.ci, p.h, p.w,
                       1,   1,    p.fh - 1 - p.pt, p.fw - 1 - p.pl, 1, 1};
    conv2d_forward(q, dy, rotated.data(), dx);
    return;
  }
  std::fill(dx, dx + p.n * p.h * p.w * p.ci, 0.f);
  // Output pixels of one image scatter into overlapping input pixels, so threads take whole images.
  if (use_direct(p)) {
    std::vector<float> wt(static_cast<size_t>(K * p.co));
    transpose_filter(p, filter, wt.data());
    parallel_for(p.n, 1, work, [&](int64_t b0, int64_t b1, int) {
      direct_backprop_input(p, dy, wt.data(), dx, b0, b1);
    });
    return;
  }
  const int64_t chunk = chunk_rows(p);
  parallel_for(p.n, 1, work, [&](int64_t b0, int64_t b1, int) {
    const int64_t lo = b0 * rows_per_image;
    const int64_t hi = b1 * rows_per_image;
    float* col = scratch(static_cast<size_t>(std::min(chunk, hi - lo) * K)).data();
    for (int64_t r0 = lo; r0 < hi; r0 += chunk) {
      const int64_t nr = std::min(chunk, hi - r0);
      gemm(false, true, nr, K, p.co, dy + r0 * p.co, p.co, filter, p.co, 0.f, col, K);
      col2im_add(p, col, r0, nr, dx);
    }
  });
}

void conv2d_backprop_filter(const ConvParams& p, const float* x, const float* dy, float* dfilter) {
  const int64_t K = p.fh * p.fw * p.ci;
  const int64_t rows_per_image = p.oh * p.ow;
  if (K == 0 || p.co == 0) return;
  if (p.n * rows_per_image == 0) {
    std::fill(dfilter, dfilter + K * p.co, 0.f);
    return;
  }
  const int64_t rows = p.n * rows_per_image;
  const int64_t work = rows * p.co * K;
  const bool pointwise = is_pointwise(p);
  if (winograd_applies(p)) {
    winograd_backprop_filter(p, x, dy, dfilter);
    return;
  }
  if (!pointwise && use_direct(p)) {
    // sums in [tap][c][ci] order per chunk of images, then transposed into HWIO
    const int64_t size = K * p.co;
    std::vector<float> acc(static_cast<size_t>(size));
    parallel_sum(p.n, pool_chunks_for(p.n, 1, work), size, acc.data(),
                 [&](int64_t b0, int64_t b1, float* dst) { direct_filter(p, x, dy, dst, b0, b1); });
    const int64_t taps = p.fh * p.fw;
    for (int64_t t = 0; t < taps; t++) {
      for (int64_t c = 0; c < p.co; c++) {
        for (int64_t i = 0; i < p.ci; i++) {
          dfilter[(t * p.ci + i) * p.co + c] = acc[static_cast<size_t>((t * p.co + c) * p.ci + i)];
        }
      }
    }
    return;
  }
  // Each chunk of rows sums its own gradient (see parallel_sum).
  const int64_t chunk = chunk_rows(p);
  parallel_sum(rows, pool_chunks_for(rows, 16, work), K * p.co, dfilter,
               [&](int64_t lo, int64_t hi, float* out) {
    if (pointwise) {
      gemm(true, false, K, p.co, hi - lo, x + lo * K, K, dy + lo * p.co, p.co, 0.f, out, p.co);
      return;
    }
    float* col = scratch(static_cast<size_t>(std::min(chunk, hi - lo) * K)).data();
    for (int64_t r0 = lo; r0 < hi; r0 += chunk) {
      const int64_t nr = std::min(chunk, hi - r0);
      im2col(p, x, r0, nr, col);
      gemm(true, false, K, p.co, nr, col, K, dy + r0 * p.co, p.co, r0 == lo ? 0.f : 1.f, out,
           p.co);
    }
  });
}

}  // namespace artist
