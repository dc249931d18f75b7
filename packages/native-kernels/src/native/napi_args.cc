// Argument checking shared by the N-API bindings (see napi_args.h).
#include "napi_args.h"

namespace artist_napi {

int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

int64_t sat_prod(std::initializer_list<int64_t> factors) {
  int64_t r = 1;
  for (const int64_t f : factors) r = sat_mul(r, f);
  return r;
}

int64_t sat_add(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

bool fail(napi_env env, const std::string& msg, bool range) {
  if (range) {
    napi_throw_range_error(env, "ERR_ARTIST_NATIVE_RANGE", msg.c_str());
  } else {
    napi_throw_type_error(env, "ERR_ARTIST_NATIVE_ARG", msg.c_str());
  }
  return false;
}

bool get_f32(napi_env env, napi_value v, const char* name, F32* out) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    return fail(env, std::string(name) + " must be a Float32Array");
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float32_array) {
    return fail(env, std::string(name) + " must be a Float32Array");
  }
  out->data = static_cast<float*>(data);
  out->length = static_cast<int64_t>(length);
  return true;
}

bool get_f32s(napi_env env, napi_value* argv, const char* const* names, F32* out, int n) {
  for (int i = 0; i < n; i++) {
    if (!get_f32(env, argv[i], names[i], &out[i])) return false;
  }
  return true;
}

bool get_i32_array(napi_env env, napi_value v, const char* name, const int32_t** data,
                   int64_t* length) {
  napi_valuetype vt;
  napi_typeof(env, v, &vt);
  if (vt == napi_null || vt == napi_undefined) {
    *data = nullptr;
    *length = 0;
    return true;
  }
  bool is_ta = false;
  napi_typedarray_type type;
  size_t len = 0;
  void* ptr = nullptr;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &len, &ptr, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array) {
    return fail(env, std::string(name) + " must be an Int32Array or null");
  }
  *data = static_cast<const int32_t*>(ptr);
  *length = static_cast<int64_t>(len);
  return true;
}

bool get_i32_required(napi_env env, napi_value v, const char* name, const int32_t** data,
                      int64_t* length) {
  if (!get_i32_array(env, v, name, data, length)) return false;
  if (*data == nullptr && *length == 0) {
    napi_valuetype vt;
    napi_typeof(env, v, &vt);
    if (vt == napi_null || vt == napi_undefined) {
      return fail(env, std::string(name) + " must be an Int32Array");
    }
  }
  return true;
}

bool get_i64(napi_env env, napi_value v, const char* name, int64_t* out) {
  double d = 0;
  // |d| <= 2^53 first: casting NaN or a double outside int64's range to int64_t is undefined
  constexpr double kMaxExact = 9007199254740992.0;  // 2^53
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= -kMaxExact && d <= kMaxExact) ||
      d != static_cast<double>(int64_t(d))) {
    return fail(env, std::string(name) + " must be an integer");
  }
  *out = static_cast<int64_t>(d);
  if (*out < 0) return fail(env, std::string(name) + " must be >= 0", true);
  return true;
}

bool get_bool(napi_env env, napi_value v, const char* name, bool* out) {
  if (napi_get_value_bool(env, v, out) != napi_ok) {
    return fail(env, std::string(name) + " must be a boolean");
  }
  return true;
}

bool check_len(napi_env env, const F32& a, int64_t need, const char* what, const char* name) {
  if (a.length < need) {
    return fail(env, std::string(what) + ": " + name + " has " + std::to_string(a.length) +
                         " elements, needs " + std::to_string(need), true);
  }
  return true;
}

napi_value make_int(napi_env env, int64_t v) {
  napi_value r;
  napi_create_double(env, static_cast<double>(v), &r);
  return r;
}

napi_value make_str(napi_env env, const char* s) {
  napi_value r;
  napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &r);
  return r;
}

}  // namespace artist_napi
