/**
 * Named parameters of a model: one tf.Variable per weight, named with taming's state-dict key
 * (`encoder.down.0.block.0.conv1.weight`), layouts as tfjs expects (conv kernels [kh, kw, in, out]).
 * The VQGAN's variables are created from its parameter table (param_table.ts: PyTorch's default
 * initialisers, drawn from a seeded Rng in table order); the discriminator adds its own.
 */

import type { Rng } from '@artist-ts/core/rng';
import * as tf from '@tensorflow/tfjs';
import { util } from '@tensorflow/tfjs';
import type { VqganParamSpec } from './param_table';

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
    /**
     * Tensors to take as the initial values by name (loaded weights): the variable shares the
     * tensor's memory, nothing is drawn or copied. Shapes must match (the loader checks first).
     */
    private readonly initial?: ReadonlyMap<string, tf.Tensor>,
  ) {
    storeCounter += 1;
    this.scope = `${kind}_${storeCounter}`;
  }

  /** `values` makes the initial values (not called when `initial` holds the parameter). */
  private add<R extends tf.Rank>(
    name: string,
    shape: number[],
    values: (n: number) => Float32Array,
  ): tf.Variable<R> {
    if (this.vars.has(name)) throw new Error(`ParamStore: duplicate parameter '${name}'`);
    const given = this.initial?.get(name);
    if (given && !util.arraysEqual(given.shape, shape)) {
      throw new Error(`ParamStore: '${name}' is [${given.shape}], expected [${shape}]`);
    }
    const v = (given
      ? tf.variable(given, this.trainable, `${this.scope}/${name}`)
      : tf.tidy(() =>
          tf.variable(
            tf.tensor(values(shape.reduce((a, d) => a * d, 1)), shape, 'float32'),
            this.trainable,
            `${this.scope}/${name}`,
          ),
        )) as unknown as tf.Variable<R>;
    this.vars.set(name, v);
    return v;
  }

  /** U(-bound, bound) */
  uniform<R extends tf.Rank>(name: string, shape: number[], bound: number): tf.Variable<R> {
    return this.add<R>(name, shape, (n) => {
      const data = new Float32Array(n);
      return this.zeroInit ? data : this.rng.fillUniform(data, -bound, bound);
    });
  }

  /** N(mean, std^2) */
  normal<R extends tf.Rank>(
    name: string,
    shape: number[],
    mean: number,
    std: number,
  ): tf.Variable<R> {
    return this.add<R>(name, shape, (n) => {
      const data = new Float32Array(n);
      return this.zeroInit ? data : this.rng.fillNormal(data, mean, std);
    });
  }

  constant<R extends tf.Rank>(
    name: string,
    shape: number[],
    value: number,
    trainable?: boolean,
  ): tf.Variable<R> {
    const v = this.add<R>(name, shape, (n) => new Float32Array(n).fill(value));
    if (trainable === false) v.trainable = false;
    return v;
  }

  /** Creates the variable a parameter-table row describes (see param_table.ts). */
  create(spec: VqganParamSpec): tf.Variable {
    return spec.init.kind === 'uniform'
      ? this.uniform(spec.name, spec.shape, spec.init.bound)
      : this.constant(spec.name, spec.shape, spec.init.value);
  }

  /** The weight and bias of conv `name` (created from the table). */
  convParams(name: string): ConvParams {
    return {
      weight: this.get(`${name}.weight`) as tf.Variable<tf.Rank.R4>,
      bias: this.get(`${name}.bias`) as tf.Variable<tf.Rank.R1>,
    };
  }

  /** The affine of norm `name` (created from the table). */
  normParams(name: string): NormParams {
    return {
      weight: this.get(`${name}.weight`) as tf.Variable<tf.Rank.R1>,
      bias: this.get(`${name}.bias`) as tf.Variable<tf.Rank.R1>,
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
