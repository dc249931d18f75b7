// Fused GELU: one pass forward and one backward instead of the ~10 element-wise kernels of the
// composite formula (about 90 kernels per step of the tiny GPT for its four MLPs).
//   exact ('none'): gelu(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
//   'tanh':         gelu(x) = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
// Not a stock kernel: models opt in by calling `fusedGelu`, which runs the fused kernels where
// installKernels registered them (cpu and wasm with the addon) and the composite formula with stock
// ops (and autodiff) on any other backend.
import * as tf from '@tensorflow/tfjs';
import { f32 } from '../host';
import { type GradFn, kernelsRegistered, requireFloat32 } from './fused_common';
import type { KernelImpl } from './types';

/** Forward kernel: inputs {x} f32; attrs {approximate: 'none' | 'tanh'} -> y (x's shape). */
export const GELU_KERNEL = 'ArtistGelu';
/** Gradient kernel: inputs {x, dy} f32; attrs {approximate} -> dx = dy * gelu'(x). */
export const GELU_GRAD_KERNEL = 'ArtistGeluGrad';

/** The two GELU forms: the exact erf form (PyTorch's default) and the tanh approximation. */
export type GeluApproximate = 'none' | 'tanh';

function formOf(attrs: Record<string, unknown>): number | null {
  if (attrs.approximate === 'none') return 0;
  if (attrs.approximate === 'tanh') return 1;
  return null;
}

const geluForward: KernelImpl = {
  kernelName: GELU_KERNEL,
  kind: 'native',
  run({ inputs, attrs, host, native }) {
    const { x } = inputs;
    const form = formOf(attrs);
    if (!native || !x || x.dtype !== 'float32' || form === null) return null;
    const y = host.alloc(x.shape, 'float32');
    native.geluForward(f32(host, x), f32(host, y), form);
    return y;
  },
};

const geluBackward: KernelImpl = {
  kernelName: GELU_GRAD_KERNEL,
  kind: 'native',
  run({ inputs, attrs, host, native }) {
    const { x, dy } = inputs;
    const form = formOf(attrs);
    if (!native || !x || !dy || form === null) return null;
    if (x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
    if (x.shape.length !== dy.shape.length || x.shape.some((d, i) => d !== dy.shape[i])) {
      return null;
    }
    const dx = host.alloc(x.shape, 'float32');
    native.geluBackward(f32(host, x), f32(host, dy), f32(host, dx), form);
    return dx;
  },
};

export const geluNativeKernels: KernelImpl[] = [geluForward, geluBackward];

/** The composite formula with stock ops (differentiable by autodiff on any backend). */
export function geluComposite(x: tf.Tensor, approximate: GeluApproximate): tf.Tensor {
  return tf.tidy(() => {
    if (approximate === 'tanh') {
      const inner = tf.mul(
        tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)),
        Math.sqrt(2 / Math.PI),
      );
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
    }
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
  });
}

/**
 * GELU of a float32 tensor of any shape: `approximate: 'none'` (default) is the exact
 * `x Phi(x)` of PyTorch's `F.gelu`, `'tanh'` the tanh approximation of GPT-2 / minGPT
 * (`F.gelu(x, approximate='tanh')`). One fused kernel forward and backward where
 * `installKernels` registered them (cpu and wasm with the addon), the composite formula elsewhere.
 */
export function fusedGelu(x: tf.Tensor, approximate: GeluApproximate = 'none'): tf.Tensor {
  requireFloat32('fusedGelu', 'x', x);
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new RangeError(
      `fusedGelu: approximate must be 'none' or 'tanh', got '${String(approximate)}'`,
    );
  }
  if (!kernelsRegistered(GELU_KERNEL, GELU_GRAD_KERNEL)) return geluComposite(x, approximate);
  const attrs = { approximate } as unknown as tf.NamedAttrMap;
  const op = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input]);
    return {
      value: tf.engine().runKernel(GELU_KERNEL, { x: input }, attrs) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(GELU_GRAD_KERNEL, { x: saved[0]!, dy }, attrs) as tf.Tensor,
    };
  }) as GradFn);
  return op(x) as tf.Tensor;
}
