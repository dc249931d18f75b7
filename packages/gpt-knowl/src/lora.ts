/**
 * LoRA (Hu et al. 2021): rank-r adapters on the attention and MLP projections. A projection
 * `y = x W + b` (W `[in, out]`) trains as `y = x (W + (alpha / r) A B) + b` with A `[in, r]`
 * (N(0, 1/r)) and B `[r, out]` (zeros, so training starts at the base model); W stays frozen and
 * gets no optimizer state. `merge()` folds the adapters into W, leaving a plain model for sampling
 * and export.
 */
import { Rng } from '@artist-ts/core/rng';
import * as tf from '@tensorflow/tfjs';
import type { KnowlGpt } from './model';

/** The projections of a block that can carry an adapter (the parameter name's tail). */
export const LORA_TARGETS = [
  'attn.query',
  'attn.key',
  'attn.value',
  'attn.proj',
  'mlp.0',
  'mlp.2',
] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraConfig {
  /** Adapter rank r. */
  rank: number;
  /** Scale numerator: the update is (alpha / rank) A B. */
  alpha: number;
  /** Which projections of every block get an adapter. */
  targets: LoraTarget[];
}

export const DEFAULT_LORA_CONFIG: LoraConfig = {
  rank: 8,
  alpha: 16,
  targets: [...LORA_TARGETS],
};

export function validateLoraConfig(config: Partial<LoraConfig> = {}, where = 'lora'): LoraConfig {
  const out: LoraConfig = { ...DEFAULT_LORA_CONFIG };
  for (const [k, v] of Object.entries(config)) {
    if (!(k in DEFAULT_LORA_CONFIG)) {
      throw new Error(
        `${where}.${k} is not a LoRA option; allowed: ${Object.keys(DEFAULT_LORA_CONFIG).join(', ')}`,
      );
    }
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  if (!(Number.isInteger(out.rank) && out.rank > 0))
    throw new Error(`${where}.rank must be a positive integer, got ${JSON.stringify(out.rank)}`);
  if (!(typeof out.alpha === 'number' && Number.isFinite(out.alpha) && out.alpha > 0))
    throw new Error(`${where}.alpha must be a number > 0, got ${JSON.stringify(out.alpha)}`);
  if (
    !Array.isArray(out.targets) ||
    out.targets.length === 0 ||
    out.targets.some((t) => !LORA_TARGETS.includes(t))
  ) {
    throw new Error(
      `${where}.targets must be a non-empty list of ${LORA_TARGETS.join(', ')}; got ${JSON.stringify(out.targets)}`,
    );
  }
  return out;
}

/** The adapters of one model. Owns its variables: call `dispose()`. */
export class LoraAdapters {
  readonly config: LoraConfig;
  /** `<weight name>.lora_a` [in, r] and `<weight name>.lora_b` [r, out]. */
  readonly variables: Record<string, tf.Variable> = {};
  /** The adapted weight names (`blocks.L.attn.query.weight`, ...). */
  readonly targets: string[] = [];
  private readonly model: KnowlGpt;
  private readonly scale: number;

  constructor(model: KnowlGpt, config: Partial<LoraConfig> = {}, seed = 'lora') {
    this.model = model;
    this.config = validateLoraConfig(config);
    this.scale = this.config.alpha / this.config.rank;
    const r = this.config.rank;
    const rng = new Rng(`gpt-knowl/lora/${seed}`);
    for (let l = 0; l < model.config.nLayer; l++) {
      for (const t of this.config.targets) {
        const name = `blocks.${l}.${t}.weight`;
        const w = model.variables[name];
        if (!w) throw new Error(`LoRA: the model has no parameter '${name}'`);
        const [inDim, outDim] = w.shape;
        const a = rng.fillNormal(new Float32Array(inDim * r), 0, 1 / Math.sqrt(r));
        // (unnamed: tfjs names them uniquely, so several adapted models can coexist)
        this.variables[`${name}.lora_a`] = tf.tidy(() => tf.variable(tf.tensor2d(a, [inDim, r])));
        this.variables[`${name}.lora_b`] = tf.tidy(() => tf.variable(tf.zeros([r, outDim])));
        this.targets.push(name);
      }
    }
  }

  /** Trainable adapter parameters. */
  numParameters(): number {
    let n = 0;
    for (const v of Object.values(this.variables)) n += v.size;
    return n;
  }

  /** W + (alpha / r) A B for each target (new tensors, differentiable with respect to A and B). */
  adaptedWeights(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const name of this.targets) {
      out[name] = tf.tidy(() =>
        tf.add(
          this.model.variables[name],
          tf.mul(
            tf.matMul(this.variables[`${name}.lora_a`], this.variables[`${name}.lora_b`]),
            this.scale,
          ), // [in, out]
        ),
      );
    }
    return out;
  }

  /** Puts `adapted` in place of the model's targets; returns the function that puts W back. */
  private swapIn(adapted: Record<string, tf.Tensor>): () => void {
    const w = this.model.variables as Record<string, tf.Variable | tf.Tensor>;
    const base: Record<string, tf.Variable | tf.Tensor> = {};
    for (const [name, t] of Object.entries(adapted)) {
      base[name] = w[name];
      w[name] = t;
    }
    return () => Object.assign(w, base);
  }

  /**
   * Runs `fn` with the model reading the adapted weights in place of the targets (inside a
   * gradient tape, the loss is differentiable with respect to the adapters). Synchronous: the
   * caller disposes what `fn` creates (a tf.tidy around it).
   */
  run<T>(fn: () => T): T {
    const restore = this.swapIn(this.adaptedWeights());
    try {
      return fn();
    } finally {
      restore();
    }
  }

  /** `run` for asynchronous work (evaluation): the adapted weights live until `fn` settles. */
  async runAsync<T>(fn: () => Promise<T>): Promise<T> {
    const adapted = this.adaptedWeights();
    const restore = this.swapIn(adapted);
    try {
      return await fn();
    } finally {
      restore();
      tf.dispose(Object.values(adapted));
    }
  }

  /**
   * Folds the adapters into the model's weights (W <- W + (alpha / r) A B) and resets B to zero,
   * so the adapted model is now a plain one (for sampling, `saveGpt`, export).
   */
  merge(): void {
    const adapted = this.adaptedWeights();
    for (const [name, t] of Object.entries(adapted)) {
      this.model.variables[name].assign(t);
      const b = this.variables[`${name}.lora_b`];
      tf.tidy(() => b.assign(tf.zerosLike(b)));
    }
    tf.dispose(Object.values(adapted));
  }

  dispose(): void {
    tf.dispose(Object.values(this.variables));
  }
}
