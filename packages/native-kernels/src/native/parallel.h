// A small fork-join pool for the native kernels. The BLAS itself always runs on one thread per
// call; kernels split their work (GEMM rows or batch items, convolution images, elementwise rows)
// across this pool instead. Workers block on a condition variable between jobs after a short spin,
// so an idle pool takes no CPU away from the JS thread (OpenBLAS's own pool busy-waits, which on a
// 2-core machine slowed every other kernel down).
#pragma once

#include <cstdint>
#include <functional>

namespace artist {

// Threads that run parallel_for bodies, the calling thread included (>= 1). Returns the count.
int pool_set_threads(int n);
int pool_threads();

// Work (in multiply-adds or element operations, as each kernel counts it) from which kernels split
// across the pool; smaller jobs run on the calling thread, where the hand-off costs more than it saves.
int64_t pool_set_parallel_threshold(int64_t work);
int64_t pool_parallel_threshold();

// How many chunks parallel_for(n, grain, ...) would use for `work` units: 1 below the threshold.
int pool_chunks_for(int64_t n, int64_t grain, int64_t work);

// Calls fn(begin, end, chunk) on `chunks` (capped at n) contiguous, near-equal, non-empty ranges
// covering [0, n) (chunk in [0, chunks)); the calling thread runs chunks too. Blocks until all are
// done. Nested calls, and calls while another thread (a worker_thread) holds the pool, run the same
// chunks one after another on the calling thread, so per-chunk partial sums come out the same.
void parallel_chunks(int64_t n, int chunks, const std::function<void(int64_t, int64_t, int)>& fn);

// A sum over [0, n) split into `chunks` ranges with a result that does not depend on which thread
// ran which range: fn(begin, end, dst) writes (does not add) the partial result of its range, `size`
// floats, into dst; chunk 0 writes into `out`, the others into buffers of their own, which are then
// added into `out` in chunk order.
void parallel_sum(int64_t n, int chunks, int64_t size, float* out,
                  const std::function<void(int64_t, int64_t, float*)>& fn);

// parallel_chunks with pool_chunks_for(n, grain, work) chunks.
inline void parallel_for(int64_t n, int64_t grain, int64_t work,
                         const std::function<void(int64_t, int64_t, int)>& fn) {
  parallel_chunks(n, pool_chunks_for(n, grain, work), fn);
}

}  // namespace artist
