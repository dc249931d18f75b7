// NHWC 2-D convolution and its two gradients as im2col + SGEMM.
//   forward:         y[r, co]  = col(x)[r, k] . W[k, co]
//   backprop input:  col[r, k] = dy[r, co] . W[k, co]^T, then col2im (scatter-add) into dx
//   backprop filter: dW[k, co] = sum over chunks of col(x)[r, k]^T . dy[r, co]
// with r = (image, oy, ox) and k = (ky, kx, ci), so W in HWIO layout is already the [k, co] matrix.
// Output rows are processed in chunks so the column buffer (about kColBudget floats) stays in L2.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"

#if defined(ARTIST_BLAS_ACCELERATE)
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

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

inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  blas_threads_for(M * N * K);
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.f, A,
              static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__)
#define ARTIST_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ARTIST_SIMD_CLONES
#endif

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

inline float dot(const float* a, const float* b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; k++) s[k] += a[i + k] * b[i + k];
  }
  float r = 0;
  for (; i < n; i++) r += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + r;
}

// Calls f(out_row, in_pixel_offset, tap) for every valid (output pixel, filter tap) pair.
template <typename F>
inline void for_each_tap(const ConvParams& p, F f) {
  for (int64_t b = 0; b < p.n; b++) {
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

ARTIST_SIMD_CLONES void direct_forward(const ConvParams& p, const float* x, const float* wt,
                                       float* y) {
  std::fill(y, y + p.n * p.oh * p.ow * p.co, 0.f);
  for_each_tap(p, [&](int64_t r, int64_t xo, int64_t t) {
    for (int64_t c = 0; c < p.co; c++) y[r * p.co + c] += dot(x + xo, wt + (t * p.co + c) * p.ci, p.ci);
  });
}

ARTIST_SIMD_CLONES void direct_backprop_input(const ConvParams& p, const float* dy,
                                              const float* wt, float* dx) {
  for_each_tap(p, [&](int64_t r, int64_t xo, int64_t t) {
    float* d = dx + xo;
    for (int64_t c = 0; c < p.co; c++) {
      const float g = dy[r * p.co + c];
      const float* w = wt + (t * p.co + c) * p.ci;
      for (int64_t i = 0; i < p.ci; i++) d[i] += g * w[i];
    }
  });
}

}  // namespace

void conv2d_forward(const ConvParams& p, const float* x, const float* filter, float* y) {
  const int64_t K = p.fh * p.fw * p.ci;
  const int64_t rows_per_image = p.oh * p.ow;
  if (p.n * rows_per_image == 0 || p.co == 0) return;
  if (K == 0) {
    std::fill(y, y + p.n * rows_per_image * p.co, 0.f);
    return;
  }
  if (is_pointwise(p)) {  // 1x1, stride 1, no padding: the input already is the column matrix
    gemm(false, false, p.n * rows_per_image, p.co, K, x, K, filter, p.co, 0.f, y, p.co);
    return;
  }
  if (use_direct(p)) {
    float* wt = scratch(static_cast<size_t>(K * p.co)).data();
    transpose_filter(p, filter, wt);
    direct_forward(p, x, wt, y);
    return;
  }
  const int64_t rows = p.n * rows_per_image;
  const int64_t chunk = chunk_rows(p);
  float* col = scratch(static_cast<size_t>(std::min(chunk, rows) * K)).data();
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t nr = std::min(chunk, rows - r0);
    im2col(p, x, r0, nr, col);
    gemm(false, false, nr, p.co, K, col, K, filter, p.co, 0.f, y + r0 * p.co, p.co);
  }
}

void conv2d_backprop_input(const ConvParams& p, const float* dy, const float* filter, float* dx) {
  const int64_t K = p.fh * p.fw * p.ci;
  const int64_t rows_per_image = p.oh * p.ow;
  std::fill(dx, dx + p.n * p.h * p.w * p.ci, 0.f);
  if (p.n * rows_per_image == 0 || K == 0 || p.co == 0) return;
  if (is_pointwise(p)) {
    gemm(false, true, p.n * rows_per_image, K, p.co, dy, p.co, filter, p.co, 0.f, dx, K);
    return;
  }
  if (use_direct(p)) {
    float* wt = scratch(static_cast<size_t>(K * p.co)).data();
    transpose_filter(p, filter, wt);
    direct_backprop_input(p, dy, wt, dx);
    return;
  }
  const int64_t rows = p.n * rows_per_image;
  const int64_t chunk = chunk_rows(p);
  float* col = scratch(static_cast<size_t>(std::min(chunk, rows) * K)).data();
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t nr = std::min(chunk, rows - r0);
    gemm(false, true, nr, K, p.co, dy + r0 * p.co, p.co, filter, p.co, 0.f, col, K);
    col2im_add(p, col, r0, nr, dx);
  }
}

void conv2d_backprop_filter(const ConvParams& p, const float* x, const float* dy, float* dfilter) {
  const int64_t K = p.fh * p.fw * p.ci;
  const int64_t rows_per_image = p.oh * p.ow;
  if (K == 0 || p.co == 0) return;
  if (p.n * rows_per_image == 0) {
    std::fill(dfilter, dfilter + K * p.co, 0.f);
    return;
  }
  if (is_pointwise(p)) {
    gemm(true, false, K, p.co, p.n * rows_per_image, x, K, dy, p.co, 0.f, dfilter, p.co);
    return;
  }

  const int64_t rows = p.n * rows_per_image;
  const int64_t chunk = chunk_rows(p);
  float* col = scratch(static_cast<size_t>(std::min(chunk, rows) * K)).data();
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t nr = std::min(chunk, rows - r0);
    im2col(p, x, r0, nr, col);
    gemm(true, false, K, p.co, nr, col, K, dy + r0 * p.co, p.co, r0 == 0 ? 0.f : 1.f, dfilter,
         p.co);
  }
}

}  // namespace artist
