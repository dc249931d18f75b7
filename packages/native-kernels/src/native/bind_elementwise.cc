// N-API bindings of the element-wise and data-movement kernels: unary and broadcasting binary ops,
// sums over an axis, transposes and strided row copies (elementwise.cc, fused_ops.cc), and the
// GroupNorm forward (group_norm.cc).
#include <string>

#include "kernels.h"
#include "napi_args.h"

namespace artist_napi {
namespace {

// unary(op, x, y): op 0 exp, 1 tanh, 2 sigmoid, 3 log; y may alias x
napi_value Unary(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, argv, 3)) return nullptr;
  int64_t op = 0;
  F32 x, y;
  if (!get_i64(env, argv[0], "op", &op) || !get_f32(env, argv[1], "x", &x) ||
      !get_f32(env, argv[2], "y", &y)) {
    return nullptr;
  }
  if (op > 3) {
    fail(env, "unknown unary op " + std::to_string(op), true);
    return nullptr;
  }
  if (y.length < x.length) {
    fail(env, "y is shorter than x", true);
    return nullptr;
  }
  artist::unary_f32(static_cast<artist::UnaryOp>(op), x.data, y.data, x.length);
  return nullptr;
}

// groupNormForward(x, gamma, beta, y, batch, hw, c, groups, eps, swish): x, y [batch, hw, c]
napi_value GroupNormForward(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!get_args(env, info, argv, 10)) return nullptr;
  F32 x, gamma, beta, y;
  int64_t batch = 0, hw = 0, c = 0, groups = 0;
  double eps = 0;
  bool swish = false;
  if (!get_f32(env, argv[0], "x", &x) || !get_f32(env, argv[1], "gamma", &gamma) ||
      !get_f32(env, argv[2], "beta", &beta) || !get_f32(env, argv[3], "y", &y) ||
      !get_i64(env, argv[4], "batch", &batch) || !get_i64(env, argv[5], "hw", &hw) ||
      !get_i64(env, argv[6], "c", &c) || !get_i64(env, argv[7], "groups", &groups) ||
      !get_bool(env, argv[9], "swish", &swish)) {
    return nullptr;
  }
  if (napi_get_value_double(env, argv[8], &eps) != napi_ok || !(eps >= 0)) {
    fail(env, "groupNormForward: eps must be a number >= 0", true);
    return nullptr;
  }
  if (groups < 1 || c % groups != 0) {
    fail(env, "groupNormForward: groups must be >= 1 and divide c", true);
    return nullptr;
  }
  const int64_t n = sat_prod({batch, hw, c});
  if (!check_len(env, x, n, "groupNormForward", "x") ||
      !check_len(env, y, n, "groupNormForward", "y") ||
      !check_len(env, gamma, c, "groupNormForward", "gamma") ||
      !check_len(env, beta, c, "groupNormForward", "beta")) {
    return nullptr;
  }
  artist::group_norm_forward_f32(x.data, gamma.data, beta.data, y.data, batch, hw, c, groups,
                                 static_cast<float>(eps), swish);
  return nullptr;
}

// binary(op, a, b, y, shape: Int32Array [rank * 3] = out dims, a strides, b strides)
napi_value Binary(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, argv, 5)) return nullptr;
  int64_t op = 0;
  F32 a, b, y;
  const int32_t* dims = nullptr;
  int64_t ndims = 0;
  if (!get_i64(env, argv[0], "op", &op) || !get_f32(env, argv[1], "a", &a) ||
      !get_f32(env, argv[2], "b", &b) || !get_f32(env, argv[3], "y", &y) ||
      !get_i32_array(env, argv[4], "shape", &dims, &ndims)) {
    return nullptr;
  }
  if (op > 4) {
    fail(env, "unknown binary op " + std::to_string(op), true);
    return nullptr;
  }
  if (dims == nullptr || ndims % 3 != 0 || ndims == 0 || ndims / 3 > artist::kMaxBinaryRank) {
    fail(env, "shape must be an Int32Array of 3 * rank entries, rank in [1, 6]", true);
    return nullptr;
  }
  artist::BinaryShape s;
  s.rank = static_cast<int>(ndims / 3);
  int64_t size = 1, last_a = 0, last_b = 0;
  for (int d = 0; d < s.rank; d++) {
    s.shape[d] = dims[d];
    s.stride_a[d] = dims[s.rank + d];
    s.stride_b[d] = dims[2 * s.rank + d];
    if (s.shape[d] < 0 || s.stride_a[d] < 0 || s.stride_b[d] < 0) {
      fail(env, "negative shape or stride", true);
      return nullptr;
    }
    size = sat_mul(size, s.shape[d]);
    if (s.shape[d] > 0) {
      last_a = sat_add(last_a, sat_mul(s.shape[d] - 1, s.stride_a[d]));
      last_b = sat_add(last_b, sat_mul(s.shape[d] - 1, s.stride_b[d]));
    }
  }
  if (size == 0) return nullptr;
  if (y.length < size || last_a >= a.length || last_b >= b.length) {
    fail(env, "a binary-op buffer is shorter than its shape and strides require", true);
    return nullptr;
  }
  artist::binary_f32(static_cast<artist::BinaryOp>(op), s, a.data, b.data, y.data);
  return nullptr;
}

