// Element-wise float32 kernels: transcendental unary ops (which the wasm backend evaluates one
// scalar libm call at a time) and binary ops with numpy broadcasting over up to 6 dims.
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "parallel.h"
#include "simd_math.h"

namespace artist {
namespace {

// Work units per element for the pool's split decision (its threshold counts multiply-adds): a
// memory-bound binary op is worth a thread hand-off from ~130 k elements, a transcendental one
// from ~65 k.
constexpr int64_t kCheap = 16;
constexpr int64_t kCostly = 32;

// Branch-free float32 tanh and sigmoid on top of exp_f32 (simd_math.h), vectorised like it: the
// wasm backend and glibc evaluate these one scalar call at a time, which made the three Exp calls
// over [1024, 3512] logits cost as much as the output-head GEMM. Relative error <= 3e-7 over the
// whole float range (checked against float64 in the tests).
inline float tanh_f32(float x) {
  const float ax = x < 0.f ? -x : x;
  // |x| < 0.625: odd polynomial x (1 + c1 x^2 + ... + c5 x^10), least-squares fit, rel err 1e-7
  const float x2 = x * x;
  float p = -5.691985600e-03f;
  p = p * x2 + 2.062629163e-02f;
  p = p * x2 + -5.373531953e-02f;
  p = p * x2 + 1.333138198e-01f;
  p = p * x2 + -3.333328068e-01f;
  const float small = ax + ax * (p * x2);
  // |x| >= 0.625: 1 - 2 / (exp(2|x|) + 1) loses at most a bit here
  const float e = exp_f32(2.f * (ax > 9.1f ? 9.1f : ax));
  const float big = 1.f - 2.f / (e + 1.f);
  float t = ax < 0.625f ? small : big;
  t = ax >= 9.1f ? 1.f : t;  // tanh rounds to 1 in float32 from 9.01 on
  t = x < 0.f ? -t : t;
  return x != x ? x : t;
}

ARTIST_SIMD_CLONES void exp_loop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = exp_f32(x[i]);
}
ARTIST_SIMD_CLONES void tanh_loop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = tanh_f32(x[i]);
}
ARTIST_SIMD_CLONES void sigmoid_loop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = sigmoid_f32(x[i]);
}

}  // namespace

void unary_f32(UnaryOp op, const float* x, float* y, int64_t n) {
  parallel_for(n, 1024, n * kCostly, [&](int64_t lo, int64_t hi, int) {
    switch (op) {
      case UnaryOp::kExp:
        exp_loop(x + lo, y + lo, hi - lo);
        break;
      case UnaryOp::kTanh:
        tanh_loop(x + lo, y + lo, hi - lo);
        break;
      case UnaryOp::kSigmoid:
        sigmoid_loop(x + lo, y + lo, hi - lo);
        break;
      case UnaryOp::kLog:
        for (int64_t i = lo; i < hi; i++) y[i] = std::log(x[i]);
        break;
    }
  });
}

