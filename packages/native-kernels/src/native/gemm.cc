// Batched SGEMM on top of the system BLAS (OpenBLAS on Linux, Accelerate on macOS).
#include "kernels.h"
#include "parallel.h"

#if defined(ARTIST_BLAS_ACCELERATE)
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

namespace artist {

// The BLAS always runs single-threaded: large GEMMs are split across artist's own pool
// (parallel.h), whose idle workers sleep instead of spinning.
int64_t blas_set_parallel_threshold(int64_t work) { return pool_set_parallel_threshold(work); }
int64_t blas_get_parallel_threshold() { return pool_parallel_threshold(); }

#if defined(ARTIST_BLAS_OPENBLAS)
int blas_set_threads(int n) {
  openblas_set_num_threads(1);
  return pool_set_threads(n);
}
const char* blas_vendor() { return "openblas"; }
const char* blas_config() { return openblas_get_config(); }
const char* blas_corename() { return openblas_get_corename(); }
#else
// Accelerate sizes its own thread pool; the count cannot be set per process from here, so the
// pool splits nothing by default.
int blas_set_threads(int n) { return pool_set_threads(n); }
const char* blas_vendor() { return "accelerate"; }
const char* blas_config() { return ""; }
const char* blas_corename() { return ""; }
#endif
int blas_get_threads() { return pool_threads(); }

void sgemm_batched(const float* A, const float* B, float* C, int64_t batch, int64_t M, int64_t N,
                   int64_t K, bool transA, bool transB, const int64_t* offA, const int64_t* offB,
                   int64_t strideA, int64_t strideB, float alpha, float beta) {
  if (batch == 0 || M == 0 || N == 0) return;  // batch 0 would still run item 0 below
  if (K == 0) {  // empty contraction: C = beta * C
    for (int64_t i = 0; i < batch * M * N; i++) C[i] = beta == 0.f ? 0.f : beta * C[i];
    return;
  }
  const int lda = static_cast<int>(transA ? M : K);
  const int ldb = static_cast<int>(transB ? K : N);
  const CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
  // C rows [i0, i1) x columns [j0, j1) of batch item i
  auto block = [&](int64_t i, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    const float* a = A + (offA ? offA[i] : i * strideA) + (transA ? i0 : i0 * K);
    const float* b = B + (offB ? offB[i] : i * strideB) + (transB ? j0 * K : j0);
    float* c = C + i * M * N + i0 * N + j0;
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(i1 - i0), static_cast<int>(j1 - j0),
                static_cast<int>(K), alpha, a, lda, b, ldb, beta, c, static_cast<int>(N));
  };
  const int64_t work = batch * M * N * K;
  // Split the batch when it has enough items, else the longer of M and N (panels of >= 16).
  int chunks = pool_chunks_for(batch, 1, work);
  if (chunks > 1 || batch > 1) {
    parallel_chunks(batch, chunks, [&](int64_t b0, int64_t b1, int) {
      for (int64_t i = b0; i < b1; i++) block(i, 0, M, 0, N);
    });
    return;
  }
  if (M >= N) {
    parallel_for(M, 16, work, [&](int64_t i0, int64_t i1, int) { block(0, i0, i1, 0, N); });
  } else {
    parallel_for(N, 16, work, [&](int64_t j0, int64_t j1, int) { block(0, 0, M, j0, j1); });
  }
}

}  // namespace artist
