// N-API binding of the fused AdamW update (elementwise.cc).
#include <string>

#include "kernels.h"
#include "napi_args.h"

namespace artist_napi {
namespace {

// adamwUpdate(x, m, v, g, xOut, mOut, vOut, beta1, beta2, epsilon, decayFactor, sqrtBc2, stepSize)
napi_value AdamWUpdate(napi_env env, napi_callback_info info) {
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
      fail(env, "AdamW hyper-parameters must be numbers");
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
  // h = beta1, beta2, epsilon, decayFactor, sqrtBc2, stepSize
  const artist::AdamWParams p{h[0], h[1], h[2], h[3], h[4], h[5],
                              static_cast<float>(1.0 - hd[0]), static_cast<float>(1.0 - hd[1])};
  artist::adamw_update_f32(t[0].data, t[1].data, t[2].data, t[3].data, t[4].data, t[5].data,
                           t[6].data, n, p);
  return nullptr;
}

}  // namespace

void define_adamw_bindings(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      method("adamwUpdate", AdamWUpdate),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace artist_napi
