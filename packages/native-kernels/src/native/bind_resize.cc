// N-API binding of the nearest-neighbour resize and its gradient (resize.cc).
#include "kernels.h"
#include "napi_args.h"

namespace artist_napi {
namespace {

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

}  // namespace

void define_resize_bindings(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      method("resizeNearest", ResizeNearest),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace artist_napi