// reduceSum(x, y, A, R, B, scale): y[a, b] = scale * sum_r x[a, r, b]
napi_value ReduceSum(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, argv, 6)) return nullptr;
  F32 x, y;
  int64_t A, R, B;
  double scale = 1;
  if (!get_f32(env, argv[0], "x", &x) || !get_f32(env, argv[1], "y", &y) ||
      !get_i64(env, argv[2], "A", &A) || !get_i64(env, argv[3], "R", &R) ||
      !get_i64(env, argv[4], "B", &B)) {
    return nullptr;
  }
  if (napi_get_value_double(env, argv[5], &scale) != napi_ok) {
    fail(env, "scale must be a number");
    return nullptr;
  }
  if (x.length < sat_prod({A, R, B}) || y.length < sat_mul(A, B)) {
    fail(env, "reduceSum buffers are shorter than A * R * B / A * B", true);
    return nullptr;
  }
  artist::reduce_sum_f32(x.data, y.data, A, R, B, static_cast<float>(scale));
  return nullptr;
}

// transpose(x, y, dims: Int32Array [rank * 2] = out shape, x strides per out dim)
napi_value Transpose(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, argv, 3)) return nullptr;
  F32 x, y;
  const int32_t* dims = nullptr;
  int64_t ndims = 0;
  if (!get_f32(env, argv[0], "x", &x) || !get_f32(env, argv[1], "y", &y) ||
      !get_i32_array(env, argv[2], "dims", &dims, &ndims)) {
    return nullptr;
  }
  if (dims == nullptr || ndims % 2 != 0 || ndims == 0 || ndims / 2 > artist::kMaxBinaryRank) {
    fail(env, "dims must be an Int32Array of 2 * rank entries, rank in [1, 6]", true);
    return nullptr;
  }
  const int rank = static_cast<int>(ndims / 2);
  int64_t shape[artist::kMaxBinaryRank], strides[artist::kMaxBinaryRank];
  int64_t size = 1, last = 0;
  for (int d = 0; d < rank; d++) {
    shape[d] = dims[d];
    strides[d] = dims[rank + d];
    if (shape[d] < 0 || strides[d] < 0) {
      fail(env, "negative shape or stride", true);
      return nullptr;
    }
    size = sat_mul(size, shape[d]);
    if (shape[d] > 0) last = sat_add(last, sat_mul(shape[d] - 1, strides[d]));
  }
  if (size == 0) return nullptr;
  if (y.length < size || last >= x.length) {
    fail(env, "transpose buffers are shorter than the shape and strides require", true);
    return nullptr;
  }
  artist::transpose_f32(x.data, y.data, rank, shape, strides);
  return nullptr;
}

// copy2d(src, dst, rows, cols, srcStride, dstStride): row blocks between strided 2-D layouts
napi_value Copy2d(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, argv, 6)) return nullptr;
  F32 src, dst;
  int64_t rows = 0, cols = 0, ss = 0, ds = 0;
  if (!get_f32(env, argv[0], "src", &src) || !get_f32(env, argv[1], "dst", &dst) ||
      !get_i64(env, argv[2], "rows", &rows) || !get_i64(env, argv[3], "cols", &cols) ||
      !get_i64(env, argv[4], "srcStride", &ss) || !get_i64(env, argv[5], "dstStride", &ds)) {
    return nullptr;
  }
  if (rows == 0 || cols == 0) return nullptr;
  if (ss < cols || ds < cols) {
    fail(env, "copy2d: strides must be >= cols", true);
    return nullptr;
  }
  if (!check_len(env, src, sat_add(sat_mul(rows - 1, ss), cols), "copy2d", "src") ||
      !check_len(env, dst, sat_add(sat_mul(rows - 1, ds), cols), "copy2d", "dst")) {
    return nullptr;
  }
  artist::copy_2d_f32(src.data, dst.data, rows, cols, ss, ds);
  return nullptr;
}

}  // namespace

void define_elementwise_bindings(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      method("unary", Unary),
      method("groupNormForward", GroupNormForward),
      method("binary", Binary),
      method("reduceSum", ReduceSum),
      method("transpose", Transpose),
      method("copy2d", Copy2d),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace artist_napi
