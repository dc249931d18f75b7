// N-API bindings of the sparse softmax cross-entropy and of the segment sum behind the embedding
// (gather) gradient (elementwise.cc).
#include <string>

#include "kernels.h"
#include "napi_args.h"

namespace artist_napi {
namespace {

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

}  // namespace

void define_loss_bindings(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      method("sparseXentForward", SparseXentForward),
      method("sparseXentBackward", SparseXentBackward),
      method("segmentSum", SegmentSum),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace artist_napi
