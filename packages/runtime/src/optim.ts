/**
 * AdamW (Loshchilov & Hutter), PyTorch's formulation, resumable bit for bit.
 *
 * tf.train.adam keeps its bias corrections as running products in float32 variables and recomputes
 * them with pow() on setWeights(), so a resumed run drifts from an uninterrupted one in the last
 * bits, and setWeights() leaks the replaced slot variables. Here the step count is an integer, the
 * bias corrections are computed from it in float64, and restored slots are assigned in place.
 *
 * Per step, for every parameter p with gradient g (t = step after increment):
 *   p <- p * (1 - lr * wd)                      (decoupled decay; only where `decay(name)` is true)
 *   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 */

import type { DeferredTensor } from '@artist-ts/core/checkpoint-files';
import { ADAMW_UPDATE_KERNEL } from '@artist-ts/native-kernels';
import * as tf from '@tensorflow/tfjs';
import { deferredTensor, type NamedTensor } from './checkpoint';

export interface AdamWConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay; 0 turns AdamW into Adam. */
  weightDecay: number;
  /** Which parameters decay (default: all). Typical: not biases, norms or embeddings. */
  decay?: (name: string) => boolean;
}

export const DEFAULT_ADAMW_CONFIG: AdamWConfig = {
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay: 0.01,
};

export function validateAdamWConfig(config: Partial<AdamWConfig> = {}): AdamWConfig {
  const c: AdamWConfig = { ...DEFAULT_ADAMW_CONFIG, ...config };
  const check = (field: keyof AdamWConfig, ok: boolean, rule: string) => {
    if (!ok) throw new Error(`AdamW config field '${field}' ${rule}, got ${String(c[field])}`);
  };
  check(
    'learningRate',
    Number.isFinite(c.learningRate) && c.learningRate >= 0,
    'must be a finite number >= 0',
  );
  check('beta1', c.beta1 >= 0 && c.beta1 < 1, 'must be in [0, 1)');
  check('beta2', c.beta2 >= 0 && c.beta2 < 1, 'must be in [0, 1)');
  check('epsilon', c.epsilon > 0, 'must be > 0');
  check(
    'weightDecay',
    Number.isFinite(c.weightDecay) && c.weightDecay >= 0,
    'must be a finite number >= 0',
  );
  return c;
}

export class AdamW {
  readonly name = 'adamw';
  readonly config: AdamWConfig;
  /** Number of updates applied so far. */
  step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(config: Partial<AdamWConfig> = {}) {
    this.config = validateAdamWConfig(config);
  }

  get learningRate(): number {
    return this.config.learningRate;
  }

  set learningRate(lr: number) {
    if (!(Number.isFinite(lr) && lr >= 0))
      throw new Error(`AdamW learningRate must be >= 0, got ${lr}`);
    this.config.learningRate = lr;
  }

  private slot(store: Map<string, tf.Variable>, name: string, like: tf.Tensor): tf.Variable {
    let s = store.get(name);
    if (!s) {
      s = tf.tidy(() => tf.variable(tf.zerosLike(like), false));
      store.set(name, s);
    }
    return s;
  }

  /**
   * Applies one update. `grads` and `vars` are keyed by parameter name; grads are not disposed.
   * `gradScale` multiplies every gradient first (e.g. the factor of global-norm clipping), one
   * parameter at a time, so no scaled copy of the whole gradient set is ever held.
   */
  applyGradients(
    vars: Record<string, tf.Variable>,
    grads: Record<string, tf.Tensor>,
    options: { gradScale?: number } = {},
  ): void {
    const gradScale = options.gradScale ?? 1;
    if (!(Number.isFinite(gradScale) && gradScale >= 0)) {
      throw new Error(`AdamW gradScale must be a finite number >= 0, got ${gradScale}`);
    }
    this.step += 1;
    const { beta1: b1, beta2: b2, learningRate: lr } = this.config;
    const bc1 = 1 - b1 ** this.step;
    const bc2 = 1 - b2 ** this.step;
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    // One kernel per parameter where @artist-ts/native-kernels registered it (same operation order).
    const fused = tf.getKernel(ADAMW_UPDATE_KERNEL, tf.getBackend()) !== undefined;
    for (const [name, grad] of Object.entries(grads)) {
      const p = vars[name];
      if (!p) throw new Error(`AdamW: gradient for unknown parameter '${name}'`);
      const g = gradScale === 1 ? grad : tf.mul(grad, gradScale);
      try {
        this.update(p, g, name, fused, { lr, stepSize, sqrtBc2 });
      } finally {
        if (g !== grad) g.dispose();
      }
    }
  }

