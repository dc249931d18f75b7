// NHWC 2-D convolution and its two gradients as im2col + SGEMM.
//   forward:         y[r, co]  = col(x)[r, k] . W[k, co]
//   backprop input:  col[r, k] = dy[r, co] . W[k, co]^T, then col2im (scatter-add) into dx
//   backprop filter: dW[k, co] = sum over chunks of col(x)[r, k]^T . dy[r, co]
// with r = (image, oy, ox) and k = (ky, kx, ci), so W in HWIO layout is already the [k, co] matrix.
// Images are processed in chunks so the column buffer stays near kColBudget floats.
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

constexpr int64_t kColBudget = int64_t(1) << 22;  // 4 Mi floats = 16 MiB of column buffer

std::vector<float>& scratch(size_t n) {
  static thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

bool is_pointwise(const ConvParams& p) {
  return p.fh == 1 && p.fw == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 &&
         p.oh == p.h && p.ow == p.w;
}

int64_t chunk_images(const ConvParams& p) {
  const int64_t per_image = std::max<int64_t>(1, p.oh * p.ow * p.fh * p.fw * p.ci);
  return std::max<int64_t>(1, std::min<int64_t>(p.n, kColBudget / per_image));
}

// col[(b - b0) * oh * ow + oy * ow + ox, (ky * fw + kx) * ci + c] for images [b0, b0 + nb)
void im2col(const ConvParams& p, const float* x, int64_t b0, int64_t nb, float* col) {
  const int64_t K = p.fh * p.fw * p.ci;
  const size_t row_bytes = sizeof(float) * p.ci;
  for (int64_t b = b0; b < b0 + nb; b++) {
    const float* xb = x + b * p.h * p.w * p.ci;
    for (int64_t oy = 0; oy < p.oh; oy++) {
      for (int64_t ox = 0; ox < p.ow; ox++) {
        float* dst = col + (((b - b0) * p.oh + oy) * p.ow + ox) * K;
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
  }
}

// dx[b] += col2im(col) for images [b0, b0 + nb); dx must be zeroed by the caller.
void col2im_add(const ConvParams& p, const float* col, int64_t b0, int64_t nb, float* dx) {
  const int64_t K = p.fh * p.fw * p.ci;
  for (int64_t b = b0; b < b0 + nb; b++) {
    float* db = dx + b * p.h * p.w * p.ci;
    for (int64_t oy = 0; oy < p.oh; oy++) {
      for (int64_t ox = 0; ox < p.ow; ox++) {
        const float* src = col + (((b - b0) * p.oh + oy) * p.ow + ox) * K;
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
            const float* s = srow + kx * p.ci;
            for (int64_t c = 0; c < p.ci; c++) d[c] += s[c];
          }
        }
      }
    }
  }
}

inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.f, A,
              static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
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
  const int64_t chunk = chunk_images(p);
  float* col = scratch(static_cast<size_t>(chunk * rows_per_image * K)).data();
  for (int64_t b0 = 0; b0 < p.n; b0 += chunk) {
    const int64_t nb = std::min(chunk, p.n - b0);
    im2col(p, x, b0, nb, col);
    gemm(false, false, nb * rows_per_image, p.co, K, col, K, filter, p.co, 0.f,
         y + b0 * rows_per_image * p.co, p.co);
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
  const int64_t chunk = chunk_images(p);
  float* col = scratch(static_cast<size_t>(chunk * rows_per_image * K)).data();
  for (int64_t b0 = 0; b0 < p.n; b0 += chunk) {
    const int64_t nb = std::min(chunk, p.n - b0);
    gemm(false, true, nb * rows_per_image, K, p.co, dy + b0 * rows_per_image * p.co, p.co, filter,
         p.co, 0.f, col, K);
    col2im_add(p, col, b0, nb, dx);
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
  const int64_t chunk = chunk_images(p);
  float* col = scratch(static_cast<size_t>(chunk * rows_per_image * K)).data();
  for (int64_t b0 = 0; b0 < p.n; b0 += chunk) {
    const int64_t nb = std::min(chunk, p.n - b0);
    im2col(p, x, b0, nb, col);
    gemm(true, false, K, p.co, nb * rows_per_image, col, K, dy + b0 * rows_per_image * p.co, p.co,
         b0 == 0 ? 0.f : 1.f, dfilter, p.co);
  }
}

}  // namespace artist
