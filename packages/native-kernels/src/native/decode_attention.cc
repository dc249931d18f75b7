// Attention of one new position per row against a key/value cache (token-by-token decoding). The
// cache is preallocated to its full length and written in place: stock ops grow it by concatenation,
// which copies every layer's whole cache once per token (at 4 rows and ~160 positions, ~47 MB per
// token for a 12-layer, 768-wide GPT), and spend six kernels per layer on the head reshapes, the two
// batched products and the softmax. Work is split across the pool by (row, head) pair; every output
// element is computed by the same instructions whatever the split.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "parallel.h"
#include "simd_math.h"

namespace artist {
namespace {

std::vector<float>& score_scratch(size_t n) {
  static thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

// Dot product of x and y [0, n) in eight lanes (vectorised; fixed order).
inline float dot8(const float* x, const float* y, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; k++) s[k] += x[j + k] * y[j + k];
  }
  float r = 0;
  for (; j < n; j++) r += x[j] * y[j];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + r;
}

// One (row, head) pair: K, V [n, hd] (the pair's cache, position n-1 already written), q [hd],
// y [hd] = softmax(scale q K^T) V. s is an [n] scratch.
ARTIST_SIMD_CLONES void decode_pair(const float* q, const float* K, const float* V, float* y,
                                    float* s, int64_t n, int64_t hd, float scale) {
  for (int64_t j = 0; j < n; j++) s[j] = scale * dot8(q, K + j * hd, hd);
  float m = row_max(s, n);
  float total = 0.f;
  for (int64_t j = 0; j < n; j++) {
    s[j] = exp_f32(s[j] - m);
    total += s[j];
  }
  const float inv = 1.f / total;
  for (int64_t k = 0; k < hd; k++) y[k] = 0.f;
  for (int64_t j = 0; j < n; j++) {
    const float p = s[j] * inv;
    const float* v = V + j * hd;
    for (int64_t k = 0; k < hd; k++) y[k] += p * v[k];
  }
}

}  // namespace

void decode_attention_f32(const float* qkv, float* k_cache, float* v_cache, float* y,
                          int64_t batch, int64_t heads, int64_t hd, int64_t capacity,
                          int64_t position, float scale) {
  const int64_t d = heads * hd;
  const int64_t pairs = batch * heads;
  const int64_t n = position + 1;
  if (pairs == 0 || hd == 0) return;
  // memory-bound: the work that decides splitting is the bytes of K and V read
  parallel_for(pairs, 1, pairs * n * hd * 8, [&](int64_t p0, int64_t p1, int) {
    float* s = score_scratch(static_cast<size_t>(n)).data();
    for (int64_t pr = p0; pr < p1; pr++) {
      const int64_t b = pr / heads, h = pr % heads;
      const float* row = qkv + b * 3 * d + h * hd;  // q, then k at +d, v at +2d
      float* K = k_cache + pr * capacity * hd;
      float* V = v_cache + pr * capacity * hd;
      std::memcpy(K + position * hd, row + d, sizeof(float) * hd);
      std::memcpy(V + position * hd, row + 2 * d, sizeof(float) * hd);
      decode_pair(row, K, V, y + b * d + h * hd, s, n, hd, scale);
    }
  });
}

}  // namespace artist
