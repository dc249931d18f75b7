// Batched SGEMM on top of the system BLAS (OpenBLAS on Linux, Accelerate on macOS).
#include "kernels.h"

#if defined(ARTIST_BLAS_ACCELERATE)
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

namespace artist {

namespace {
// Threads for large GEMMs, the size that counts as large, and the count last given to the BLAS
// (so the per-call switch is a compare unless the size class changes).
int g_threads = 1;
int64_t g_parallel_work = int64_t(1) << 24;
int g_current = -1;
}  // namespace

int64_t blas_set_parallel_threshold(int64_t work) {
  g_parallel_work = work < 0 ? 0 : work;
  return g_parallel_work;
}
int64_t blas_get_parallel_threshold() { return g_parallel_work; }

#if defined(ARTIST_BLAS_OPENBLAS)
int blas_set_threads(int n) {
  if (n < 1) n = 1;
  openblas_set_num_threads(n);
  g_threads = openblas_get_num_threads();
  g_current = g_threads;
  return g_threads;
}
int blas_get_threads() { return g_threads; }
void blas_threads_for(int64_t work) {
  const int want = work >= g_parallel_work ? g_threads : 1;
  if (want != g_current) {
    openblas_set_num_threads(want);
    g_current = want;
  }
}
const char* blas_vendor() { return "openblas"; }
const char* blas_config() { return openblas_get_config(); }
const char* blas_corename() { return openblas_get_corename(); }
#else
// Accelerate sizes its own thread pool; the count cannot be set per process from here.
int blas_set_threads(int) { return 0; }
int blas_get_threads() { return 0; }
void blas_threads_for(int64_t) {}
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
  blas_threads_for(M * N * K);
  for (int64_t i = 0; i < batch; i++) {
    const float* a = A + (offA ? offA[i] : i * strideA);
    const float* b = B + (offB ? offB[i] : i * strideB);
    float* c = C + i * M * N;
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(M), static_cast<int>(N),
                static_cast<int>(K), alpha, a, lda, b, ldb, beta, c, static_cast<int>(N));
  }
}

}  // namespace artist
