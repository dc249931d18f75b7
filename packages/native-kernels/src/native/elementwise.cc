// Element-wise float32 kernels: transcendental unary ops (which the wasm backend evaluates one
// scalar libm call at a time) and binary ops with numpy broadcasting over up to 6 dims.
#include <cmath>
#include <cstdint>

#include "kernels.h"

namespace artist {
namespace {

// glibc's expf is correctly rounded in practice and faster than a hand polynomial here.
inline float exp_f32(float x) { return std::exp(x); }

inline float tanh_f32(float x) {
  // tanh = sign(x) (1 - 2 / (exp(2|x|) + 1)); a Taylor series near 0 avoids the cancellation
  const float ax = x < 0.f ? -x : x;
  const float e = exp_f32(2.f * (ax > 9.f ? 9.f : ax));
  float t = 1.f - 2.f / (e + 1.f);
  const float x2 = x * x;
  const float small = ax * (1.f + x2 * (-0.333333333f + x2 * (0.133333333f - x2 * 0.053968254f)));
  t = ax < 0.0625f ? small : t;
  t = ax > 9.f ? 1.f : t;
  t = x < 0.f ? -t : t;
  return x != x ? x : t;
}

}  // namespace

void unary_f32(UnaryOp op, const float* x, float* y, int64_t n) {
  switch (op) {
    case UnaryOp::kExp:
      for (int64_t i = 0; i < n; i++) y[i] = exp_f32(x[i]);
      break;
    case UnaryOp::kTanh:
      for (int64_t i = 0; i < n; i++) y[i] = tanh_f32(x[i]);
      break;
    case UnaryOp::kSigmoid:
      for (int64_t i = 0; i < n; i++) y[i] = 1.f / (1.f + exp_f32(-x[i]));
      break;
    case UnaryOp::kLog:
      for (int64_t i = 0; i < n; i++) y[i] = std::log(x[i]);
      break;
  }
}

namespace {

template <typename F>
void inner(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n, F f) {
  // the three layouts that cover almost every call get their own loops so the compiler vectorises
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; i++) y[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = *b;
    for (int64_t i = 0; i < n; i++) y[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = *a;
    for (int64_t i = 0; i < n; i++) y[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; i++) y[i] = f(a[i * sa], b[i * sb]);
  }
}

template <typename F>
void broadcast_loop(const BinaryShape& s, const float* a, const float* b, float* y, F f) {
  // s.rank >= 1; the last dim is the inner loop; the others are walked with an index counter
  const int r = s.rank;
  const int64_t n = s.shape[r - 1];
  int64_t outer = 1;
  for (int d = 0; d < r - 1; d++) outer *= s.shape[d];
  int64_t idx[kMaxBinaryRank] = {0};
  int64_t oa = 0, ob = 0;
  for (int64_t o = 0; o < outer; o++) {
    inner(a + oa, s.stride_a[r - 1], b + ob, s.stride_b[r - 1], y + o * n, n, f);
    for (int d = r - 2; d >= 0; d--) {
      idx[d]++;
      oa += s.stride_a[d];
      ob += s.stride_b[d];
      if (idx[d] < s.shape[d]) break;
      oa -= s.stride_a[d] * s.shape[d];
      ob -= s.stride_b[d] * s.shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

void binary_f32(BinaryOp op, const BinaryShape& s, const float* a, const float* b, float* y) {
  switch (op) {
    case BinaryOp::kAdd:
      broadcast_loop(s, a, b, y, [](float p, float q) { return p + q; });
      break;
    case BinaryOp::kSub:
      broadcast_loop(s, a, b, y, [](float p, float q) { return p - q; });
      break;
    case BinaryOp::kMul:
      broadcast_loop(s, a, b, y, [](float p, float q) { return p * q; });
      break;
    case BinaryOp::kDiv:
      broadcast_loop(s, a, b, y, [](float p, float q) { return p / q; });
      break;
    case BinaryOp::kSquaredDifference:
      broadcast_loop(s, a, b, y, [](float p, float q) { return (p - q) * (p - q); });
      break;
  }
}

void reduce_sum_f32(const float* x, float* y, int64_t A, int64_t R, int64_t B, float scale) {
  if (B == 1) {  // contiguous rows: accumulate each in double
    for (int64_t a = 0; a < A; a++) {
      const float* row = x + a * R;
      double acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
      int64_t r = 0;
      for (; r + 4 <= R; r += 4) {
        acc0 += row[r];
        acc1 += row[r + 1];
        acc2 += row[r + 2];
        acc3 += row[r + 3];
      }
      for (; r < R; r++) acc0 += row[r];
      y[a] = static_cast<float>(((acc0 + acc1) + (acc2 + acc3)) * scale);
    }
    return;
  }
  for (int64_t a = 0; a < A; a++) {  // strided: add whole [B] rows, vectorised along b
    float* out = y + a * B;
    const float* base = x + a * R * B;
    for (int64_t b = 0; b < B; b++) out[b] = 0.f;
    for (int64_t r = 0; r < R; r++) {
      const float* row = base + r * B;
      for (int64_t b = 0; b < B; b++) out[b] += row[b];
    }
    if (scale != 1.f) {
      for (int64_t b = 0; b < B; b++) out[b] *= scale;
    }
  }
}

void transpose_f32(const float* x, float* y, int rank, const int64_t* out_shape,
                   const int64_t* in_strides) {
  // y is written in order; x is read through the permuted strides. The last output dim is the
  // inner loop: a block copy when it is also the input's last dim (stride 1).
  const int64_t n = out_shape[rank - 1];
  const int64_t s = in_strides[rank - 1];
  int64_t outer = 1;
  for (int d = 0; d < rank - 1; d++) outer *= out_shape[d];
  int64_t idx[kMaxBinaryRank] = {0};
  int64_t off = 0;
  for (int64_t o = 0; o < outer; o++) {
    float* dst = y + o * n;
    const float* src = x + off;
    if (s == 1) {
      for (int64_t i = 0; i < n; i++) dst[i] = src[i];
    } else {
      for (int64_t i = 0; i < n; i++) dst[i] = src[i * s];
    }
    for (int d = rank - 2; d >= 0; d--) {
      idx[d]++;
      off += in_strides[d];
      if (idx[d] < out_shape[d]) break;
      off -= in_strides[d] * out_shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace artist
