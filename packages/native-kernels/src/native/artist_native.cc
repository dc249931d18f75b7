// N-API surface of the addon. Each entry validates its arguments (typed-array kinds and that
// every read and write stays inside the arrays it was given) before calling into kernels.h, so a
// wrong shape from JS raises a TypeError/RangeError instead of touching memory it does not own.
#include <node_api.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "kernels.h"

namespace {

// Products and sums of non-negative sizes, saturating at INT64_MAX: a length check against a
// saturated size fails instead of passing on a wrapped-around (small or negative) product.
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

struct F32 {
  float* data = nullptr;
  int64_t length = 0;
};

bool fail(napi_env env, const std::string& msg, bool range = false) {
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

// blasInfo() -> { vendor, config, corename, threads }
napi_value BlasInfo(napi_env env, napi_callback_info) {
  napi_value obj;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "vendor", make_str(env, artist::blas_vendor()));
  napi_set_named_property(env, obj, "config", make_str(env, artist::blas_config()));
  napi_set_named_property(env, obj, "corename", make_str(env, artist::blas_corename()));
  napi_set_named_property(env, obj, "threads", make_int(env, artist::blas_get_threads()));
  napi_set_named_property(env, obj, "parallelThreshold",
                          make_int(env, artist::blas_get_parallel_threshold()));
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

bool get_conv_params(napi_env env, napi_value v, artist::ConvParams* p) {
  const int32_t* d = nullptr;
  int64_t n = 0;
  if (!get_i32_array(env, v, "params", &d, &n)) return false;
  if (d == nullptr || n != 15) {
    return fail(env, "params must be an Int32Array [n,h,w,ci,fh,fw,co,oh,ow,sh,sw,pt,pl,dh,dw]");
  }
  *p = {d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14]};
  for (int i = 0; i < 15; i++) {
    if (d[i] < 0) return fail(env, "params[" + std::to_string(i) + "] is negative", true);
  }
  if (p->sh < 1 || p->sw < 1 || p->dh < 1 || p->dw < 1) {
    return fail(env, "strides and dilations must be >= 1", true);
  }
  // every output position must read inside the padded input, as computeConv2DInfo guarantees
  if (p->oh > 0 && p->ow > 0 &&
      ((p->oh - 1) * p->sh - p->pt > p->h + p->fh * p->dh ||
       (p->ow - 1) * p->sw - p->pl > p->w + p->fw * p->dw)) {
    return fail(env, "output size is inconsistent with input, strides and padding", true);
  }
  return true;
}

enum class ConvKind { kForward, kBackpropInput, kBackpropFilter };

template <ConvKind kind>
napi_value Conv(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, argv, 4)) return nullptr;
  artist::ConvParams p;
  if (!get_conv_params(env, argv[3], &p)) return nullptr;
  const int64_t xs = sat_prod({p.n, p.h, p.w, p.ci}), fs = sat_prod({p.fh, p.fw, p.ci, p.co}),
                ys = sat_prod({p.n, p.oh, p.ow, p.co});
  F32 a, b, out;
  if (!get_f32(env, argv[0], "arg0", &a) || !get_f32(env, argv[1], "arg1", &b) ||
      !get_f32(env, argv[2], "out", &out)) {
    return nullptr;
  }
  int64_t need_a, need_b, need_out;
  if (kind == ConvKind::kForward) {
    need_a = xs, need_b = fs, need_out = ys;
  } else if (kind == ConvKind::kBackpropInput) {
    need_a = ys, need_b = fs, need_out = xs;
  } else {
    need_a = xs, need_b = ys, need_out = fs;
  }
  if (a.length < need_a || b.length < need_b || out.length < need_out) {
    fail(env, "a conv buffer is shorter than its shape requires", true);
    return nullptr;
  }
  // The kernels hand pixel counts (rows of the column matrix) and fh * fw * channels to the BLAS
  // as int: beyond that the BLAS would reject the call and leave the output unwritten.
  if (sat_prod({p.n, p.oh, p.ow}) > INT32_MAX || sat_prod({p.n, p.h, p.w}) > INT32_MAX ||
      sat_prod({p.fh, p.fw, p.ci > p.co ? p.ci : p.co}) > INT32_MAX) {
    fail(env, "conv sizes exceed the BLAS's int32 dimensions", true);
    return nullptr;
  }
  if (kind == ConvKind::kForward) artist::conv2d_forward(p, a.data, b.data, out.data);
  if (kind == ConvKind::kBackpropInput) artist::conv2d_backprop_input(p, a.data, b.data, out.data);
  if (kind == ConvKind::kBackpropFilter) {
    artist::conv2d_backprop_filter(p, a.data, b.data, out.data);
  }
  return nullptr;
}

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

