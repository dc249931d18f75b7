/**
 * Named parameters of a model: one tf.Variable per weight, named with taming's state-dict key
 * (`encoder.down.0.block.0.conv1.weight`), layouts as tfjs expects (conv kernels [kh, kw, in, out]).
 * Initialisation follows PyTorch's defaults (what taming trains from), drawn from a seeded Rng.
 */

import type { Rng } from '@artist-ts/core/rng';
import * as tf from '@tensorflow/tfjs';

let storeCounter = 0;

export interface ConvParams {
  weight: tf.Variable<tf.Rank.R4>; // [kh, kw, ci, co]
  bias: tf.Variable<tf.Rank.R1>; // [co]
}

export interface NormParams {
  weight: tf.Variable<tf.Rank.R1>; // gamma [c]
  bias: tf.Variable<tf.Rank.R1>; // beta [c]
}

/** Owns a set of variables under unique engine names; `name` is the logical (taming) name. */
export class ParamStore {
  private readonly vars = new Map<string, tf.Variable>();
  /** Engine-level prefix: tfjs variable names are global, models must not collide. */
  readonly scope: string;

  constructor(
    kind: string,
    private readonly rng: Rng,
    readonly trainable = true,
    /** Fill every random initialiser with zeros (no RNG work: weights are loaded next). */
    private readonly zeroInit = false,
  ) {
    storeCounter += 1;
    this.scope = `${kind}_${storeCounter}`;
  }

  private add<R extends tf.Rank>(
    name: string,
    shape: number[],
    data: Float32Array,
  ): tf.Variable<R> {
    if (this.vars.has(name)) throw new Error(`ParamStore: duplicate parameter '${name}'`);
    const v = tf.tidy(() =>
      tf.variable(tf.tensor(data, shape, 'float32'), this.trainable, `${this.scope}/${name}`),
    ) as unknown as tf.Variable<R>;
    this.vars.set(name, v);
    return v;
  }

  /** U(-bound, bound) */
  uniform<R extends tf.Rank>(name: string, shape: number[], bound: number): tf.Variable<R> {
    const n = shape.reduce((a, d) => a * d, 1);
    const data = new Float32Array(n);
    return this.add<R>(
      name,
      shape,
      this.zeroInit ? data : this.rng.fillUniform(data, -bound, bound),
    );
  }

  /** N(mean, std^2) */
  normal<R extends tf.Rank>(
    name: string,
    shape: number[],
    mean: number,
    std: number,
  ): tf.Variable<R> {
    const n = shape.reduce((a, d) => a * d, 1);
    const data = new Float32Array(n);
    return this.add<R>(name, shape, this.zeroInit ? data : this.rng.fillNormal(data, mean, std));
  }

  constant<R extends tf.Rank>(
    name: string,
    shape: number[],
    value: number,
    trainable?: boolean,
  ): tf.Variable<R> {
    const n = shape.reduce((a, d) => a * d, 1);
    const v = this.add<R>(name, shape, new Float32Array(n).fill(value));
    if (trainable === false) v.trainable = false;
    return v;
  }

  /** PyTorch Conv2d default init: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
  conv(name: string, k: number, ci: number, co: number): ConvParams {
    const bound = 1 / Math.sqrt(ci * k * k);
    return {
      weight: this.uniform<tf.Rank.R4>(`${name}.weight`, [k, k, ci, co], bound),
      bias: this.uniform<tf.Rank.R1>(`${name}.bias`, [co], bound),
    };
  }

  /** GroupNorm/BatchNorm affine: gamma = 1, beta = 0. */
  norm(name: string, c: number): NormParams {
    return {
      weight: this.constant<tf.Rank.R1>(`${name}.weight`, [c], 1),
      bias: this.constant<tf.Rank.R1>(`${name}.bias`, [c], 0),
    };
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`ParamStore: no parameter '${name}'`);
    return v;
  }

  has(name: string): boolean {
    return this.vars.has(name);
  }

  names(): string[] {
    return [...this.vars.keys()];
  }

  /** Logical name -> variable, in creation order. */
  entries(): [string, tf.Variable][] {
    return [...this.vars.entries()];
  }

  trainableVariables(): tf.Variable[] {
    return [...this.vars.values()].filter((v) => v.trainable);
  }

  parameterCount(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
