// The one single-threaded SGEMM every kernel calls (gemm.cc, conv.cc, winograd.cc, fused_ops.cc):
// the system BLAS when the addon was linked against one (OpenBLAS on Linux, Accelerate on macOS),
// else the addon's own packed, cache-blocked SGEMM (portable_sgemm.cc). Callers split large jobs
// across the pool (parallel.h) themselves, so neither implementation starts threads.
#pragma once

#include <cstdint>

namespace artist {

// C[M, N] = alpha op(A) op(B) + beta C, row-major; op(A) is M x K, op(B) is K x N. beta == 0
// overwrites C without reading it (NaN in C does not propagate), as BLAS does.
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The same contract, always on the addon's own implementation (portable_sgemm.cc).
void portable_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                    float* C, int64_t ldc);

// Micro-kernel the portable SGEMM uses: the one picked for this CPU at load time ("avx2-fma" or
// "generic"), or "generic" after portable_sgemm_use_generic(true) (tests of the fallback kernel on
// AVX2 machines). Returns the kernel now in use.
const char* portable_sgemm_kernel();
const char* portable_sgemm_use_generic(bool generic);

// Which SGEMM sgemm() calls: "openblas", "accelerate" or "portable". With a BLAS linked in,
// gemm_use_portable(true) switches every kernel to the portable SGEMM (tests and benchmarks
// compare the two in one process); without one the portable SGEMM is the only choice.
const char* gemm_in_use();
bool gemm_use_portable(bool portable);  // returns whether the portable SGEMM is now in use
bool gemm_has_blas();

}  // namespace artist
