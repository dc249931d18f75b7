// The SGEMM dispatch (sgemm.h) and batched SGEMM. sgemm() calls the system BLAS the addon was
// linked against (OpenBLAS on Linux, Accelerate on macOS) or, in a build without one (or after
// gemm_use_portable(true)), the addon's own portable SGEMM (portable_sgemm.cc).
#include <atomic>

#include "kernels.h"
#include "parallel.h"
#include "sgemm.h"

#if defined(ARTIST_BLAS_ACCELERATE)
#include <Accelerate/Accelerate.h>
#define ARTIST_HAS_BLAS 1
#elif defined(ARTIST_BLAS_OPENBLAS)
#include <cblas.h>
#define ARTIST_HAS_BLAS 1
#endif

namespace artist {

namespace {
#if defined(ARTIST_HAS_BLAS)
std::atomic<bool> g_portable{false};
#else
std::atomic<bool> g_portable{true};
#endif
}  // namespace

bool gemm_has_blas() {
#if defined(ARTIST_HAS_BLAS)
  return true;
#else
  return false;
#endif
}

bool gemm_use_portable(bool portable) {
  if (gemm_has_blas()) g_portable.store(portable);
  return g_portable.load();
}

const char* gemm_in_use() { return g_portable.load() ? "portable" : blas_vendor(); }

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
#if defined(ARTIST_HAS_BLAS)
  if (!g_portable.load(std::memory_order_relaxed)) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A,
                static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
    return;
  }
#endif
  portable_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

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
#elif defined(ARTIST_BLAS_ACCELERATE)
// Accelerate sizes its own thread pool; the count cannot be set per process from here, so the
// pool splits nothing by default.
int blas_set_threads(int n) { return pool_set_threads(n); }
const char* blas_vendor() { return "accelerate"; }
const char* blas_config() { return ""; }
const char* blas_corename() { return ""; }
#else
int blas_set_threads(int n) { return pool_set_threads(n); }
const char* blas_vendor() { return "none"; }
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
  const int64_t lda = transA ? M : K;
  const int64_t ldb = transB ? K : N;
  // C rows [i0, i1) x columns [j0, j1) of batch item i
  auto block = [&](int64_t i, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    const float* a = A + (offA ? offA[i] : i * strideA) + (transA ? i0 : i0 * K);
    const float* b = B + (offB ? offB[i] : i * strideB) + (transB ? j0 * K : j0);
    float* c = C + i * M * N + i0 * N + j0;
    sgemm(transA, transB, i1 - i0, j1 - j0, K, alpha, a, lda, b, ldb, beta, c, N);
  };
  if (skinny_gemm_applies(M, N, K, transA, transB)) {
    for (int64_t i = 0; i < batch; i++) {
      skinny_gemm(A + (offA ? offA[i] : i * strideA), K, B + (offB ? offB[i] : i * strideB), N,
                  C + i * M * N, N, M, N, K, alpha, beta);
    }
    return;
  }
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
