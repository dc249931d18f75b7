// Native CPU kernels for @artist-ts/native-kernels: GEMM-based NHWC convolutions and the rest.
// Every function works on caller-owned float32 memory (the wasm heap or a cpu-backend array) and
// never allocates the output. Shapes were validated by the N-API bindings (bind_*.cc).
#pragma once

#include <cstdint>

namespace artist {

// Thread control and identification of the linked BLAS. The BLAS runs single-threaded; `threads`
// is the size of artist's own pool (parallel.h), which large GEMMs, convolutions and the fused
// kernels split their work across.
int blas_set_threads(int n);   // returns the thread count now in effect
int blas_get_threads();
// Jobs of at least `work` multiply-adds (M * N * K for a GEMM) are split across the pool; smaller
// ones run on the calling thread, where the hand-off costs more than it saves.
int64_t blas_set_parallel_threshold(int64_t work);
int64_t blas_get_parallel_threshold();
const char* blas_vendor();     // "openblas" | "accelerate" | "none" (sgemm.h: the GEMM in use)
const char* blas_config();     // build string reported by the library ("" when unknown)
const char* blas_corename();   // kernel family chosen at run time ("" when unknown)

// Best read bandwidth in GB/s over `reps` passes of a `bytes` buffer, split across the pool.
double memory_read_bandwidth(int64_t bytes, int reps);

// Few-row GEMM (decoding): C [M, N] = alpha * A [M, K] B [K, N] + beta * C, B streamed once,
// columns split across the pool (skinny_gemm.cc). Used by sgemm_batched when it applies.
constexpr int64_t kSkinnyMaxRows = 4;
bool skinny_gemm_applies(int64_t M, int64_t N, int64_t K, bool transA, bool transB);
void skinny_gemm(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                 int64_t M, int64_t N, int64_t K, float alpha, float beta);

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

// bias (optional, co floats) is added to every output pixel as each block of outputs is written.
void conv2d_forward(const ConvParams& p, const float* x, const float* filter, float* y,
                    const float* bias = nullptr);
void conv2d_backprop_input(const ConvParams& p, const float* dy, const float* filter, float* dx);
void conv2d_backprop_filter(const ConvParams& p, const float* x, const float* dy, float* dfilter);

// Nearest-neighbour resize (resize.cc): y[b, r, c, :] = x[b, rows[r], cols[c], :] for x
// [batch, in_h, in_w, depth] and y [batch, out_h, out_w, depth]; the gradient zeroes dx and adds
// every dy pixel into the x pixel the forward pass read. rows/cols were range-checked by the caller.
void resize_nearest_f32(const float* x, float* y, int64_t batch, int64_t in_h, int64_t in_w,
                        int64_t out_h, int64_t out_w, int64_t depth, const int32_t* rows,
                        const int32_t* cols);
void resize_nearest_grad_f32(const float* dy, float* dx, int64_t batch, int64_t in_h, int64_t in_w,
                             int64_t out_h, int64_t out_w, int64_t depth, const int32_t* rows,
                             const int32_t* cols);

// Winograd convolutions (winograd.cc): 3x3 filters, stride 1, dilation 1, at least 8 input and
// output channels and 16 output pixels per image. Forward F(4x4, 3x3) (F(2x2, 3x3) with fewer than
// 64 4x4 tiles), filter gradient F(3x3, 2x2).
bool winograd_applies(const ConvParams& p);
void winograd_forward(const ConvParams& p, const float* x, const float* filter, float* y,
                      const float* bias);
void winograd_backprop_filter(const ConvParams& p, const float* x, const float* dy, float* dfilter);

// GroupNorm forward on channels-last x [batch, hw, c] (PyTorch semantics: `groups` contiguous groups
// of c / groups channels, biased variance over hw and the group's channels), then swish
// y = a sigmoid(a) when `swish` (group_norm.cc). groups divides c (checked by the caller).
void group_norm_forward_f32(const float* x, const float* gamma, const float* beta, float* y,
                            int64_t batch, int64_t hw, int64_t c, int64_t groups, float eps,
                            bool swish);

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

// One AdamW step in the operation order of @artist-ts/runtime's AdamW (PyTorch's formulation):
//   p0 = p * decay_factor (skipped when it is 1);  m' = m b1 + g (1 - b1);  v' = v b2 + g^2 (1 - b2)
//   p' = p0 - (m' / (sqrt(v') / sqrt_bc2 + epsilon)) * step_size
// one_minus_beta* are computed in double from the caller's betas (as the runtime's op-by-op update
// does), not as 1.f - float(beta): for beta2 = 0.999 the two differ by 5e-5 relative.
struct AdamWParams {
  float beta1, beta2, epsilon, decay_factor, sqrt_bc2, step_size, one_minus_beta1, one_minus_beta2;
};
void adamw_update_f32(const float* x, const float* m, const float* v, const float* g, float* x_out,
                      float* m_out, float* v_out, int64_t n, const AdamWParams& p);

// ---- Fused transformer kernels (fused_ops.cc), split across the pool; results do not depend on
// the thread count.

// GELU: kExact y = x Phi(x); kTanh y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
// evaluated as x sigmoid(2u). Both keep relative accuracy in the negative tail (<= 4e-6 and
// <= 1.2e-5 against float64 over [-12, 12]). Backward: dx = dy * gelu'(x).
enum class GeluForm : int { kExact = 0, kTanh = 1 };
void gelu_forward_f32(const float* x, float* y, int64_t n, GeluForm form);
void gelu_backward_f32(const float* x, const float* dy, float* dx, int64_t n, GeluForm form);

// LayerNorm over the last axis of x [rows, dim] (biased variance):
//   mean[r], rstd[r] = 1 / sqrt(var[r] + eps), y = (x - mean) rstd gamma + beta
// Backward, with xhat = (x - mean) rstd and g = dy gamma:
//   dx = rstd (g - mean_j(g) - xhat mean_j(g xhat)); dgamma = sum_r dy xhat; dbeta = sum_r dy
void layer_norm_forward_f32(const float* x, const float* gamma, const float* beta, float* y,
                            float* mean, float* rstd, int64_t rows, int64_t dim, float eps);
void layer_norm_backward_f32(const float* x, const float* gamma, const float* mean,
                             const float* rstd, const float* dy, float* dx, float* dgamma,
                             float* dbeta, int64_t rows, int64_t dim);

// Causal self-attention on q, k, v [batch, t, heads * hd] (head h = columns h*hd .. h*hd+hd-1):
// per (b, h), S = scale Q K^T masked above the diagonal, P = softmax(S) [batch, heads, t, t]
// (zeros above the diagonal), y[b, :, head h] = P V. Backward: dV = P^T dY, dP = dY V^T,
// dS = P (dP - rowsum(dP P)), dQ = scale dS K, dK = scale dS^T Q.
void causal_attention_forward_f32(const float* q, const float* k, const float* v, float* y,
                                  float* p, int64_t batch, int64_t t, int64_t heads, int64_t hd,
                                  float scale);
void causal_attention_backward_f32(const float* q, const float* k, const float* v, const float* p,
                                   const float* dy, float* dq, float* dk, float* dv, int64_t batch,
                                   int64_t t, int64_t heads, int64_t hd, float scale);

// Decoding attention against a key/value cache written in place (decode_attention.cc): qkv
// [batch, 3 * heads * hd] holds q, k, v of one new position per row (heads side by side, q first);
// k_cache, v_cache [batch, heads, capacity, hd] hold positions [0, position). Writes each row's k, v
// at `position`, then y[b, h*hd .. h*hd+hd) = softmax(scale q_h K[b, h, 0..position]^T) V[b, h, ..].
void decode_attention_f32(const float* qkv, float* k_cache, float* v_cache, float* y,
                          int64_t batch, int64_t heads, int64_t hd, int64_t capacity,
                          int64_t position, float scale);

// dst[r * dst_stride + c] = src[r * src_stride + c] for r < rows, c < cols (Concat, row blocks).
void copy_2d_f32(const float* src, float* dst, int64_t rows, int64_t cols, int64_t src_stride,
                 int64_t dst_stride);

}  // namespace artist
