// Nearest-neighbour resize of NHWC images and its gradient, from source-index maps the caller
// computed (one per axis, with tfjs's alignCorners / halfPixelCenters rules), so the index
// arithmetic is the same as the forward op's by construction.
#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "parallel.h"

namespace artist {

void resize_nearest_f32(const float* x, float* y, int64_t batch, int64_t in_h, int64_t in_w,
                        int64_t out_h, int64_t out_w, int64_t depth, const int32_t* rows,
                        const int32_t* cols) {
  const size_t bytes = sizeof(float) * static_cast<size_t>(depth);
  parallel_for(batch * out_h, 1, batch * out_h * out_w * depth * 4, [&](int64_t lo, int64_t hi, int) {
    for (int64_t br = lo; br < hi; br++) {
      const int64_t b = br / out_h, r = br % out_h;
      const float* src = x + (b * in_h + rows[r]) * in_w * depth;
      float* dst = y + br * out_w * depth;
      for (int64_t c = 0; c < out_w; c++) std::memcpy(dst + c * depth, src + cols[c] * depth, bytes);
    }
  });
}

void resize_nearest_grad_f32(const float* dy, float* dx, int64_t batch, int64_t in_h, int64_t in_w,
                             int64_t out_h, int64_t out_w, int64_t depth, const int32_t* rows,
                             const int32_t* cols) {
  // Images are independent; within one, several dy pixels may land on the same dx pixel.
  parallel_for(batch, 1, batch * out_h * out_w * depth * 4, [&](int64_t b0, int64_t b1, int) {
    std::fill(dx + b0 * in_h * in_w * depth, dx + b1 * in_h * in_w * depth, 0.f);
    for (int64_t b = b0; b < b1; b++) {
      for (int64_t r = 0; r < out_h; r++) {
        float* drow = dx + (b * in_h + rows[r]) * in_w * depth;
        const float* srow = dy + (b * out_h + r) * out_w * depth;
        for (int64_t c = 0; c < out_w; c++) {
          float* d = drow + cols[c] * depth;
          const float* s = srow + c * depth;
          for (int64_t k = 0; k < depth; k++) d[k] += s[k];
        }
      }
    }
  });
}

}  // namespace artist
