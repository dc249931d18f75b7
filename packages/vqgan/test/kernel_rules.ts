/**
 * Records the kernel calls of a piece of code and checks them against tfjs-node's attribute rules
 * (tfjs-node's Conv2D / Conv2DBackpropInput / Conv2DBackpropFilter / DepthwiseConv2dNative* and
 * their fused forms accept padding 'valid' or 'same' only, and no dimRoundingMode). Works by
 * re-registering the backend's kernels with a recording wrapper for the duration of the call.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelCall {
  kernel: string;
  attrs: Record<string, unknown>;
}

/** Kernels whose `pad` must be 'valid' / 'same' and whose `dimRoundingMode` must be unset. */
export const PADDED_CONV_KERNELS: readonly string[] = [
  'Conv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNative',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'FusedConv2D',
  'FusedDepthwiseConv2D',
];

/** Runs `fn`, recording every call of `kernels` on the current backend. */
export function recordKernelCalls<T>(
  kernels: readonly string[],
  fn: () => T,
): { result: T; calls: KernelCall[] } {
  const backend = tf.getBackend();
  const calls: KernelCall[] = [];
  const originals: tf.KernelConfig[] = [];
  for (const name of kernels) {
    const config = tf.getKernel(name, backend);
    if (!config) continue;
    originals.push(config);
    tf.unregisterKernel(name, backend);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        calls.push({ kernel: name, attrs: { ...(args.attrs as Record<string, unknown>) } });
        return config.kernelFunc(args);
      },
    });
  }
  try {
    return { result: fn(), calls };
  } finally {
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, backend);
      tf.registerKernel(config);
    }
  }
}

/** The calls tfjs-node would reject, each as a readable line. */
export function tfjsNodeViolations(calls: readonly KernelCall[]): string[] {
  const out: string[] = [];
  for (const c of calls) {
    if (!PADDED_CONV_KERNELS.includes(c.kernel)) continue;
    const pad = c.attrs.pad;
    if (pad !== 'valid' && pad !== 'same')
      out.push(`${c.kernel}: pad ${JSON.stringify(pad)} (tfjs-node accepts 'valid' / 'same')`);
    if (c.attrs.dimRoundingMode != null)
      out.push(`${c.kernel}: dimRoundingMode ${String(c.attrs.dimRoundingMode)}`);
  }
  return out;
}
