// GroupNorm forward (PyTorch semantics) on channels-last x [batch, hw, c], optionally followed by
// swish (x sigmoid(x)), in two passes over x instead of the ~8 element-wise kernels of the stock-op
// form: per-channel sums and sums of squares (float64) over fixed blocks of rows, split across the
// pool and added in block order, so the statistics do not depend on the thread count; then
// y = x scale + shift per channel (scale = rstd gamma, shift = beta - mean scale), swish in place.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "parallel.h"
#include "simd_math.h"

namespace artist {
namespace {

constexpr int64_t kRowsPerBlock = 256;

// s[ch] += x[r, ch], q[ch] += x[r, ch]^2 over rows [0, rows) of x [rows, c], in float64.
ARTIST_SIMD_CLONES void channel_sums(const float* x, int64_t rows, int64_t c, double* s,
                                     double* q) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * c;
    for (int64_t ch = 0; ch < c; ch++) {
      const double v = xr[ch];
      s[ch] += v;
      q[ch] += v * v;
    }
  }
}

ARTIST_SIMD_CLONES void affine_rows(const float* x, const float* scale, const float* shift,
                                    float* y, int64_t rows, int64_t c, bool swish) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
    if (swish) {
      for (int64_t ch = 0; ch < c; ch++) {
        const float a = xr[ch] * scale[ch] + shift[ch];
        yr[ch] = a * sigmoid_f32(a);
      }
    } else {
      for (int64_t ch = 0; ch < c; ch++) yr[ch] = xr[ch] * scale[ch] + shift[ch];
    }
  }
}

}  // namespace

void group_norm_forward_f32(const float* x, const float* gamma, const float* beta, float* y,
                            int64_t batch, int64_t hw, int64_t c, int64_t groups, float eps,
                            bool swish) {
  if (batch == 0 || hw == 0 || c == 0) return;
  const int64_t blocks_per_image = (hw + kRowsPerBlock - 1) / kRowsPerBlock;
  const int64_t blocks = batch * blocks_per_image;
  // [block][2][c]: the block's sums, then its sums of squares
  std::vector<double> part(static_cast<size_t>(blocks * 2 * c), 0.0);
  parallel_for(blocks, 1, batch * hw * c * 4, [&](int64_t b0, int64_t b1, int) {
    for (int64_t blk = b0; blk < b1; blk++) {
      const int64_t img = blk / blocks_per_image, r0 = (blk % blocks_per_image) * kRowsPerBlock;
      const int64_t rows = std::min(kRowsPerBlock, hw - r0);
      double* s = part.data() + blk * 2 * c;
      channel_sums(x + (img * hw + r0) * c, rows, c, s, s + c);
    }
  });
  // per (image, channel) scale and shift from the group statistics
  const int64_t cg = c / groups;
  const double count = static_cast<double>(hw * cg);
  std::vector<float> scale(static_cast<size_t>(batch * c)), shift(static_cast<size_t>(batch * c));
  for (int64_t img = 0; img < batch; img++) {
    for (int64_t g = 0; g < groups; g++) {
      double s = 0.0, q = 0.0;
      for (int64_t blk = img * blocks_per_image; blk < (img + 1) * blocks_per_image; blk++) {
        const double* ps = part.data() + blk * 2 * c + g * cg;
        for (int64_t k = 0; k < cg; k++) {
          s += ps[k];
          q += ps[c + k];
        }
      }
      const double mean = s / count;
      const double var = std::max(0.0, q / count - mean * mean);
      const float rstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
      for (int64_t ch = g * cg; ch < (g + 1) * cg; ch++) {
        const float sc = rstd * gamma[ch];
        scale[img * c + ch] = sc;
        shift[img * c + ch] = beta[ch] - static_cast<float>(mean) * sc;
      }
    }
  }
  const int64_t rows = batch * hw;
  parallel_for(rows, 64, rows * c * (swish ? 32 : 4), [&](int64_t lo, int64_t hi, int) {
    for (int64_t r = lo; r < hi;) {  // runs of rows within one image (same scale and shift)
      const int64_t img = r / hw, end = std::min(hi, (img + 1) * hw);
      affine_rows(x + r * c, scale.data() + img * c, shift.data() + img * c, y + r * c, end - r, c,
                  swish);
      r = end;
    }
  });
}

}  // namespace artist
