/**
 * Transformer building blocks that run as one fused kernel forward and one backward where
 * @artist-ts/native-kernels registered them for the current backend (cpu and wasm with the
 * addon), and as the same function of stock ops (with autodiff) on any other backend:
 * - `fusedGelu(x, approximate = 'none')`: exact (erf) or tanh-approximated GELU;
 * - `fusedLayerNorm(x, gamma, beta, eps)`: LayerNorm over the last axis (biased variance);
 * - `causalSelfAttention(q, k, v, nHead, scale = 1/sqrt(d/nHead))`: softmax(scale q k^T, causal) v
 *   per head on [b, t, d] inputs, heads side by side in d (no transposes);
 * - `decodeAttention(qkv, cache, layer, position, scale)`: one decoded position per row against a
 *   `KvCache` written in place; native only (`decodeAttentionSupported()`), callers keep a
 *   stock-op path for other backends.
 * The kernel names are exported for inference code that calls a registered kernel directly
 * (`tf.engine().runKernel`), skipping the gradient wrapper; `GROUP_NORM_KERNEL` (GroupNorm, then
 * optionally swish) is such a forward-only kernel, with no op around it.
 */
export {
  causalSelfAttention,
  DECODE_ATTENTION_KERNEL,
  decodeAttention,
  decodeAttentionSupported,
  fusedGelu,
  fusedLayerNorm,
  GELU_KERNEL,
  type GeluApproximate,
  GROUP_NORM_KERNEL,
  KvCache,
  LAYER_NORM_KERNEL,
} from '@artist-ts/native-kernels';