// setParallelThreshold(work) -> threshold in effect: GEMMs of at least `work` multiply-adds use
// the pool's threads, smaller ones run on the calling thread
napi_value SetParallelThreshold(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, argv, 1)) return nullptr;
  int64_t w = 0;
  if (!get_i64(env, argv[0], "work", &w)) return nullptr;
  return make_int(env, artist::blas_set_parallel_threshold(w));
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

bool check_labels(napi_env env, const int32_t* labels, int64_t rows, int64_t classes) {
  for (int64_t i = 0; i < rows; i++) {
    if (labels[i] < 0 || labels[i] >= classes) {
      return fail(env,
                  "labels[" + std::to_string(i) + "] = " + std::to_string(labels[i]) +
                      " is outside [0, " + std::to_string(classes) + ")",
                  true);
    }
  }
  return true;
}

// sparseXentForward(logits, labels, loss, lse, rows, classes)
napi_value SparseXentForward(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, argv, 6)) return nullptr;
  F32 logits, loss, lse;
  const int32_t* labels = nullptr;
  int64_t nLabels = 0, rows = 0, classes = 0;
  if (!get_f32(env, argv[0], "logits", &logits) ||
      !get_i32_required(env, argv[1], "labels", &labels, &nLabels) ||
      !get_f32(env, argv[2], "loss", &loss) || !get_f32(env, argv[3], "lse", &lse) ||
      !get_i64(env, argv[4], "rows", &rows) || !get_i64(env, argv[5], "classes", &classes)) {
    return nullptr;
  }
  if (classes < 1 || logits.length < sat_mul(rows, classes) || nLabels < rows ||
      loss.length < rows || lse.length < rows) {
    fail(env, "sparseXentForward buffers are shorter than rows x classes / rows", true);
    return nullptr;
  }
  if (!check_labels(env, labels, rows, classes)) return nullptr;
  artist::sparse_softmax_xent_forward(logits.data, labels, loss.data, lse.data, rows, classes);
  return nullptr;
}

// sparseXentBackward(logits, labels, lse, dy, dlogits, rows, classes)
napi_value SparseXentBackward(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!get_args(env, info, argv, 7)) return nullptr;
  F32 logits, lse, dy, dlogits;
  const int32_t* labels = nullptr;
  int64_t nLabels = 0, rows = 0, classes = 0;
  if (!get_f32(env, argv[0], "logits", &logits) ||
      !get_i32_required(env, argv[1], "labels", &labels, &nLabels) ||
      !get_f32(env, argv[2], "lse", &lse) || !get_f32(env, argv[3], "dy", &dy) ||
      !get_f32(env, argv[4], "dlogits", &dlogits) || !get_i64(env, argv[5], "rows", &rows) ||
      !get_i64(env, argv[6], "classes", &classes)) {
    return nullptr;
  }
  if (classes < 1 || logits.length < sat_mul(rows, classes) ||
      dlogits.length < sat_mul(rows, classes) ||
      nLabels < rows || lse.length < rows || dy.length < rows) {
    fail(env, "sparseXentBackward buffers are shorter than rows x classes / rows", true);
    return nullptr;
  }
  if (!check_labels(env, labels, rows, classes)) return nullptr;
  artist::sparse_softmax_xent_backward(logits.data, labels, lse.data, dy.data, dlogits.data, rows,
                                       classes);
  return nullptr;
}

// segmentSum(x, ids, out, n, segments, inner): out[s] = sum of rows i of x with ids[i] == s
napi_value SegmentSum(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, argv, 6)) return nullptr;
  F32 x, out;
  const int32_t* ids = nullptr;
  int64_t nIds = 0, n = 0, segments = 0, inner = 0;
  if (!get_f32(env, argv[0], "x", &x) || !get_i32_required(env, argv[1], "ids", &ids, &nIds) ||
      !get_f32(env, argv[2], "out", &out) || !get_i64(env, argv[3], "n", &n) ||
      !get_i64(env, argv[4], "segments", &segments) || !get_i64(env, argv[5], "inner", &inner)) {
    return nullptr;
  }
  if (nIds < n || x.length < sat_mul(n, inner) || out.length < sat_mul(segments, inner)) {
    fail(env, "segmentSum buffers are shorter than n x inner / segments x inner", true);
    return nullptr;
  }
  artist::unsorted_segment_sum_f32(x.data, ids, out.data, n, segments, inner);
  return nullptr;
}

