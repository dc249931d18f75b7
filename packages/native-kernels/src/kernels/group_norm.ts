// GroupNorm (optionally followed by swish) forward as one native kernel for inference: two passes
// over x instead of the ~8 reductions and element-wise kernels of the stock-op form (a VQGAN
// decoder calls it ~30 times per pass, on activations of up to 2 x 256 x 256 x 128).
// Not a stock kernel and forward-only: inference code calls it through `tf.engine().runKernel`
// where `kernelsRegistered(GROUP_NORM_KERNEL)` and keeps its own stock-op form for training and for
// other backends (see @artist-ts/vqgan's group_norm.ts).
import { f32 } from '../host';
import type { KernelImpl } from './types';

/**
 * Forward kernel: inputs {x [batch, ..., c], gamma [c], beta [c]} float32; attrs {groups (divides
 * c), eps >= 0, swish: boolean} -> y (x's shape) = GroupNorm(x) (PyTorch semantics: groups of
 * c / groups contiguous channels, biased variance over the inner positions and the group's
 * channels), then y sigmoid(y) when `swish`. No gradient is registered.
 */
export const GROUP_NORM_KERNEL = 'ArtistGroupNorm';

const groupNormForward: KernelImpl = {
  kernelName: GROUP_NORM_KERNEL,
  kind: 'native',
  run({ inputs, attrs, host, native }) {
    const { x, gamma, beta } = inputs;
    const { groups, eps, swish } = attrs;
    if (!native?.groupNormForward || !x || !gamma || !beta || x.shape.length < 2) return null;
    if ([x, gamma, beta].some((t) => t.dtype !== 'float32')) return null;
    const c = x.shape[x.shape.length - 1]!;
    const batch = x.shape[0]!;
    const size = x.shape.reduce((p, q) => p * q, 1);
    if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1 || c % groups !== 0)
      return null;
    if (typeof eps !== 'number' || !(eps >= 0) || typeof swish !== 'boolean') return null;
    if (gamma.shape.length !== 1 || gamma.shape[0] !== c) return null;
    if (beta.shape.length !== 1 || beta.shape[0] !== c) return null;
    const y = host.alloc(x.shape, 'float32');
    if (size === 0) return y;
    native.groupNormForward(
      f32(host, x),
      f32(host, gamma),
      f32(host, beta),
      f32(host, y),
      batch,
      size / (batch * c),
      c,
      groups,
      eps,
      swish,
    );
    return y;
  },
};

/** The GroupNorm kernel, or none when the addon predates it. */
export function groupNormNativeKernels(native: { groupNormForward?: unknown }): KernelImpl[] {
  return typeof native.groupNormForward === 'function' ? [groupNormForward] : [];
}
