// Fused causal self-attention on q, k, v [b, t, d] with d = nHead * hd and head h in columns
// h*hd .. h*hd+hd-1 (the layout of a fused qkv projection split along its last axis), so neither
// the [b, t, h, hd] -> [b, h, t, hd] transposes nor the qkv split are materialised:
//   per (b, h): S = scale Q K^T with S[i, j] = -inf for j > i, P = softmax(S), Y = P V
// Gradient: dV = P^T dY, dP = dY V^T, dS = P (dP - rowsum(dP P)), dQ = scale dS K, dK = scale dS^T Q.
// The kernels run the products as strided BLAS calls per (b, h), skipping most of the masked upper
// triangle, split across the addon's pool. Models opt in by calling `causalSelfAttention`; other
// backends run the same function with stock ops.
import * as tf from '@tensorflow/tfjs';
import { f32 } from '../host';
import { type GradFn, kernelsRegistered, requireFloat32 } from './fused_common';
import type { KernelImpl } from './types';

/** Forward kernel: inputs {q, k, v} f32 [b, t, d]; attrs {nHead, scale} -> [y [b, t, d], p [b, nHead, t, t]]. */
export const CAUSAL_ATTENTION_KERNEL = 'ArtistCausalAttention';
/** Gradient kernel: inputs {q, k, v, p, dy}; attrs {nHead, scale} -> [dq, dk, dv] (each [b, t, d]). */
export const CAUSAL_ATTENTION_GRAD_KERNEL = 'ArtistCausalAttentionGrad';

interface Dims {
  b: number;
  t: number;
  d: number;
  nHead: number;
  hd: number;
  scale: number;
}

function dimsOf(
  inputs: Record<string, tf.TensorInfo>,
  names: string[],
  attrs: Record<string, unknown>,
): Dims | null {
  const { q } = inputs;
  const nHead = attrs.nHead;
  const scale = attrs.scale;
  if (q?.shape.length !== 3 || typeof nHead !== 'number' || typeof scale !== 'number') {
    return null;
  }
  const [b, t, d] = q.shape as [number, number, number];
  if (!Number.isInteger(nHead) || nHead < 1 || d % nHead !== 0) return null;
  for (const n of names) {
    const x = inputs[n];
    if (x?.dtype !== 'float32' || x.shape.length !== 3) return null;
    if (x.shape[0] !== b || x.shape[1] !== t || x.shape[2] !== d) return null;
  }
  return { b, t, d, nHead, hd: d / nHead, scale };
}

const attentionForward: KernelImpl = {
  kernelName: CAUSAL_ATTENTION_KERNEL,
  kind: 'native',
  run({ inputs, attrs, host, native }) {
    const s = dimsOf(inputs, ['q', 'k', 'v'], attrs);
    if (!native || !s) return null;
    const y = host.alloc([s.b, s.t, s.d], 'float32');
    const p = host.alloc([s.b, s.nHead, s.t, s.t], 'float32');
    native.causalAttentionForward(
      f32(host, inputs.q!),
      f32(host, inputs.k!),
      f32(host, inputs.v!),
      f32(host, y),
      f32(host, p),
      s.b,
      s.t,
      s.nHead,
      s.hd,
      s.scale,
    );
    return [y, p];
  },
};

const attentionBackward: KernelImpl = {
  kernelName: CAUSAL_ATTENTION_GRAD_KERNEL,
  kind: 'native',
  run({ inputs, attrs, host, native }) {
    const s = dimsOf(inputs, ['q', 'k', 'v', 'dy'], attrs);
    const p = inputs.p;
    if (!native || !s || !p || p.dtype !== 'float32') return null;
    const pShape = [s.b, s.nHead, s.t, s.t];
    if (p.shape.length !== 4 || p.shape.some((x, i) => x !== pShape[i])) return null;
    const dq = host.alloc([s.b, s.t, s.d], 'float32');
    const dk = host.alloc([s.b, s.t, s.d], 'float32');
    const dv = host.alloc([s.b, s.t, s.d], 'float32');
    native.causalAttentionBackward(
      f32(host, inputs.q!),
      f32(host, inputs.k!),
      f32(host, inputs.v!),
      f32(host, p),
      f32(host, inputs.dy!),
      f32(host, dq),
      f32(host, dk),
      f32(host, dv),
      s.b,
      s.t,
      s.nHead,
      s.hd,
      s.scale,
    );
    return [dq, dk, dv];
  },
};

