// Fused Adam: one kernel per variable (three outputs: the new value and both moments) instead of
// the ~12 element-wise kernels tf.train.adam runs per variable (about 640 kernel calls and 12 full
// passes over the parameters for the tiny GPT's 53 variables). Like the sparse cross-entropy, this is
// not a kernel of a stock op: models opt in with `createFusedAdam`, an AdamOptimizer subclass whose
// state, getWeights/setWeights and serialisation are those of tf.train.adam.
import type * as tfjs from '@tensorflow/tfjs';
import { f32, type Tf } from '../host';
import type { KernelImpl } from './types';

/** Inputs {x, m, v, g} (float32, same shape); attrs {lr, beta1, beta2, epsilon, c1, c2}; outputs [x', m', v']. */
export const ADAM_UPDATE_KERNEL = 'ArtistAdamUpdate';
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

interface AdamAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1 - beta1^t */
  c1: number;
  /** 1 - beta2^t */
  c2: number;
}

/** JS reference of the fused step, rounding to float32 where the stock op sequence does. */
export function adamUpdateJs(
  x: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  xOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  a: AdamAttrs,
): void {
  const fr = Math.fround;
  const b1 = fr(a.beta1);
  const b2 = fr(a.beta2);
  const ob1 = fr(1 - a.beta1); // in double, as the op-by-op update does
  const ob2 = fr(1 - a.beta2);
  const c1 = fr(a.c1);
  const c2 = fr(a.c2);
  const eps = fr(a.epsilon);
  const nlr = fr(-a.lr);
  for (let i = 0; i < x.length; i++) {
    const gi = g[i]!;
    const mi = fr(fr(m[i]! * b1) + fr(gi * ob1));
    const vi = fr(fr(v[i]! * b2) + fr(fr(gi * gi) * ob2));
    const step = fr(fr(mi / c1) / fr(fr(Math.sqrt(fr(vi / c2))) + eps));
    xOut[i] = fr(step * nlr) + x[i]!;
    mOut[i] = mi;
    vOut[i] = vi;
  }
}

function adamKernel(kind: 'native' | 'js', form: 'adam' | 'adamw'): KernelImpl {
  return {
    kernelName: form === 'adam' ? ADAM_UPDATE_KERNEL : ADAMW_UPDATE_KERNEL,
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
      if (form === 'adam') {
        const a = attrs as unknown as AdamAttrs;
        if (kind === 'native' && native) {
          native.adamUpdate(...views, a.lr, a.beta1, a.beta2, a.epsilon, a.c1, a.c2);
        } else {
          adamUpdateJs(...views, a);
        }
      } else {
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
      }
      return [xo, mo, vo];
    },
  };
}

export const adamNativeKernels: KernelImpl[] = [
  adamKernel('native', 'adam'),
  adamKernel('native', 'adamw'),
];
export const adamJsKernels: KernelImpl[] = [adamKernel('js', 'adam'), adamKernel('js', 'adamw')];

/** The private state of tfjs's AdamOptimizer that the fused step reads and updates. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tfjs.Variable;
  accBeta2: tfjs.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tfjs.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tfjs.Variable }[];
  incrementIterations(): void;
}

/**
 * `tf.train.adam(learningRate, beta1, beta2, epsilon)` whose update runs as one fused kernel per
 * variable on backends where `installKernels` registered it (cpu, wasm), and as the stock update
 * elsewhere. Same state layout, `getWeights`/`setWeights` and class name ('Adam'), so checkpoints
 * written with either optimizer load into the other.
 */
export function createFusedAdam(
  tf: Tf,
  learningRate: number,
  beta1 = 0.9,
  beta2 = 0.999,
  epsilon?: number,
): tfjs.AdamOptimizer {
  for (const [k, val] of Object.entries({ learningRate, beta1, beta2 })) {
    if (typeof val !== 'number' || !Number.isFinite(val)) {
      throw new RangeError(`createFusedAdam: ${k} must be a finite number, got ${String(val)}`);
    }
  }
  class FusedAdamOptimizer extends tf.AdamOptimizer {
    override applyGradients(
      variableGradients: Parameters<tfjs.AdamOptimizer['applyGradients']>[0],
    ): void {
      const s = this as unknown as AdamInternals;
      const names = Array.isArray(variableGradients)
        ? variableGradients.map((v) => v.name)
        : Object.keys(variableGradients);
      const gradOf = (i: number, name: string) =>
        Array.isArray(variableGradients)
          ? variableGradients[i]!.tensor
          : (variableGradients as Record<string, tfjs.Tensor | undefined>)[name];
      const registered = tf.engine().registeredVariables;
      const fusable =
        tf.getKernel(ADAM_UPDATE_KERNEL, tf.getBackend()) !== undefined &&
        names.every((name, i) => {
          const g = gradOf(i, name);
          return registered[name]?.dtype === 'float32' && (g == null || g.dtype === 'float32');
        });
      if (!fusable) {
        super.applyGradients(variableGradients);
        return;
      }
      tf.tidy(() => {
        // the stock update evaluates 1 - accBeta in float32
        const c1 = Math.fround(1 - s.accBeta1.dataSync()[0]!);
        const c2 = Math.fround(1 - s.accBeta2.dataSync()[0]!);
        const attrs = {
          lr: s.learningRate,
          beta1: s.beta1,
          beta2: s.beta2,
          epsilon: s.epsilon,
          c1,
          c2,
        };
        names.forEach((name, i) => {
          const value = registered[name]!;
          s.accumulatedFirstMoment[i] ??= {
            originalName: `${name}/m`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
          s.accumulatedSecondMoment[i] ??= {
            originalName: `${name}/v`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
          const g = gradOf(i, name);
          if (g == null) return;
          const m = s.accumulatedFirstMoment[i]!.variable;
          const v = s.accumulatedSecondMoment[i]!.variable;
          const [nx, nm, nv] = tf
            .engine()
            .runKernel(
              ADAM_UPDATE_KERNEL,
              { x: value, m, v, g },
              attrs as unknown as tfjs.NamedAttrMap,
            ) as tfjs.Tensor[];
          m.assign(nm!);
          v.assign(nv!);
          value.assign(nx!);
        });
        s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
        s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
      });
      s.incrementIterations();
    }
  }
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
