// Fork-join pool (see parallel.h).
#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define ARTIST_PAUSE() _mm_pause()
#else
#define ARTIST_PAUSE() std::this_thread::yield()
#endif

namespace artist {
namespace {

// Spin this long for the next job (or for workers to finish) before blocking. The kernels of one
// training step follow each other within tens of microseconds, and waking a sleeping worker costs
// about as much in a VM: with a 50 us spin the tiny GPT step took 0.12 s, with 1 ms 0.09 s.
constexpr auto kSpin = std::chrono::microseconds(1000);

struct Pool {
  std::mutex mu;
  std::condition_variable wake;
  std::condition_variable done_cv;
  std::vector<std::thread> workers;  // never joined: the pool lives until the process exits
  // Atomic: worker_threads may set them while another thread reads them.
  std::atomic<int> threads{1};
  std::atomic<int64_t> threshold{int64_t(1) << 21};
  // The current job: `claim` packs [job id: 32 | chunks: 16 | next chunk to claim: 16], so a
  // worker still looking at a finished job can never claim (or miscount) a chunk of the next one.
  std::atomic<uint64_t> claim{0};
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n = 0;
  std::atomic<int> pending{0};  // chunks claimed-or-not that have not finished
  std::mutex busy;              // one job at a time (worker_threads may share the addon)

  static uint32_t job_of(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

  // Claims and runs chunks of the current job until none is left. A claimed chunk keeps its job
  // alive (pending > 0), so fn and n stay valid while it runs.
  void drain() {
    for (;;) {
      uint64_t v = claim.load(std::memory_order_acquire);
      const int c = static_cast<int>(v & 0xffff);
      const int chunks = static_cast<int>((v >> 16) & 0xffff);
      if (c >= chunks) return;
      if (!claim.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
      const int64_t begin = n * c / chunks;
      const int64_t end = n * (c + 1) / chunks;
      if (begin < end) (*fn)(begin, end, c);
      if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu);
        done_cv.notify_all();
      }
    }
  }

  // Worker `index` takes chunks only while index < threads - 1: after the thread count shrinks,
  // the workers beyond it sleep through every job instead of spinning and competing for cores.
  bool active(int index) const { return index < threads.load(std::memory_order_relaxed) - 1; }

  void worker_loop(int index) {
    uint32_t seen = job_of(claim.load());
    for (;;) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      while (active(index) && job_of(claim.load(std::memory_order_acquire)) == seen &&
             std::chrono::steady_clock::now() < until) {
        ARTIST_PAUSE();
      }
      if (job_of(claim.load(std::memory_order_acquire)) == seen) {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait(lock, [&] { return job_of(claim.load()) != seen; });
      }
      seen = job_of(claim.load());
      if (active(index)) drain();
    }
  }

  void ensure_workers() {
    while (static_cast<int>(workers.size()) < threads.load() - 1) {
      const int index = static_cast<int>(workers.size());
      workers.emplace_back([this, index] { worker_loop(index); });
    }
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // intentionally leaked: workers outlive static destruction
  return *p;
}

// True while this thread runs a pool job (as its caller): a nested parallel_chunks runs inline
// instead of try_lock()ing `busy` again, which is undefined for a mutex the thread already owns.
thread_local bool in_job = false;

}  // namespace

int pool_set_threads(int n) {
  Pool& p = pool();
  std::lock_guard<std::mutex> job(p.busy);
  // Workers beyond the new count stay parked (see active()); pool_chunks_for never exceeds it.
  p.threads.store(std::max(1, std::min(n, 1024)));
  return p.threads.load();
}

int pool_threads() { return pool().threads.load(); }

int64_t pool_set_parallel_threshold(int64_t work) {
  pool().threshold.store(std::max<int64_t>(0, work));
  return pool().threshold.load();
}

int64_t pool_parallel_threshold() { return pool().threshold.load(); }

int pool_chunks_for(int64_t n, int64_t grain, int64_t work) {
  const Pool& p = pool();
  const int threads = p.threads.load(std::memory_order_relaxed);
  if (threads <= 1 || work < p.threshold.load(std::memory_order_relaxed) || n <= 1) return 1;
  const int64_t by_grain = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
  return static_cast<int>(std::min<int64_t>({threads, by_grain, n}));
}

void parallel_chunks(int64_t n, int chunks, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  Pool& p = pool();
  // Exactly the caller's chunks (callers size per-chunk buffers from pool_chunks_for): never fewer
  // because the thread count changed in between, and the same ranges whoever runs them.
  chunks = static_cast<int>(std::min<int64_t>({std::max(1, chunks), n, 0xffff}));
  if (chunks == 1) {
    fn(0, n, 0);
    return;
  }
  std::unique_lock<std::mutex> job(p.busy, std::defer_lock);
  if (in_job || p.threads.load() <= 1 || !job.try_lock()) {
    // Nested, single-threaded, or another thread (a worker_thread) holds the pool: run every chunk
    // here, in order, so results match the parallel run.
    for (int c = 0; c < chunks; c++) fn(n * c / chunks, n * (c + 1) / chunks, c);
    return;
  }
  in_job = true;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    p.ensure_workers();
    p.fn = &fn;
    p.n = n;
    p.pending.store(chunks);
    const uint64_t id = (p.claim.load() >> 32) + 1;
    p.claim.store((id << 32) | (uint64_t(chunks) << 16), std::memory_order_release);
  }
  p.wake.notify_all();
  p.drain();  // the caller claims chunks too (usually chunk 0 first)
  const auto until = std::chrono::steady_clock::now() + kSpin;
  while (p.pending.load(std::memory_order_acquire) != 0 &&
         std::chrono::steady_clock::now() < until) {
    ARTIST_PAUSE();
  }
  if (p.pending.load() != 0) {
    std::unique_lock<std::mutex> lock(p.mu);
    p.done_cv.wait(lock, [&] { return p.pending.load() == 0; });
  }
  in_job = false;
}

void parallel_sum(int64_t n, int chunks, int64_t size, float* out,
                  const std::function<void(int64_t, int64_t, float*)>& fn) {
  if (n <= 0) return;
  chunks = static_cast<int>(std::min<int64_t>({std::max(1, chunks), n, 0xffff}));
  std::vector<float> parts(static_cast<size_t>((chunks - 1) * size));
  parallel_chunks(n, chunks, [&](int64_t lo, int64_t hi, int c) {
    fn(lo, hi, c == 0 ? out : parts.data() + (c - 1) * size);
  });
  for (int c = 1; c < chunks; c++) {
    const float* part = parts.data() + (c - 1) * size;
    for (int64_t i = 0; i < size; i++) out[i] += part[i];
  }
}

}  // namespace artist
