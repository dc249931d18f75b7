// Shared argument checks and dispatch helpers of the fused transformer ops (gelu.ts,
// layer_norm.ts, causal_attention.ts).
import * as tf from '@tensorflow/tfjs';

/** True when every kernel is registered for the active backend (installKernels ran with the addon). */
export function kernelsRegistered(...names: string[]): boolean {
  const backend = tf.getBackend();
  return names.every((n) => tf.getKernel(n, backend) !== undefined);
}

/** Throws a TypeError naming the op and argument unless `t` is a float32 tensor. */
export function requireFloat32(op: string, name: string, t: unknown): tf.Tensor {
  if (!(t instanceof tf.Tensor)) {
    throw new TypeError(`${op}: ${name} must be a tf.Tensor, got ${describe(t)}`);
  }
  if (t.dtype !== 'float32') {
    throw new TypeError(`${op}: ${name} must be float32, got ${t.dtype} [${t.shape}]`);
  }
  return t;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

export type GradFn = Parameters<typeof tf.customGrad>[0];