// adamUpdate(x, m, v, g, xOut, mOut, vOut, lr, beta1, beta2, epsilon, c1, c2) and
// adamwUpdate(x, m, v, g, xOut, mOut, vOut, beta1, beta2, epsilon, decayFactor, sqrtBc2, stepSize)
template <bool kAdamW>
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  napi_value argv[13];
  if (!get_args(env, info, argv, 13)) return nullptr;
  F32 t[7];
  const char* names[7] = {"x", "m", "v", "g", "xOut", "mOut", "vOut"};
  for (int i = 0; i < 7; i++) {
    if (!get_f32(env, argv[i], names[i], &t[i])) return nullptr;
  }
  float h[6];
  double hd[6];
  for (int i = 0; i < 6; i++) {
    double d = 0;
    if (napi_get_value_double(env, argv[7 + i], &d) != napi_ok) {
      fail(env, "Adam hyper-parameters must be numbers");
      return nullptr;
    }
    hd[i] = d;
    h[i] = static_cast<float>(d);
  }
  const int64_t n = t[0].length;
  for (int i = 1; i < 7; i++) {
    if (t[i].length < n) {
      fail(env, std::string(names[i]) + " is shorter than x", true);
      return nullptr;
    }
  }
  if (kAdamW) {
    // adamw: h = beta1, beta2, epsilon, decayFactor, sqrtBc2, stepSize
    const artist::AdamWParams p{h[0], h[1], h[2], h[3], h[4], h[5],
                                static_cast<float>(1.0 - hd[0]), static_cast<float>(1.0 - hd[1])};
    artist::adamw_update_f32(t[0].data, t[1].data, t[2].data, t[3].data, t[4].data, t[5].data,
                             t[6].data, n, p);
  } else {
    // adam: h = lr, beta1, beta2, epsilon, c1, c2
    const artist::AdamParams p{h[0], h[1], h[2], h[3], h[4], h[5],
                               static_cast<float>(1.0 - hd[1]), static_cast<float>(1.0 - hd[2])};
    artist::adam_update_f32(t[0].data, t[1].data, t[2].data, t[3].data, t[4].data, t[5].data,
                            t[6].data, n, p);
  }
  return nullptr;
}

// ---- fused transformer kernels (fused_ops.cc); outputs must not alias inputs

bool get_f32s(napi_env env, napi_value* argv, const char* const* names, F32* out, int n) {
  for (int i = 0; i < n; i++) {
    if (!get_f32(env, argv[i], names[i], &out[i])) return false;
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

bool get_gelu_form(napi_env env, napi_value v, artist::GeluForm* form) {
  int64_t f = 0;
  if (!get_i64(env, v, "form", &f)) return false;
  if (f > 1) return fail(env, "form must be 0 (exact) or 1 (tanh)", true);
  *form = static_cast<artist::GeluForm>(f);
  return true;
}

// geluForward(x, y, form: 0 exact | 1 tanh)
napi_value GeluForward(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, argv, 3)) return nullptr;
  const char* names[] = {"x", "y"};
  F32 t[2];
  artist::GeluForm form;
  if (!get_f32s(env, argv, names, t, 2) || !get_gelu_form(env, argv[2], &form)) return nullptr;
  if (!check_len(env, t[1], t[0].length, "geluForward", "y")) return nullptr;
  artist::gelu_forward_f32(t[0].data, t[1].data, t[0].length, form);
  return nullptr;
}

// geluBackward(x, dy, dx, form)
napi_value GeluBackward(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, argv, 4)) return nullptr;
  const char* names[] = {"x", "dy", "dx"};
  F32 t[3];
  artist::GeluForm form;
  if (!get_f32s(env, argv, names, t, 3) || !get_gelu_form(env, argv[3], &form)) return nullptr;
  if (!check_len(env, t[1], t[0].length, "geluBackward", "dy") ||
      !check_len(env, t[2], t[0].length, "geluBackward", "dx")) {
    return nullptr;
  }
  artist::gelu_backward_f32(t[0].data, t[1].data, t[2].data, t[0].length, form);
  return nullptr;
}

