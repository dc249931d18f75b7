// Fused AdamW: one kernel per variable (three outputs: the new value and both moments) instead of
// the ~12 element-wise kernels an op-by-op update runs per variable. Like the sparse cross-entropy,
// this is not a kernel of a stock op: @artist-ts/runtime's `AdamW` (the project's one Adam) calls it
// where `installKernels` registered it (cpu, wasm) and runs the same op sequence elsewhere.
import { f32 } from '../host';
import type { KernelImpl } from './types';

/**
 * The AdamW step of @artist-ts/runtime's `AdamW` (PyTorch's formulation) as one kernel: inputs
 * {x, m, v, g}; attrs {beta1, beta2, epsilon, decayFactor, sqrtBc2, stepSize}; outputs [x', m', v']:
 *   p0 = x * decayFactor (skipped when 1); m' = m b1 + g (1 - b1); v' = v b2 + g^2 (1 - b2)
 *   x' = p0 - (m' / (sqrt(v') / sqrtBc2 + epsilon)) * stepSize
 */
export const ADAMW_UPDATE_KERNEL = 'ArtistAdamWUpdate';

interface AdamWAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  decayFactor: number;
  sqrtBc2: number;
  stepSize: number;
}

/** JS reference of the AdamW kernel, rounding to float32 where the op sequence does. */
export function adamwUpdateJs(
  x: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  xOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  a: AdamWAttrs,
): void {
  const fr = Math.fround;
  const b1 = fr(a.beta1);
  const b2 = fr(a.beta2);
  const ob1 = fr(1 - a.beta1); // in double, as the op-by-op update does
  const ob2 = fr(1 - a.beta2);
  const eps = fr(a.epsilon);
  const decay = fr(a.decayFactor);
  const sq = fr(a.sqrtBc2);
  const ss = fr(a.stepSize);
  for (let i = 0; i < x.length; i++) {
    const gi = g[i]!;
    const p0 = decay !== 1 ? fr(x[i]! * decay) : x[i]!;
    const mi = fr(fr(m[i]! * b1) + fr(gi * ob1));
    const vi = fr(fr(v[i]! * b2) + fr(fr(gi * gi) * ob2));
    const denom = fr(fr(fr(Math.sqrt(vi)) / sq) + eps);
    xOut[i] = fr(p0 - fr(fr(mi / denom) * ss));
    mOut[i] = mi;
    vOut[i] = vi;
  }
}

function adamwKernel(kind: 'native' | 'js'): KernelImpl {
  return {
    kernelName: ADAMW_UPDATE_KERNEL,
    kind,
    run({ inputs, attrs, host, native }) {
      const { x, m, v, g } = inputs;
      if (!x || !m || !v || !g) return null;
      const size = x.shape.reduce((p, q) => p * q, 1);
      for (const t of [x, m, v, g]) {
        if (t.dtype !== 'float32' || t.shape.reduce((p, q) => p * q, 1) !== size) return null;
      }

      const xo = host.alloc(x.shape, 'float32');
      const mo = host.alloc(x.shape, 'float32');
      const vo = host.alloc(x.shape, 'float32');
      if (size === 0) return [xo, mo, vo];
      const views = [x, m, v, g, xo, mo, vo].map((t) => f32(host, t)) as [
        Float32Array,
        Float32Array,
        Float32Array,
        Float32Array,
        Float32Array,
        Float32Array,
        Float32Array,
      ];
      const a = attrs as unknown as AdamWAttrs;
      if (kind === 'native' && native) {
        native.adamwUpdate(
          ...views,
          a.beta1,
          a.beta2,
          a.epsilon,
          a.decayFactor,
          a.sqrtBc2,
          a.stepSize,
        );
      } else {
        adamwUpdateJs(...views, a);
      }
      return [xo, mo, vo];
    },
  };
}

export const adamwNativeKernels: KernelImpl[] = [adamwKernel('native')];
export const adamwJsKernels: KernelImpl[] = [adamwKernel('js')];
