// The fused transformer kernels (GELU, LayerNorm, causal attention, decoding attention) and the strided-copy overrides
// of Slice, SplitV and Concat (the glue around a fused qkv projection) that installKernels
// registers on cpu and wasm when the addon provides them. Without the addon the fused kernels stay
// unregistered and fusedGelu / fusedLayerNorm / causalSelfAttention compute the same functions with
// stock ops.
import type { NativeAddon } from '../addon';
import { causalAttentionNativeKernels } from './causal_attention';
import { decodeAttentionNativeKernels } from './decode_attention';
import { geluNativeKernels } from './gelu';
import { layerNormNativeKernels } from './layer_norm';
import { sliceNativeKernels } from './slice';
import type { KernelImpl } from './types';

/** Kernel implementations of the fused ops and copies, or none when `native` predates them. */
export function fusedOpsNativeKernels(native: NativeAddon): KernelImpl[] {
  if (
    typeof native.geluForward !== 'function' ||
    typeof native.layerNormForward !== 'function' ||
    typeof native.causalAttentionForward !== 'function' ||
    typeof native.copy2d !== 'function'
  ) {
    return [];
  }
  return [
    ...geluNativeKernels,
    ...layerNormNativeKernels,
    ...causalAttentionNativeKernels,
    ...sliceNativeKernels,
    ...(typeof native.decodeAttention === 'function' ? decodeAttentionNativeKernels : []),
  ];
}

export { CAUSAL_ATTENTION_GRAD_KERNEL, CAUSAL_ATTENTION_KERNEL } from './causal_attention';
export { GELU_GRAD_KERNEL, GELU_KERNEL } from './gelu';
export { LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL } from './layer_norm';

/** Names of the fused kernels, forward and gradient. */
export const FUSED_OP_KERNELS: readonly string[] = [
  'ArtistGelu',
  'ArtistGeluGrad',
  'ArtistLayerNorm',
  'ArtistLayerNormGrad',
  'ArtistCausalAttention',
  'ArtistCausalAttentionGrad',
  'ArtistDecodeAttention',
];
