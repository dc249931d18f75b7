// N-API bindings of the GEMM family: BLAS / portable SGEMM choice and identification, the pool's
// thread count and parallel threshold, and the batched SGEMM (gemm.cc, sgemm.h).
#include <string>
#include <vector>

#include "kernels.h"
#include "napi_args.h"
#include "sgemm.h"

namespace artist_napi {
namespace {

// blasInfo() -> { vendor, config, corename, threads, parallelThreshold, gemm, gemmKernel }
napi_value BlasInfo(napi_env env, napi_callback_info) {
  napi_value obj;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "vendor", make_str(env, artist::blas_vendor()));
  napi_set_named_property(env, obj, "config", make_str(env, artist::blas_config()));
  napi_set_named_property(env, obj, "corename", make_str(env, artist::blas_corename()));
  napi_set_named_property(env, obj, "threads", make_int(env, artist::blas_get_threads()));
  napi_set_named_property(env, obj, "parallelThreshold",
                          make_int(env, artist::blas_get_parallel_threshold()));
  napi_set_named_property(env, obj, "gemm", make_str(env, artist::gemm_in_use()));
  napi_set_named_property(env, obj, "gemmKernel",
                          make_str(env, artist::portable_sgemm_kernel()));
  return obj;
}

// setThreads(n) -> threads now in effect (0 when the BLAS does not expose it)
napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, argv, 1)) return nullptr;
  int64_t n = 0;
  if (!get_i64(env, argv[0], "threads", &n)) return nullptr;
  if (n < 1 || n > 1024) {
    fail(env, "threads must be in [1, 1024]", true);
    return nullptr;
  }
  return make_int(env, artist::blas_set_threads(static_cast<int>(n)));
}

// setParallelThreshold(work) -> threshold in effect: GEMMs of at least `work` multiply-adds use
// the pool's threads, smaller ones run on the calling thread
napi_value SetParallelThreshold(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, argv, 1)) return nullptr;
  int64_t w = 0;
  if (!get_i64(env, argv[0], "work", &w)) return nullptr;
  return make_int(env, artist::blas_set_parallel_threshold(w));
}

// useGemm(kind: 'blas' | 'portable' | 'generic') -> the SGEMM now in use ('openblas' | 'accelerate'
// | 'portable'); 'generic' is the portable SGEMM with its plain C++ micro-kernel even on CPUs with
// AVX2; 'blas' in a build without one keeps the portable SGEMM
napi_value UseGemm(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, argv, 1)) return nullptr;
  char kind[16];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], kind, sizeof kind, &len) != napi_ok) {
    fail(env, "kind must be 'blas', 'portable' or 'generic'");
    return nullptr;
  }
  const std::string k(kind, len);
  if (k != "blas" && k != "portable" && k != "generic") {
    fail(env, "kind must be 'blas', 'portable' or 'generic', got '" + k + "'", true);
    return nullptr;
  }
  artist::portable_sgemm_use_generic(k == "generic");
  artist::gemm_use_portable(k != "blas");
  return make_str(env, artist::gemm_in_use());
}

// sgemmBatched(A, B, C, batch, M, N, K, transA, transB, offA|null, offB|null, strideA, strideB,
//              alpha = 1, beta = 0)
napi_value SgemmBatched(napi_env env, napi_callback_info info) {
  napi_value argv[15];
  if (!get_args(env, info, argv, 13)) return nullptr;
  F32 A, B, C;
  if (!get_f32(env, argv[0], "A", &A) || !get_f32(env, argv[1], "B", &B) ||
      !get_f32(env, argv[2], "C", &C)) {
    return nullptr;
  }
  int64_t batch, M, N, K, strideA, strideB;
  bool tA = false, tB = false;
  if (!get_i64(env, argv[3], "batch", &batch) || !get_i64(env, argv[4], "M", &M) ||
      !get_i64(env, argv[5], "N", &N) || !get_i64(env, argv[6], "K", &K) ||
      !get_bool(env, argv[7], "transA", &tA) || !get_bool(env, argv[8], "transB", &tB) ||
      !get_i64(env, argv[11], "strideA", &strideA) ||
      !get_i64(env, argv[12], "strideB", &strideB)) {
    return nullptr;
  }
  const int32_t* offA32 = nullptr;
  const int32_t* offB32 = nullptr;
  int64_t nOffA = 0, nOffB = 0;
  if (!get_i32_array(env, argv[9], "offA", &offA32, &nOffA) ||
      !get_i32_array(env, argv[10], "offB", &offB32, &nOffB)) {
    return nullptr;
  }
  double alpha = 1, beta = 0;
  napi_valuetype vt;
  napi_typeof(env, argv[13], &vt);
  if (vt == napi_number) napi_get_value_double(env, argv[13], &alpha);
  napi_typeof(env, argv[14], &vt);
  if (vt == napi_number) napi_get_value_double(env, argv[14], &beta);
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) {
    fail(env, "matrix dimensions must fit in int32", true);
    return nullptr;
  }
  if ((offA32 && nOffA < batch) || (offB32 && nOffB < batch)) {
    fail(env, "offset arrays must have batch entries", true);
    return nullptr;
  }
  if (C.length < sat_prod({batch, M, N})) {
    fail(env, "C is shorter than batch * M * N", true);
    return nullptr;
  }
  if (batch == 0) return nullptr;  // nothing to compute (the kernel would read offA[0])
  std::vector<int64_t> offA, offB;
  if (batch > 0) {
    offA.resize(static_cast<size_t>(batch));
    offB.resize(static_cast<size_t>(batch));
    for (int64_t i = 0; i < batch; i++) {
      offA[i] = offA32 ? offA32[i] : sat_mul(i, strideA);
      offB[i] = offB32 ? offB32[i] : sat_mul(i, strideB);
      if (offA[i] < 0 || sat_add(offA[i], sat_mul(M, K)) > A.length || offB[i] < 0 ||
          sat_add(offB[i], sat_mul(K, N)) > B.length) {
        fail(env, "batch " + std::to_string(i) + " reads past the end of A or B", true);
        return nullptr;
      }
    }
  }
  artist::sgemm_batched(A.data, B.data, C.data, batch, M, N, K, tA, tB, offA.data(), offB.data(),
                        0, 0, static_cast<float>(alpha), static_cast<float>(beta));
  return nullptr;
}

// memoryReadBandwidth(bytes, reps) -> GB/s (best pass), the pool's threads reading one buffer
napi_value MemoryReadBandwidth(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, argv, 2)) return nullptr;
  int64_t bytes = 0, reps = 0;
  if (!get_i64(env, argv[0], "bytes", &bytes) || !get_i64(env, argv[1], "reps", &reps)) {
    return nullptr;
  }
  if (bytes < 4096 || bytes > (int64_t(1) << 36) || reps < 1 || reps > 100) {
    fail(env, "bytes must be in [4096, 2^36] and reps in [1, 100]", true);
    return nullptr;
  }
  napi_value out;
  napi_create_double(env, artist::memory_read_bandwidth(bytes, static_cast<int>(reps)), &out);
  return out;
}

}  // namespace

void define_gemm_bindings(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      method("blasInfo", BlasInfo),
      method("setThreads", SetThreads),
      method("setParallelThreshold", SetParallelThreshold),
      method("useGemm", UseGemm),
      method("sgemmBatched", SgemmBatched),
      method("memoryReadBandwidth", MemoryReadBandwidth),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace artist_napi