namespace {

// idx[0, dims) = the multi-index of row `row` of a row-major array whose leading dims are
// shape[0, dims): where a split chunk of rows starts its index counter.
inline void row_multi_index(int64_t row, const int64_t* shape, int dims, int64_t* idx) {
  for (int d = dims - 1; d >= 0; d--) {
    idx[d] = row % shape[d];
    row /= shape[d];
  }
}

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

// Rows [o0, o1) of the output viewed as [outer, n] (n = the last dim); with one row (outer == 1),
// elements [o0, o1) of it.
template <typename F>
void broadcast_loop(const BinaryShape& s, const float* a, const float* b, float* y, int64_t o0,
                    int64_t o1, F f) {
  // s.rank >= 1; the last dim is the inner loop; the others are walked with an index counter
  const int r = s.rank;
  const int64_t n = s.shape[r - 1];
  int64_t outer = 1;
  for (int d = 0; d < r - 1; d++) outer *= s.shape[d];
  if (outer == 1) {
    const int64_t sa = s.stride_a[r - 1], sb = s.stride_b[r - 1];
    inner(a + o0 * sa, sa, b + o0 * sb, sb, y + o0, o1 - o0, f);
    return;
  }
  int64_t idx[kMaxBinaryRank] = {0};
  int64_t oa = 0, ob = 0;
  row_multi_index(o0, s.shape, r - 1, idx);
  for (int d = 0; d < r - 1; d++) {
    oa += idx[d] * s.stride_a[d];
    ob += idx[d] * s.stride_b[d];
  }
  for (int64_t o = o0; o < o1; o++) {
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

namespace {

ARTIST_SIMD_CLONES void binary_range(BinaryOp op, const BinaryShape& s, const float* a,
                                     const float* b, float* y, int64_t o0, int64_t o1) {
  switch (op) {
    case BinaryOp::kAdd:
      broadcast_loop(s, a, b, y, o0, o1, [](float p, float q) { return p + q; });
      break;
    case BinaryOp::kSub:
      broadcast_loop(s, a, b, y, o0, o1, [](float p, float q) { return p - q; });
      break;
    case BinaryOp::kMul:
      broadcast_loop(s, a, b, y, o0, o1, [](float p, float q) { return p * q; });
      break;
    case BinaryOp::kDiv:
      broadcast_loop(s, a, b, y, o0, o1, [](float p, float q) { return p / q; });
      break;
    case BinaryOp::kSquaredDifference:
      broadcast_loop(s, a, b, y, o0, o1, [](float p, float q) { return (p - q) * (p - q); });
      break;
  }
}

}  // namespace

void binary_f32(BinaryOp op, const BinaryShape& s, const float* a, const float* b, float* y) {
  const int64_t n = s.shape[s.rank - 1];
  int64_t outer = 1;
  for (int d = 0; d < s.rank - 1; d++) outer *= s.shape[d];
  const int64_t units = outer == 1 ? n : outer;  // rows, or the elements of a single row
  const int64_t grain = outer == 1 ? 1024 : std::max<int64_t>(1, 1024 / std::max<int64_t>(1, n));
  parallel_for(units, grain, outer * n * kCheap, [&](int64_t lo, int64_t hi, int) {
    binary_range(op, s, a, b, y, lo, hi);
  });
}

namespace {

// Rows [a0, a1) of the reduction, columns [b0, b1) of each (all of them when B == 1).
ARTIST_SIMD_CLONES void reduce_sum_range(const float* x, float* y, int64_t a0, int64_t a1,
                                         int64_t R, int64_t B, int64_t b0, int64_t b1,
                                         float scale) {
  if (B == 1) {  // contiguous rows: accumulate each in double
    for (int64_t a = a0; a < a1; a++) {
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
  const int64_t nb = b1 - b0;
  for (int64_t a = a0; a < a1; a++) {  // strided: add whole [B] rows, vectorised along b
    float* out = y + a * B + b0;
    const float* base = x + a * R * B + b0;
    for (int64_t b = 0; b < nb; b++) out[b] = 0.f;
    for (int64_t r = 0; r < R; r++) {
      const float* row = base + r * B;
      for (int64_t b = 0; b < nb; b++) out[b] += row[b];
    }
    if (scale != 1.f) {
      for (int64_t b = 0; b < nb; b++) out[b] *= scale;
    }
  }
}

}  // namespace

void reduce_sum_f32(const float* x, float* y, int64_t A, int64_t R, int64_t B, float scale) {
  const int64_t work = A * R * B * kCheap;
  if (A == 1 && B > 1) {  // one strided reduction: split its columns
    parallel_for(B, 64, work, [&](int64_t lo, int64_t hi, int) {
      reduce_sum_range(x, y, 0, 1, R, B, lo, hi, scale);
    });
    return;
  }
  parallel_for(A, 1, work, [&](int64_t lo, int64_t hi, int) {
    reduce_sum_range(x, y, lo, hi, R, B, 0, B, scale);
  });
}

void transpose_f32(const float* x, float* y, int rank, const int64_t* out_shape,
                   const int64_t* in_strides) {
  // y is written in order; x is read through the permuted strides. The last output dim is the
  // inner loop: a block copy when it is also the input's last dim (stride 1).
  const int64_t n = out_shape[rank - 1];
  const int64_t s = in_strides[rank - 1];
  int64_t outer = 1;
  for (int d = 0; d < rank - 1; d++) outer *= out_shape[d];
  parallel_for(outer, std::max<int64_t>(1, 1024 / std::max<int64_t>(1, n)), outer * n * kCheap,
               [&](int64_t o0, int64_t o1, int) {
  int64_t idx[kMaxBinaryRank] = {0};
  int64_t off = 0;
  row_multi_index(o0, out_shape, rank - 1, idx);
  for (int d = 0; d < rank - 1; d++) off += idx[d] * in_strides[d];
  for (int64_t o = o0; o < o1; o++) {
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
  });
}

}  // namespace artist

namespace artist {
namespace {

ARTIST_SIMD_CLONES void exp_shift_loop(const float* x, float shift, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = exp_f32(x[i] - shift);
}

ARTIST_SIMD_CLONES void exp_shift_scale_loop(const float* x, float shift, float scale, float* y,
                                             int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = exp_f32(x[i] - shift) * scale;
}

double row_sum(const float* x, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; k++) s[k] += x[j + k];
  }
  double r = 0;
  for (; j < n; j++) r += x[j];
  for (int k = 0; k < 8; k++) r += s[k];
  return r;
}

std::vector<float>& row_scratch(size_t n) {
  static thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

}  // namespace

void sparse_softmax_xent_forward(const float* logits, const int32_t* labels, float* loss,
                                 float* lse, int64_t rows, int64_t classes) {
  parallel_for(rows, 1, rows * classes * kCostly, [&](int64_t lo, int64_t hi, int) {
    float* tmp = row_scratch(static_cast<size_t>(classes)).data();
    for (int64_t i = lo; i < hi; i++) {
      const float* x = logits + i * classes;
      float m = row_max(x, classes);
      if (!(m > -INFINITY && m < INFINITY)) m = 0.f;  // all -inf or an inf: let the sum say so
      exp_shift_loop(x, m, tmp, classes);
      const float l = m + static_cast<float>(std::log(row_sum(tmp, classes)));
      lse[i] = l;
      loss[i] = l - x[labels[i]];
    }
  });
}

void sparse_softmax_xent_backward(const float* logits, const int32_t* labels, const float* lse,
                                  const float* dy, float* dlogits, int64_t rows, int64_t classes) {
  parallel_for(rows, 1, rows * classes * kCostly, [&](int64_t lo, int64_t hi, int) {
    for (int64_t i = lo; i < hi; i++) {
      float* d = dlogits + i * classes;
      exp_shift_scale_loop(logits + i * classes, lse[i], dy[i], d, classes);
      d[labels[i]] -= dy[i];
    }
  });
}

void unsorted_segment_sum_f32(const float* x, const int32_t* ids, float* out, int64_t n,
                              int64_t segments, int64_t inner) {
  std::fill(out, out + segments * inner, 0.f);
  for (int64_t i = 0; i < n; i++) {
    const int64_t s = ids[i];
    if (s < 0 || s >= segments) continue;  // dropped, as in TensorFlow
    float* dst = out + s * inner;
    const float* src = x + i * inner;
    for (int64_t j = 0; j < inner; j++) dst[j] += src[j];
  }
}

}  // namespace artist

namespace artist {

namespace {

ARTIST_SIMD_CLONES void adamw_range(const float* __restrict x, const float* __restrict m,
                                         const float* __restrict v, const float* __restrict g,
                                         float* __restrict x_out, float* __restrict m_out,
                                         float* __restrict v_out, int64_t n,
                                         const AdamWParams& p) {
  const float b1 = p.beta1, b2 = p.beta2, eps = p.epsilon, sq = p.sqrt_bc2, ss = p.step_size;
  const float ob1 = p.one_minus_beta1, ob2 = p.one_minus_beta2, decay = p.decay_factor;
  const bool decays = decay != 1.f;
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float p0 = decays ? x[i] * decay : x[i];
    const float mi = m[i] * b1 + gi * ob1;
    const float vi = v[i] * b2 + (gi * gi) * ob2;
    const float denom = std::sqrt(vi) / sq + eps;
    x_out[i] = p0 - (mi / denom) * ss;
    m_out[i] = mi;
    v_out[i] = vi;
  }
}

}  // namespace

void adamw_update_f32(const float* x, const float* m, const float* v, const float* g, float* x_out,
                      float* m_out, float* v_out, int64_t n, const AdamWParams& p) {
  parallel_for(n, 1024, n * kCostly, [&](int64_t lo, int64_t hi, int) {
    adamw_range(x + lo, m + lo, v + lo, g + lo, x_out + lo, m_out + lo, v_out + lo, hi - lo, p);
  });
}

}  // namespace artist