// layerNormForward(x, gamma, beta, y, mean, rstd, rows, dim, eps)
napi_value LayerNormForward(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!get_args(env, info, argv, 9)) return nullptr;
  const char* names[] = {"x", "gamma", "beta", "y", "mean", "rstd"};
  F32 t[6];
  int64_t rows = 0, dim = 0;
  double eps = 0;
  if (!get_f32s(env, argv, names, t, 6) || !get_i64(env, argv[6], "rows", &rows) ||
      !get_i64(env, argv[7], "dim", &dim)) {
    return nullptr;
  }
  if (napi_get_value_double(env, argv[8], &eps) != napi_ok || !(eps >= 0)) {
    fail(env, "layerNormForward: eps must be a number >= 0", true);
    return nullptr;
  }
  const int64_t rd = sat_mul(rows, dim);
  const int64_t need[6] = {rd, dim, dim, rd, rows, rows};
  for (int i = 0; i < 6; i++) {
    if (!check_len(env, t[i], need[i], "layerNormForward", names[i])) return nullptr;
  }
  artist::layer_norm_forward_f32(t[0].data, t[1].data, t[2].data, t[3].data, t[4].data, t[5].data,
                                 rows, dim, static_cast<float>(eps));
  return nullptr;
}

// layerNormBackward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, dim)
napi_value LayerNormBackward(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!get_args(env, info, argv, 10)) return nullptr;
  const char* names[] = {"x", "gamma", "mean", "rstd", "dy", "dx", "dgamma", "dbeta"};
  F32 t[8];
  int64_t rows = 0, dim = 0;
  if (!get_f32s(env, argv, names, t, 8) || !get_i64(env, argv[8], "rows", &rows) ||
      !get_i64(env, argv[9], "dim", &dim)) {
    return nullptr;
  }
  const int64_t rd = sat_mul(rows, dim);
  const int64_t need[8] = {rd, dim, rows, rows, rd, rd, dim, dim};
  for (int i = 0; i < 8; i++) {
    if (!check_len(env, t[i], need[i], "layerNormBackward", names[i])) return nullptr;
  }
  artist::layer_norm_backward_f32(t[0].data, t[1].data, t[2].data, t[3].data, t[4].data, t[5].data,
                                  t[6].data, t[7].data, rows, dim);
  return nullptr;
}

bool get_attention_dims(napi_env env, napi_value* argv, int64_t* dims, double* scale) {
  const char* names[] = {"batch", "t", "heads", "hd"};
  for (int i = 0; i < 4; i++) {
    if (!get_i64(env, argv[i], names[i], &dims[i])) return false;
  }
  if (dims[2] < 1) return fail(env, "heads must be >= 1", true);
  if (napi_get_value_double(env, argv[4], scale) != napi_ok) {
    return fail(env, "scale must be a number");
  }
  return true;
}

// causalAttentionForward(q, k, v, y, p, batch, t, heads, hd, scale)
napi_value CausalAttentionForward(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!get_args(env, info, argv, 10)) return nullptr;
  const char* names[] = {"q", "k", "v", "y", "p"};
  F32 t[5];
  int64_t dims[4];
  double scale = 1;
  if (!get_f32s(env, argv, names, t, 5) || !get_attention_dims(env, argv + 5, dims, &scale)) {
    return nullptr;
  }
  const int64_t btd = sat_prod({dims[0], dims[1], dims[2], dims[3]});
  const int64_t need[5] = {btd, btd, btd, btd, sat_prod({dims[0], dims[2], dims[1], dims[1]})};
  for (int i = 0; i < 5; i++) {
    if (!check_len(env, t[i], need[i], "causalAttentionForward", names[i])) return nullptr;
  }
  artist::causal_attention_forward_f32(t[0].data, t[1].data, t[2].data, t[3].data, t[4].data,
                                       dims[0], dims[1], dims[2], dims[3],
                                       static_cast<float>(scale));
  return nullptr;
}

