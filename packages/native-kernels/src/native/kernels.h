// Native CPU kernels for @artist-ts/native-kernels: BLAS-backed GEMM and NHWC convolutions.
// Every function works on caller-owned float32 memory (the wasm heap or a cpu-backend array) and
// never allocates the output. Shapes were validated by the N-API layer (artist_native.cc).
#pragma once

#include <cstdint>

namespace artist {

// Thread control and identification of the linked BLAS.
int blas_set_threads(int n);   // returns the thread count now in effect
int blas_get_threads();
// GEMMs of at least `work` multiply-adds (M * N * K) run on the threads set above; smaller ones on
// one thread, where the thread hand-off costs more than it saves. Returns the threshold in effect.
int64_t blas_set_parallel_threshold(int64_t work);
int64_t blas_get_parallel_threshold();
// Sets the BLAS thread count for a GEMM of `work` multiply-adds (called before every cblas call).
void blas_threads_for(int64_t work);
const char* blas_vendor();     // "openblas" | "accelerate"
const char* blas_config();     // build string reported by the library ("" when unknown)
const char* blas_corename();   // kernel family chosen at run time ("" when unknown)

// C[i] = alpha * op(A[i]) . op(B[i]) + beta * C[i] for i in [0, batch), row-major.
// A[i] starts at A + offA[i] (or A + i * strideA when offA is null); same for B; C[i] = C + i*M*N.
// op(A[i]) is M x K, op(B[i]) is K x N.
void sgemm_batched(const float* A, const float* B, float* C, int64_t batch, int64_t M, int64_t N,
                   int64_t K, bool transA, bool transB, const int64_t* offA, const int64_t* offB,
                   int64_t strideA, int64_t strideB, float alpha, float beta);

// NHWC input [n, h, w, ci], HWIO filter [fh, fw, ci, co], NHWC output [n, oh, ow, co].
struct ConvParams {
  int64_t n, h, w, ci, fh, fw, co, oh, ow, sh, sw, pt, pl, dh, dw;
};

void conv2d_forward(const ConvParams& p, const float* x, const float* filter, float* y);
void conv2d_backprop_input(const ConvParams& p, const float* dy, const float* filter, float* dx);
void conv2d_backprop_filter(const ConvParams& p, const float* x, const float* dy, float* dfilter);

enum class UnaryOp : int { kExp = 0, kTanh = 1, kSigmoid = 2, kLog = 3 };
void unary_f32(UnaryOp op, const float* x, float* y, int64_t n);

// Output shape and element strides of a and b (0 along broadcast dims), dims already coalesced.
constexpr int kMaxBinaryRank = 6;
struct BinaryShape {
  int rank;
  int64_t shape[kMaxBinaryRank];
  int64_t stride_a[kMaxBinaryRank];
  int64_t stride_b[kMaxBinaryRank];
};
enum class BinaryOp : int { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kSquaredDifference = 4 };
void binary_f32(BinaryOp op, const BinaryShape& s, const float* a, const float* b, float* y);

// y = transpose(x): y has shape out_shape; in_strides[d] is the x stride of output dim d.
void transpose_f32(const float* x, float* y, int rank, const int64_t* out_shape,
                   const int64_t* in_strides);

// y[a, b] = scale * sum_r x[a, r, b] for x viewed as [A, R, B].
void reduce_sum_f32(const float* x, float* y, int64_t A, int64_t R, int64_t B, float scale);

// Sparse softmax cross-entropy over [rows, classes] logits and int32 labels in [0, classes):
//   forward:  lse[i] = log sum_j exp(logits[i, j]), loss[i] = lse[i] - logits[i, labels[i]]
//   backward: dlogits[i, j] = dy[i] * (exp(logits[i, j] - lse[i]) - [j == labels[i]])
// Labels were range-checked by the caller.
void sparse_softmax_xent_forward(const float* logits, const int32_t* labels, float* loss,
                                 float* lse, int64_t rows, int64_t classes);
void sparse_softmax_xent_backward(const float* logits, const int32_t* labels, const float* lse,
                                  const float* dy, float* dlogits, int64_t rows, int64_t classes);

// out[s, :] = sum of x[i, :] over i with ids[i] == s (x is [n, inner], out [segments, inner]);
// ids outside [0, segments) are dropped.
void unsorted_segment_sum_f32(const float* x, const int32_t* ids, float* out, int64_t n,
                              int64_t segments, int64_t inner);

// One Adam step in the operation order of tf.train.adam (AdamOptimizer.applyGradients):
//   m' = m b1 + g (1 - b1);  v' = v b2 + g^2 (1 - b2)
//   x' = ((m' / c1) / (sqrt(v' / c2) + epsilon)) (-lr) + x,  c1 = 1 - b1^t, c2 = 1 - b2^t
// one_minus_beta* are computed in double from the caller's betas (as tfjs and the runtime's
// op-by-op updates do), not as 1.f - float(beta): for beta2 = 0.999 the two differ by 5e-5 relative.
struct AdamParams {
  float lr, beta1, beta2, epsilon, c1, c2, one_minus_beta1, one_minus_beta2;
};
void adam_update_f32(const float* x, const float* m, const float* v, const float* g, float* x_out,
                     float* m_out, float* v_out, int64_t n, const AdamParams& p);

// One AdamW step in the operation order of @artist-ts/runtime's AdamW (PyTorch's formulation):
//   p0 = p * decay_factor (skipped when it is 1);  m' = m b1 + g (1 - b1);  v' = v b2 + g^2 (1 - b2)
//   p' = p0 - (m' / (sqrt(v') / sqrt_bc2 + epsilon)) * step_size
struct AdamWParams {
  float beta1, beta2, epsilon, decay_factor, sqrt_bc2, step_size, one_minus_beta1, one_minus_beta2;
};
void adamw_update_f32(const float* x, const float* m, const float* v, const float* g, float* x_out,
                      float* m_out, float* v_out, int64_t n, const AdamWParams& p);

}  // namespace artist
