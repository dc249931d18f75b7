// Argument checking shared by the N-API bindings (bind_*.cc). Each binding validates its arguments
// (typed-array kinds, and that every read and write stays inside the arrays it was given) before
// calling into kernels.h, so a wrong shape from JS raises a TypeError/RangeError instead of touching
// memory it does not own.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <initializer_list>
#include <string>

namespace artist_napi {

// Products and sums of non-negative sizes, saturating at INT64_MAX: a length check against a
// saturated size fails instead of passing on a wrapped-around (small or negative) product.
int64_t sat_mul(int64_t a, int64_t b);
int64_t sat_prod(std::initializer_list<int64_t> factors);
int64_t sat_add(int64_t a, int64_t b);

struct F32 {
  float* data = nullptr;
  int64_t length = 0;
};

// Throws a TypeError (ERR_ARTIST_NATIVE_ARG) or, with range, a RangeError (ERR_ARTIST_NATIVE_RANGE);
// returns false so callers can `return fail(...)`.
bool fail(napi_env env, const std::string& msg, bool range = false);

bool get_f32(napi_env env, napi_value v, const char* name, F32* out);
// argv[i] as Float32Arrays named names[i], i < n
bool get_f32s(napi_env env, napi_value* argv, const char* const* names, F32* out, int n);
// An Int32Array, or null/undefined (data = nullptr, length = 0).
bool get_i32_array(napi_env env, napi_value v, const char* name, const int32_t** data,
                   int64_t* length);
// An Int32Array; null/undefined are rejected.
bool get_i32_required(napi_env env, napi_value v, const char* name, const int32_t** data,
                      int64_t* length);
// A non-negative integer (at most 2^53).
bool get_i64(napi_env env, napi_value v, const char* name, int64_t* out);
bool get_bool(napi_env env, napi_value v, const char* name, bool* out);
// RangeError "<what>: <name> has L elements, needs need" when a.length < need.
bool check_len(napi_env env, const F32& a, int64_t need, const char* what, const char* name);

napi_value make_int(napi_env env, int64_t v);
napi_value make_str(napi_env env, const char* s);

// Reads up to N arguments (missing ones become undefined); fails with fewer than min_args.
template <size_t N>
bool get_args(napi_env env, napi_callback_info info, napi_value (&argv)[N], size_t min_args) {
  size_t argc = N;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < min_args) {
    return fail(env, "expected " + std::to_string(min_args) + " arguments, got " +
                         std::to_string(argc));
  }
  for (size_t i = argc; i < N; i++) napi_get_undefined(env, &argv[i]);
  return true;
}

// A property descriptor for exports.name = fn.
inline napi_property_descriptor method(const char* name, napi_callback fn) {
  return {name, nullptr, fn, nullptr, nullptr, nullptr, napi_default, nullptr};
}

// Each kernel family's bindings (bind_<family>.cc) define their functions on exports.
void define_gemm_bindings(napi_env env, napi_value exports);
void define_conv_bindings(napi_env env, napi_value exports);
void define_resize_bindings(napi_env env, napi_value exports);
void define_elementwise_bindings(napi_env env, napi_value exports);
void define_fused_op_bindings(napi_env env, napi_value exports);
void define_loss_bindings(napi_env env, napi_value exports);
void define_adamw_bindings(napi_env env, napi_value exports);
void define_memory_bindings(napi_env env, napi_value exports);

}  // namespace artist_napi