// causalAttentionBackward(q, k, v, p, dy, dq, dk, dv, batch, t, heads, hd, scale)
napi_value CausalAttentionBackward(napi_env env, napi_callback_info info) {
  napi_value argv[13];
  if (!get_args(env, info, argv, 13)) return nullptr;
  const char* names[] = {"q", "k", "v", "p", "dy", "dq", "dk", "dv"};
  F32 t[8];
  int64_t dims[4];
  double scale = 1;
  if (!get_f32s(env, argv, names, t, 8) || !get_attention_dims(env, argv + 8, dims, &scale)) {
    return nullptr;
  }
  const int64_t btd = sat_prod({dims[0], dims[1], dims[2], dims[3]});
  const int64_t pn = sat_prod({dims[0], dims[2], dims[1], dims[1]});
  const int64_t need[8] = {btd, btd, btd, pn, btd, btd, btd, btd};
  for (int i = 0; i < 8; i++) {
    if (!check_len(env, t[i], need[i], "causalAttentionBackward", names[i])) return nullptr;
  }
  artist::causal_attention_backward_f32(t[0].data, t[1].data, t[2].data, t[3].data, t[4].data,
                                        t[5].data, t[6].data, t[7].data, dims[0], dims[1],
                                        dims[2], dims[3], static_cast<float>(scale));
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

// resizeNearest(src, dst, batch, inH, inW, outH, outW, depth, rows, cols, grad): forward
// (src = images, dst = output) or, with grad, its adjoint (src = dy, dst = dx)
napi_value ResizeNearest(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  if (!get_args(env, info, argv, 11)) return nullptr;
  F32 src, dst;
  int64_t batch, in_h, in_w, out_h, out_w, depth, n_rows = 0, n_cols = 0;
  const int32_t* rows = nullptr;
  const int32_t* cols = nullptr;
  bool grad = false;
  if (!get_f32(env, argv[0], "src", &src) || !get_f32(env, argv[1], "dst", &dst) ||
      !get_i64(env, argv[2], "batch", &batch) || !get_i64(env, argv[3], "inH", &in_h) ||
      !get_i64(env, argv[4], "inW", &in_w) || !get_i64(env, argv[5], "outH", &out_h) ||
      !get_i64(env, argv[6], "outW", &out_w) || !get_i64(env, argv[7], "depth", &depth) ||
      !get_i32_required(env, argv[8], "rows", &rows, &n_rows) ||
      !get_i32_required(env, argv[9], "cols", &cols, &n_cols) ||
      !get_bool(env, argv[10], "grad", &grad)) {
    return nullptr;
  }
  const int64_t images = sat_prod({batch, in_h, in_w, depth}),
                outputs = sat_prod({batch, out_h, out_w, depth});
  if (batch < 0 || in_h < 0 || in_w < 0 || out_h < 0 || out_w < 0 || depth < 0 ||
      n_rows < out_h || n_cols < out_w || src.length < (grad ? outputs : images) ||
      dst.length < (grad ? images : outputs)) {
    fail(env, "resizeNearest: buffers or index maps are shorter than the shapes", true);
    return nullptr;
  }
  for (int64_t r = 0; r < out_h; r++) {
    if (rows[r] < 0 || rows[r] >= in_h) {
      fail(env, "resizeNearest: a row index is outside the input", true);
      return nullptr;
    }
  }
  for (int64_t c = 0; c < out_w; c++) {
    if (cols[c] < 0 || cols[c] >= in_w) {
      fail(env, "resizeNearest: a column index is outside the input", true);
      return nullptr;
    }
  }
  if (grad) {
    artist::resize_nearest_grad_f32(src.data, dst.data, batch, in_h, in_w, out_h, out_w, depth,
                                    rows, cols);
  } else {
    artist::resize_nearest_f32(src.data, dst.data, batch, in_h, in_w, out_h, out_w, depth, rows,
                               cols);
  }
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"blasInfo", nullptr, BlasInfo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgemmBatched", nullptr, SgemmBatched, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setParallelThreshold", nullptr, SetParallelThreshold, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"sparseXentForward", nullptr, SparseXentForward, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"sparseXentBackward", nullptr, SparseXentBackward, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"adamUpdate", nullptr, AdamUpdate<false>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamwUpdate", nullptr, AdamUpdate<true>, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"segmentSum", nullptr, SegmentSum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"resizeNearest", nullptr, ResizeNearest, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"transpose", nullptr, Transpose, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduceSum", nullptr, ReduceSum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, Conv<ConvKind::kForward>, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"conv2dBackpropInput", nullptr, Conv<ConvKind::kBackpropInput>, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv<ConvKind::kBackpropFilter>, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"geluForward", nullptr, GeluForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"geluBackward", nullptr, GeluBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNormForward", nullptr, LayerNormForward, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"layerNormBackward", nullptr, LayerNormBackward, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"causalAttentionForward", nullptr, CausalAttentionForward, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"causalAttentionBackward", nullptr, CausalAttentionBackward, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"copy2d", nullptr, Copy2d, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
