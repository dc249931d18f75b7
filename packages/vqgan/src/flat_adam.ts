/**
 * Adam with its moments in plain memory: the runtime's AdamW formulation (PyTorch's Adam; integer
 * step, float64 bias corrections, no weight decay), computed in a JS loop, so the backend only
 * sees one upload and one subtract per parameter. A VQGAN has hundreds of small parameters
 * (GroupNorm affines, biases, 1x1 convs); the per-parameter tensor Adam costs ~13 kernels each,
 * thousands of tiny kernels a step, which dominated the `nano` step on wasm. (A single flat
 * tensor does not help there: concatenating or splitting hundreds of pieces is itself slow.)
 *
 * Per step (t = step after increment), per element, in float64 and stored as float32:
 *   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Deterministic, so resume stays exact. Checkpoint slots use the runtime AdamW's names (`step`,
 * `m/<name>`, `v/<name>`, each in the parameter's shape), so checkpoints move between the two.
 */
import type { NamedTensor } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';

export interface FlatAdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export class FlatAdam {
  readonly name = 'adam';
  readonly config: FlatAdamConfig;
  /** Updates applied so far. */
  step = 0;
  private readonly names: string[];
  private readonly shapes: number[][];
  private readonly sizes: number[];
  private readonly offsets: number[];
  private readonly total: number;
  /** First and second moments of every parameter, concatenated in slot order (plain memory). */
  private readonly m: Float32Array;
  private readonly v: Float32Array;

  /** `params`: the parameters this optimizer updates, as [name, shape], in a fixed order. */
  constructor(config: FlatAdamConfig, params: [string, readonly number[]][]) {
    const { learningRate, beta1, beta2, epsilon } = config;
    if (!(Number.isFinite(learningRate) && learningRate >= 0))
      throw new Error(`FlatAdam: 'learningRate' must be a finite number >= 0, got ${learningRate}`);
    if (!(beta1 >= 0 && beta1 < 1))
      throw new Error(`FlatAdam: 'beta1' must be in [0, 1), got ${beta1}`);
    if (!(beta2 >= 0 && beta2 < 1))
      throw new Error(`FlatAdam: 'beta2' must be in [0, 1), got ${beta2}`);
    if (!(epsilon > 0)) throw new Error(`FlatAdam: 'epsilon' must be > 0, got ${epsilon}`);
    if (params.length === 0) throw new Error('FlatAdam: no parameters');
    this.config = { ...config };
    this.names = params.map(([n]) => n);
    if (new Set(this.names).size !== this.names.length)
      throw new Error('FlatAdam: duplicate parameter names');
    this.shapes = params.map(([, s]) => [...s]);
    this.sizes = this.shapes.map((s) => s.reduce((a, d) => a * d, 1));
    this.offsets = [];
    let off = 0;
    for (const s of this.sizes) {
      this.offsets.push(off);
      off += s;
    }
    this.total = off;
    this.m = new Float32Array(this.total);
    this.v = new Float32Array(this.total);
  }

  get learningRate(): number {
    return this.config.learningRate;
  }

  set learningRate(lr: number) {
    if (!(Number.isFinite(lr) && lr >= 0))
      throw new Error(`FlatAdam: learningRate must be >= 0, got ${lr}`);
    this.config.learningRate = lr;
  }

  /** Parameter names in slot order. */
  parameterNames(): string[] {
    return [...this.names];
  }

  /**
   * One update of every parameter. `vars` and `grads` are keyed by parameter name; every parameter
   * needs a gradient (an absent one is an error, not a silent zero). Grads are not disposed.
   */
  applyGradients(vars: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>): void {
    for (const n of this.names) {
      if (!vars[n]) throw new Error(`FlatAdam: no variable for parameter '${n}'`);
      if (!grads[n]) throw new Error(`FlatAdam: no gradient for parameter '${n}'`);
    }
    this.step += 1;
    const { beta1: b1, beta2: b2, epsilon, learningRate: lr } = this.config;
    const stepSize = lr / (1 - b1 ** this.step);
    const sqrtBc2 = Math.sqrt(1 - b2 ** this.step);
    const { m, v } = this;
    this.names.forEach((n, i) => {
      const g = grads[n].dataSync() as Float32Array;
      const o = this.offsets[i];
      const size = this.sizes[i];
      if (g.length !== size) {
        throw new Error(`FlatAdam: gradient of '${n}' has ${g.length} values, expected ${size}`);
      }
      const u = new Float32Array(size);
      for (let j = 0; j < size; j++) {
        const gj = g[j];
        const mj = b1 * m[o + j] + (1 - b1) * gj;
        const vj = b2 * v[o + j] + (1 - b2) * gj * gj;
        m[o + j] = mj;
        v[o + j] = vj;
        u[j] = (stepSize * mj) / (Math.sqrt(vj) / sqrtBc2 + epsilon);
      }
      const p = vars[n];
      tf.tidy(() => {
        p.assign(tf.sub(p, tf.tensor(u, this.shapes[i], 'float32')));
      });
    });
  }

  /** Slots as the runtime's AdamW names them: `step`, then `m/<name>` and `v/<name>` (new tensors). */
  getWeights(): NamedTensor[] {
    const out: NamedTensor[] = [{ name: 'step', tensor: tf.scalar(this.step, 'int32') }];
    if (this.step === 0) return out;
    for (const [kind, data] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      this.names.forEach((n, i) => {
        const o = this.offsets[i];
        out.push({
          name: `${kind}/${n}`,
          tensor: tf.tensor(data.slice(o, o + this.sizes[i]), this.shapes[i], 'float32'),
        });
      });
    }
    return out;
  }

  /** Restores slots written by getWeights() (or the runtime's AdamW); absent slots become zeros. */
  setWeights(weights: NamedTensor[]): void {
    const m = new Float32Array(this.total);
    const v = new Float32Array(this.total);
    const index = new Map(this.names.map((n, i) => [n, i]));
    let step = 0;
    for (const { name, tensor } of weights) {
      if (name === 'step') {
        step = tensor.dataSync()[0];
        continue;
      }
      const kind = name.slice(0, 2);
      const target = kind === 'm/' ? m : kind === 'v/' ? v : null;
      const i = index.get(name.slice(2));
      if (!target || i === undefined)
        throw new Error(`FlatAdam.setWeights: unexpected slot '${name}'`);
      if (tensor.size !== this.sizes[i]) {
        throw new Error(
          `FlatAdam.setWeights: slot '${name}' has shape [${tensor.shape}], expected [${this.shapes[i]}]`,
        );
      }
      target.set(tensor.dataSync() as Float32Array, this.offsets[i]);
    }
    this.step = step;
    this.m.set(m);
    this.v.set(v);
  }

  /** Nothing to free on the backend: the moments live in plain memory. */
  dispose(): void {
    this.m.fill(0);
    this.v.fill(0);
  }
}