  private update(
    p: tf.Variable,
    g: tf.Tensor,
    name: string,
    fused: boolean,
    s: { lr: number; stepSize: number; sqrtBc2: number },
  ): void {
    const { beta1: b1, beta2: b2, epsilon, weightDecay } = this.config;
    const { lr, stepSize, sqrtBc2 } = s;
    const m = this.slot(this.m, name, p);
    const v = this.slot(this.v, name, p);
    const decays = weightDecay > 0 && (this.config.decay ? this.config.decay(name) : true);
    const decayFactor = decays ? 1 - lr * weightDecay : 1;
    if (fused && p.dtype === 'float32' && g.dtype === 'float32') {
      const [p1, m1, v1] = tf.engine().runKernel(
        ADAMW_UPDATE_KERNEL,
        { x: p, m, v, g },
        {
          beta1: b1,
          beta2: b2,
          epsilon,
          decayFactor,
          sqrtBc2,
          stepSize,
        },
      ) as tf.Tensor[];
      m.assign(m1 as tf.Tensor);
      v.assign(v1 as tf.Tensor);
      p.assign(p1 as tf.Tensor);
      tf.dispose([p1, m1, v1] as tf.Tensor[]);
      return;
    }
    tf.tidy(() => {
      const p0 = decays ? tf.mul(p, decayFactor) : p;
      const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
      const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
      const denom = tf.add(tf.div(tf.sqrt(v1), sqrtBc2), epsilon);
      const p1 = tf.sub(p0, tf.mul(tf.div(m1, denom), stepSize));
      m.assign(m1);
      v.assign(v1);
      p.assign(p1);
    });
  }

  /**
   * Slots for checkpoints: `step` (int32 scalar) then `m/<name>` and `v/<name>` per parameter.
   * The returned tensors are new; the caller disposes them (saveCheckpoint does not).
   */
  getWeights(): NamedTensor[] {
    const out: NamedTensor[] = [{ name: 'step', tensor: tf.scalar(this.step, 'int32') }];
    for (const [name, s] of this.m) out.push({ name: `m/${name}`, tensor: tf.clone(s) });
    for (const [name, s] of this.v) out.push({ name: `v/${name}`, tensor: tf.clone(s) });
    return out;
  }

  /**
   * The same slots as `getWeights()`, same names and order, for a checkpoint writer: each is read
   * from the live slot variable when the writer reaches it, so saving makes no copy of the moments
   * on the backend (getWeights' clones of an ARTIST-base GPT's are 1 GiB). Nothing to dispose; the
   * optimizer must not step while they are written.
   */
  checkpointSlots(): DeferredTensor[] {
    const step = this.step;
    const out: DeferredTensor[] = [
      { name: 'step', shape: [], dtype: 'int32', values: async () => Int32Array.of(step) },
    ];
    for (const [name, s] of this.m) out.push(deferredTensor(`m/${name}`, s));
    for (const [name, s] of this.v) out.push(deferredTensor(`v/${name}`, s));
    return out;
  }

  /** Restores slots written by getWeights(); existing slot variables are reused or disposed. */
  setWeights(weights: NamedTensor[]): void {
    const seen = new Set<string>();
    for (const { name, tensor } of weights) {
      if (name === 'step') {
        this.step = tensor.dataSync()[0];
        continue;
      }
      const kind = name.slice(0, 2);
      const param = name.slice(2);
      const store = kind === 'm/' ? this.m : kind === 'v/' ? this.v : null;
      if (!store) throw new Error(`AdamW.setWeights: unexpected slot '${name}'`);
      seen.add(name);
      const existing = store.get(param);
      if (existing && tf.util.arraysEqual(existing.shape, tensor.shape)) existing.assign(tensor);
      else {
        existing?.dispose();
        store.set(param, tf.variable(tensor, false));
      }
    }
    for (const [prefix, store] of [
      ['m/', this.m],
      ['v/', this.v],
    ] as const) {
      for (const [param, s] of store) {
        if (!seen.has(prefix + param)) {
          s.dispose();
          store.delete(param);
        }
      }
    }
  }

  dispose(): void {
    for (const s of this.m.values()) s.dispose();
    for (const s of this.v.values()) s.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * Scales gradients so that their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_).
 * Returns new tensors (caller disposes) and the norm before clipping.
 */
export function clipByGlobalNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): { grads: Record<string, tf.Tensor>; norm: number } {
  const norm = globalNorm(grads);
  const scale = clipScale(norm, maxNorm);
  const out: Record<string, tf.Tensor> = {};
  for (const n of Object.keys(grads)) {
    out[n] = scale === 1 ? tf.clone(grads[n]) : tf.mul(grads[n], scale);
  }
  return { grads: out, norm };
}

/**
 * The global L2 norm of `grads`, squaring one tensor at a time (no squared copy of the whole
 * gradient set is held).
 */
export function globalNorm(grads: Record<string, tf.Tensor>): number {
  const sums = Object.values(grads).map((g) => tf.tidy(() => tf.sum(tf.square(g))));
  const normT = tf.tidy(() => tf.sqrt(tf.addN(sums)));
  tf.dispose(sums);
  const norm = normT.dataSync()[0];
  normT.dispose();
  return norm;
}

/** The factor `clipByGlobalNorm` scales gradients of global norm `norm` by: 1 when within `maxNorm`. */
export function clipScale(norm: number, maxNorm: number): number {
  return norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}
