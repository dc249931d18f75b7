// N-API bindings of the NHWC convolutions and their two gradients (conv.cc, winograd.cc).
#include <string>

#include "kernels.h"
#include "napi_args.h"

namespace artist_napi {
namespace {

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
  napi_value argv[5];  // conv2d also takes an optional bias [co]
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
  F32 bias;
  if (kind == ConvKind::kForward) {
    napi_valuetype t;
    napi_typeof(env, argv[4], &t);
    if (t != napi_undefined && t != napi_null) {
      if (!get_f32(env, argv[4], "bias", &bias)) return nullptr;
      if (bias.length != p.co) {
        fail(env, "bias must have one value per output channel", true);
        return nullptr;
      }
    }
    artist::conv2d_forward(p, a.data, b.data, out.data, bias.data);
  }
  if (kind == ConvKind::kBackpropInput) artist::conv2d_backprop_input(p, a.data, b.data, out.data);
  if (kind == ConvKind::kBackpropFilter) {
    artist::conv2d_backprop_filter(p, a.data, b.data, out.data);
  }
  return nullptr;
}

}  // namespace

void define_conv_bindings(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      method("conv2d", Conv<ConvKind::kForward>),
      method("conv2dBackpropInput", Conv<ConvKind::kBackpropInput>),
      method("conv2dBackpropFilter", Conv<ConvKind::kBackpropFilter>),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  // conv2d adds an optional bias (5th argument): addons built before ignore it, so callers check this
  napi_value yes;
  napi_get_boolean(env, true, &yes);
  napi_set_named_property(env, exports, "conv2dBias", yes);
}

}  // namespace artist_napi
