// Fused LayerNorm over the last axis: one pass forward (mean, biased variance, normalise, scale,
// shift) and one backward (dx, dgamma, dbeta), instead of the ~20 reduction and element-wise
// kernels of moments + normalise + affine and their gradients.
// Not a stock kernel: models opt in by calling `fusedLayerNorm`; other backends run the composite.
import * as tf from '@tensorflow/tfjs';
import { f32 } from '../host';
import { type GradFn, kernelsRegistered, requireFloat32 } from './fused_common';
import type { KernelImpl } from './types';

/**
 * Forward kernel: inputs {x [..., dim], gamma [dim], beta [dim]} f32; attrs {eps} ->
 * [y (x's shape), mean [rows], rstd [rows]] with rows = x.size / dim, rstd = 1 / sqrt(var + eps).
 */
export const LAYER_NORM_KERNEL = 'ArtistLayerNorm';
/** Gradient kernel: inputs {x, gamma, mean, rstd, dy (x's shape)} -> [dx (x's shape), dgamma [dim], dbeta [dim]]. */
export const LAYER_NORM_GRAD_KERNEL = 'ArtistLayerNormGrad';

/** [rows, dim] of a float32 x [..., dim], or null. */
function rowsOf(x: tf.TensorInfo | undefined): [number, number] | null {
  if (x?.dtype !== 'float32' || x.shape.length < 1) return null;
  const dim = x.shape[x.shape.length - 1]!;
  const size = x.shape.reduce((p, q) => p * q, 1);
  return [dim === 0 ? 0 : size / dim, dim];
}

function sameShape(a: tf.TensorInfo | undefined, b: tf.TensorInfo): boolean {
  return (
    a?.dtype === 'float32' &&
    a.shape.length === b.shape.length &&
    a.shape.every((d, i) => d === b.shape[i])
  );
}

function is1d(t: tf.TensorInfo | undefined, n: number): boolean {
  return !!t && t.dtype === 'float32' && t.shape.length === 1 && t.shape[0] === n;
}

const layerNormForward: KernelImpl = {
  kernelName: LAYER_NORM_KERNEL,
  kind: 'native',
  run({ inputs, attrs, host, native }) {
    const { x, gamma, beta } = inputs;
    const eps = attrs.eps;
    const rd = rowsOf(x);
    if (!native || !x || !rd || typeof eps !== 'number') return null;
    const [rows, dim] = rd;
    if (!is1d(gamma, dim) || !is1d(beta, dim)) return null;
    const y = host.alloc(x.shape, 'float32');
    const mean = host.alloc([rows], 'float32');
    const rstd = host.alloc([rows], 'float32');
    native.layerNormForward(
      f32(host, x),
      f32(host, gamma!),
      f32(host, beta!),
      f32(host, y),
      f32(host, mean),
      f32(host, rstd),
      rows,
      dim,
      eps,
    );
    return [y, mean, rstd];
  },
};

const layerNormBackward: KernelImpl = {
  kernelName: LAYER_NORM_GRAD_KERNEL,
  kind: 'native',
  run({ inputs, host, native }) {
    const { x, gamma, mean, rstd, dy } = inputs;
    const rd = rowsOf(x);
    if (!native || !x || !rd || !sameShape(dy, x)) return null;
    const [rows, dim] = rd;
    if (!is1d(gamma, dim) || !is1d(mean, rows) || !is1d(rstd, rows)) return null;
    const dx = host.alloc(x.shape, 'float32');
    const dgamma = host.alloc([dim], 'float32');
    const dbeta = host.alloc([dim], 'float32');
    native.layerNormBackward(
      f32(host, x),
      f32(host, gamma!),
      f32(host, mean!),
      f32(host, rstd!),
      f32(host, dy!),
      f32(host, dx),
      f32(host, dgamma),
      f32(host, dbeta),
      rows,
      dim,
    );
    return [dx, dgamma, dbeta];
  },
};

export const layerNormNativeKernels: KernelImpl[] = [layerNormForward, layerNormBackward];

/** The composite formula with stock ops: (x - mean) / sqrt(var + eps) * gamma + beta. */
export function layerNormComposite(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true); // [..., 1]
    const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(xhat, gamma), beta);
  });
}

/**
 * LayerNorm over the last axis of float32 `x` [..., dim] with biased variance (PyTorch's
 * `F.layer_norm(x, [dim], gamma, beta, eps)`): `(x - mean) / sqrt(var + eps) * gamma + beta`.
 * `gamma` and `beta` are float32 [dim]. Differentiable in all three. One fused kernel forward and
 * backward where `installKernels` registered them (cpu and wasm with the addon), the composite
 * formula elsewhere.
 */
export function fusedLayerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
): tf.Tensor {
  const op = 'fusedLayerNorm';
  requireFloat32(op, 'x', x);
  requireFloat32(op, 'gamma', gamma);
  requireFloat32(op, 'beta', beta);
  if (x.rank < 1) throw new RangeError(`${op}: x must have rank >= 1 ([..., dim]), got a scalar`);
  const dim = x.shape[x.rank - 1]!;
  for (const [name, t] of [
    ['gamma', gamma],
    ['beta', beta],
  ] as const) {
    if (t.rank !== 1 || t.shape[0] !== dim) {
      throw new RangeError(
        `${op}: ${name} must have shape [${dim}] (the last dim of x [${x.shape}]), got [${t.shape}]`,
      );
    }
  }
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) {
    throw new RangeError(`${op}: eps must be a finite number >= 0, got ${String(eps)}`);
  }
  if (!kernelsRegistered(LAYER_NORM_KERNEL, LAYER_NORM_GRAD_KERNEL)) {
    return layerNormComposite(x, gamma, beta, eps);
  }
  const attrs = { eps } as unknown as tf.NamedAttrMap;
  const fused = tf.customGrad(((
    xi: tf.Tensor,
    g: tf.Tensor,
    b: tf.Tensor,
    save: tf.GradSaveFunc,
  ) => {
    // y [..., dim], mean and rstd [rows]
    const [y, mean, rstd] = tf
      .engine()
      .runKernel(LAYER_NORM_KERNEL, { x: xi, gamma: g, beta: b }, attrs) as tf.Tensor[];
    save([xi, g, mean!, rstd!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg, sm, sr] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const [dx, dg, db] = tf
          .engine()
          .runKernel(
            LAYER_NORM_GRAD_KERNEL,
            { x: sx, gamma: sg, mean: sm, rstd: sr, dy },
            {},
          ) as tf.Tensor[];
        return [dx!, dg!, db!];
      },
    };
  }) as GradFn);
  return fused(x, gamma, beta) as tf.Tensor;
}
