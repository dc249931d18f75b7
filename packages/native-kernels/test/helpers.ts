// Shared test helpers: seeded data, relative-error checks, leak checks, and running a function
// under the stock kernels (with this package's kernels removed) for parity references.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  type InstallKernelsOptions,
  installKernels,
  type KernelBackendName,
  uninstallKernels,
} from '../src';

export { tf };

export const BACKENDS: KernelBackendName[] = ['cpu', 'wasm'];
/** Modes every parity test runs in: with the addon (when built) and JS kernels only. */
export const MODES: { label: string; options: InstallKernelsOptions }[] = [
  { label: 'native', options: { native: true } },
  { label: 'js', options: { native: false } },
];

/** xorshift32 in [0, 1), independent of tfjs's global RNG. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

export function randArray(rand: () => number, n: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

export function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** max |a - e| / max(max |e|, 1e-12): error relative to the magnitude of the expected values. */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new Error(`length mismatch: actual ${actual.length}, expected ${expected.length}`);
  }
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}

export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-4,
): void {
  const err = relError(actual, expected);
  if (!(err <= rtol)) {
    throw new Error(
      `relative error ${err.toExponential(3)} > ${rtol} (first values ${Array.from(actual).slice(0, 4)} vs ${Array.from(expected).slice(0, 4)})`,
    );
  }
}

export async function useBackend(name: KernelBackendName): Promise<void> {
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`backend ${name} failed to initialise`);
  }
  await tf.ready();
}

/** Runs `fn` on `backend` with the stock kernels only, then reinstalls with `restore` (if given). */
export async function withStock<T>(
  backend: KernelBackendName,
  fn: () => T,
  restore?: InstallKernelsOptions,
): Promise<T> {
  const prev = tf.getBackend();
  await useBackend(backend);
  uninstallKernels(tf, backend);
  try {
    return fn();
  } finally {
    if (restore) installKernels(tf, backend, restore);
    if (prev && prev !== backend) await useBackend(prev as KernelBackendName);
  }
}

/** Calls `fn` (which must dispose what it creates) and asserts no tensor or backend buffer leaked. */
export function expectNoLeaks(fn: () => void): void {
  fn(); // warm-up: lazily created backend state is not a leak
  const tensors = tf.memory().numTensors;
  const dataIds = tf.engine().backend.numDataIds();
  fn();
  expect(tf.memory().numTensors).toBe(tensors);
  expect(tf.engine().backend.numDataIds()).toBe(dataIds);
}

/** Values of a list of tensors as plain float arrays; disposes them. */
export function take(ts: tf.Tensor[]): Float32Array[] {
  const out = ts.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(ts);
  return out;
}

// C = alpha op(A) op(B) + beta C0 in float64 (beta = 0 ignores C0, as BLAS does)
export function referenceGemm(
  a: Float32Array,
  b: Float32Array,
  c0: Float32Array,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean,
  alpha: number,
  beta: number,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        s += a[ta ? p * m + i : i * k + p]! * b[tb ? j * k + p : p * n + j]!;
      }
      c[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * c0[i * n + j]!);
    }
  }
  return c;
}
