// N-API binding of memory advice for large tables allocated in JavaScript (a WebAssembly memory,
// an ArrayBuffer): adviseHugePages asks Linux to back the 2 MiB-aligned part of a byte range with
// transparent huge pages (madvise MADV_HUGEPAGE), so random row accesses over gigabytes miss the
// TLB less. It must run before the range is first written: pages already faulted in stay 4 KiB
// until khugepaged (slowly) collapses them.
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "napi_args.h"

namespace artist_napi {
namespace {

constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

// adviseHugePages(bytes: Uint8Array) -> number of bytes advised (0: nothing to advise, not Linux,
// or the kernel refused: THP off or never).
napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, argv, 1)) return nullptr;
  bool is_ta = false;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_is_typedarray(env, argv[0], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) !=
          napi_ok ||
      type != napi_uint8_array) {
    fail(env, "bytes must be a Uint8Array");
    return nullptr;
  }
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t last = (begin + length) & ~(kHugePage - 1);
  int64_t advised = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (length > 0 && last > first &&
      madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE) == 0) {
    advised = static_cast<int64_t>(last - first);
  }
#endif
  return make_int(env, advised);
}

}  // namespace

void define_memory_bindings(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      method("adviseHugePages", AdviseHugePages),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace artist_napi
