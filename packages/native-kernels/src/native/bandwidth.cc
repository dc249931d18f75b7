// Memory read bandwidth of this machine as the pool's threads see it: the ceiling of every
// bandwidth-bound kernel (token-by-token decoding reads all weights per token). Benchmarks print
// the fraction of it a workload reaches.
#include <algorithm>
#include <chrono>
#include <vector>

#include "kernels.h"
#include "parallel.h"

namespace artist {

namespace {
typedef float v4f __attribute__((vector_size(16)));  // SSE2 / NEON: every target has it
}  // namespace

double memory_read_bandwidth(int64_t bytes, int reps) {
  const int64_t n = std::max<int64_t>(1024, bytes / static_cast<int64_t>(sizeof(float)) / 64 * 64);
  std::vector<float> buf(static_cast<size_t>(n), 1.f);  // written once: pages are resident
  const int chunks = pool_chunks_for(n / 64, 1, int64_t(1) << 40);
  std::vector<float> sums(static_cast<size_t>(chunks) * 16);
  double best = 0;
  for (int r = 0; r < std::max(1, reps); r++) {
    const auto t0 = std::chrono::steady_clock::now();
    parallel_chunks(n / 64, chunks, [&](int64_t b0, int64_t b1, int c) {
      // four independent vector sums per 64-float block: the loads, not the adds, set the pace
      v4f s[4] = {};
      for (int64_t b = b0; b < b1; b++) {
        const v4f* p = reinterpret_cast<const v4f*>(buf.data() + b * 64);
        for (int i = 0; i < 16; i += 4) {
          s[0] += p[i];
          s[1] += p[i + 1];
          s[2] += p[i + 2];
          s[3] += p[i + 3];
        }
      }
      for (int i = 0; i < 16; i++) sums[c * 16 + i] = s[i / 4][i % 4];
    });
    const double dt =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(n) * sizeof(float) / dt / 1e9);
  }
  float total = 0;
  for (float v : sums) total += v;
  return total < 0 ? -best : best;  // sums are positive: keeps the reads from being optimised away
}

}  // namespace artist
