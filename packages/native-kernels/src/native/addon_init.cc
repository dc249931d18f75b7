// Module init of the addon: every kernel family defines its own bindings (bind_<family>.cc).
#include "napi_args.h"

namespace {

napi_value Init(napi_env env, napi_value exports) {
  artist_napi::define_gemm_bindings(env, exports);
  artist_napi::define_conv_bindings(env, exports);
  artist_napi::define_resize_bindings(env, exports);
  artist_napi::define_elementwise_bindings(env, exports);
  artist_napi::define_fused_op_bindings(env, exports);
  artist_napi::define_loss_bindings(env, exports);
  artist_napi::define_adamw_bindings(env, exports);
  artist_napi::define_memory_bindings(env, exports);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