export const causalAttentionNativeKernels: KernelImpl[] = [attentionForward, attentionBackward];

/** The same function with stock ops (split heads, masked softmax, merge heads); autodiff gradients. */
export function causalAttentionComposite(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  nHead: number,
  scale: number,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, t, d] = q.shape;
    const hd = d / nHead;
    const heads = (x: tf.Tensor3D) => tf.transpose(tf.reshape(x, [b, t, nHead, hd]), [0, 2, 1, 3]); // [b, h, t, hd]
    // [t, t]: 0 on and below the diagonal, -1e9 above
    const mask = tf.mul(tf.sub(tf.linalg.bandPart(tf.ones([t, t]), -1, 0), 1), 1e9);
    const scores = tf.add(tf.mul(tf.matMul(heads(q), heads(k), false, true), scale), mask); // [b, h, t, t]
    const y = tf.matMul(tf.softmax(scores), heads(v)); // [b, h, t, hd]
    return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [b, t, d]) as tf.Tensor3D;
  });
}

/**
 * Causal (decoder) self-attention of float32 `q`, `k`, `v` [b, t, d] with `nHead` heads of
 * hd = d / nHead columns each (head h = columns h*hd .. h*hd+hd-1): per head,
 * `softmax(scale Q K^T, masked above the diagonal) V`, heads concatenated back to [b, t, d] (the
 * input of the output projection). `scale` defaults to 1 / sqrt(hd). Differentiable in q, k and v.
 * One fused kernel forward and backward where `installKernels` registered them (cpu and wasm with
 * the addon; the [b, nHead, t, t] attention weights are kept for the gradient), the same function
 * with stock ops elsewhere.
 */
export function causalSelfAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  nHead: number,
  scale?: number,
): tf.Tensor3D {
  const op = 'causalSelfAttention';
  requireFloat32(op, 'q', q);
  requireFloat32(op, 'k', k);
  requireFloat32(op, 'v', v);
  if (q.rank !== 3) throw new RangeError(`${op}: q must have rank 3 [b, t, d], got [${q.shape}]`);
  for (const [name, t] of [
    ['k', k],
    ['v', v],
  ] as const) {
    if (t.rank !== 3 || t.shape.some((x, i) => x !== q.shape[i])) {
      throw new RangeError(`${op}: ${name} shape [${t.shape}] must equal q shape [${q.shape}]`);
    }
  }
  const d = q.shape[2];
  if (!Number.isInteger(nHead) || nHead < 1) {
    throw new RangeError(`${op}: nHead must be a positive integer, got ${String(nHead)}`);
  }
  if (d % nHead !== 0) {
    throw new RangeError(`${op}: d = ${d} (last dim of q) is not divisible by nHead = ${nHead}`);
  }
  const s = scale ?? 1 / Math.sqrt(d / nHead);
  if (typeof s !== 'number' || !Number.isFinite(s)) {
    throw new RangeError(`${op}: scale must be a finite number, got ${String(scale)}`);
  }
  if (!kernelsRegistered(CAUSAL_ATTENTION_KERNEL, CAUSAL_ATTENTION_GRAD_KERNEL)) {
    return causalAttentionComposite(q, k, v, nHead, s);
  }
  const attrs = { nHead, scale: s } as unknown as tf.NamedAttrMap;
  const fused = tf.customGrad(((
    qi: tf.Tensor,
    ki: tf.Tensor,
    vi: tf.Tensor,
    save: tf.GradSaveFunc,
  ) => {
    const [y, p] = tf
      .engine()
      .runKernel(CAUSAL_ATTENTION_KERNEL, { q: qi, k: ki, v: vi }, attrs) as tf.Tensor[];
    save([qi, ki, vi, p!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return tf
          .engine()
          .runKernel(
            CAUSAL_ATTENTION_GRAD_KERNEL,
            { q: sq, k: sk, v: sv, p: sp, dy },
            attrs,
          ) as tf.Tensor[];
      },
    };
  }) as GradFn);
  return fused(q, k, v) as tf.Tensor3D;
}
