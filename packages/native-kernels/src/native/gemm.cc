// Batched SGEMM on top of the system BLAS (OpenBLAS on Linux, Accelerate on macOS).
#include "kernels.h"

#if defined(ARTIST_BLAS_ACCELERATE)
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

namespace artist {

#if defined(ARTIST_BLAS_OPENBLAS)
int blas_set_threads(int n) {
  if (n < 1) n = 1;
  openblas_set_num_threads(n);
  return openblas_get_num_threads();
}
int blas_get_threads() { return openblas_get_num_threads(); }
const char* blas_vendor() { return "openblas"; }
const char* blas_config() { return openblas_get_config(); }
const char* blas_corename() { return openblas_get_corename(); }
#else
// Accelerate sizes its own thread pool; the count cannot be set per process from here.
int blas_set_threads(int) { return 0; }
int blas_get_threads() { return 0; }
const char* blas_vendor() { return "accelerate"; }
const char* blas_config() { return ""; }
const char* blas_corename() { return ""; }
#endif

void sgemm_batched(const float* A, const float* B, float* C, int64_t batch, int64_t M, int64_t N,
                   int64_t K, bool transA, bool transB, const int64_t* offA, const int64_t* offB,
                   int64_t strideA, int64_t strideB, float alpha, float beta) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // empty contraction: C = beta * C
    for (int64_t i = 0; i < batch * M * N; i++) C[i] = beta == 0.f ? 0.f : beta * C[i];
    return;
  }
  const int lda = static_cast<int>(transA ? M : K);
  const int ldb = static_cast<int>(transB ? K : N);
  const CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
  for (int64_t i = 0; i < batch; i++) {
    const float* a = A + (offA ? offA[i] : i * strideA);
    const float* b = B + (offB ? offB[i] : i * strideB);
    float* c = C + i * M * N;
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(M), static_cast<int>(N),
                static_cast<int>(K), alpha, a, lda, b, ldb, beta, c, static_cast<int>(N));
  }
}

}  // namespace artist
