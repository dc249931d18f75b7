// N-API bindings of the fused transformer kernels: GELU, LayerNorm and causal self-attention,
// forward and backward (fused_ops.cc), and decoding attention against a key/value cache
// (decode_attention.cc). Outputs must not alias inputs.
#include "kernels.h"
#include "napi_args.h"

namespace artist_napi {
namespace {

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

// decodeAttention(qkv, kCache, vCache, y, batch, heads, hd, capacity, position, scale)
napi_value DecodeAttention(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!get_args(env, info, argv, 10)) return nullptr;
  const char* names[] = {"qkv", "kCache", "vCache", "y"};
  const char* dim_names[] = {"batch", "heads", "hd", "capacity", "position"};
  F32 t[4];
  int64_t dims[5];
  double scale = 1;
  if (!get_f32s(env, argv, names, t, 4)) return nullptr;
  for (int i = 0; i < 5; i++) {
    if (!get_i64(env, argv[4 + i], dim_names[i], &dims[i])) return nullptr;
  }
  const int64_t batch = dims[0], heads = dims[1], hd = dims[2], capacity = dims[3];
  const int64_t position = dims[4];
  if (position >= capacity) {
    fail(env, "decodeAttention: position must be < capacity", true);
    return nullptr;
  }
  if (napi_get_value_double(env, argv[9], &scale) != napi_ok) {
    fail(env, "decodeAttention: scale must be a number");
    return nullptr;
  }
  const int64_t bd = sat_prod({batch, heads, hd});
  const int64_t cache = sat_prod({batch, heads, capacity, hd});
  const int64_t need[4] = {sat_mul(3, bd), cache, cache, bd};
  for (int i = 0; i < 4; i++) {
    if (!check_len(env, t[i], need[i], "decodeAttention", names[i])) return nullptr;
  }
  artist::decode_attention_f32(t[0].data, t[1].data, t[2].data, t[3].data, batch, heads, hd,
                               capacity, position, static_cast<float>(scale));
  return nullptr;
}

}  // namespace

void define_fused_op_bindings(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      method("geluForward", GeluForward),
      method("geluBackward", GeluBackward),
      method("layerNormForward", LayerNormForward),
      method("layerNormBackward", LayerNormBackward),
      method("causalAttentionForward", CausalAttentionForward),
      method("causalAttentionBackward", CausalAttentionBackward),
      method("decodeAttention", DecodeAttention),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace artist_napi
