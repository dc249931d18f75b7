/**
 * taming's PatchGAN `NLayerDiscriminator` (taming/modules/discriminator/model.py), NHWC, with its
 * state-dict names under `loss.discriminator.` (as in a taming `last.ckpt`):
 *   main.0 conv4x4 s2 p1 (bias) -> LeakyReLU(0.2)
 *   for n in 1..nLayers-1: conv4x4 s2 p1 (no bias) -> BatchNorm -> LeakyReLU
 *   conv4x4 s1 p1 (no bias) -> BatchNorm -> LeakyReLU -> conv4x4 s1 p1 -> 1 channel (bias)
 * Init as taming's weights_init: conv weights N(0, 0.02), BatchNorm gamma N(1, 0.02), beta 0.
 * BatchNorm always normalises with batch statistics (taming trains it in train mode); running
 * statistics are kept (momentum 0.1, unbiased variance) so checkpoints carry taming's keys.
 */
import { Rng } from '@artist-ts/core/rng';
import * as tf from '@tensorflow/tfjs';
import { conv2d } from './conv';
import { ParamStore } from './params';

export interface DiscriminatorConfig {
  /** Conv layers with stride 2 (taming default 3; the f16/16384 recipe uses 2). */
  nLayers: number;
  /** Base filters (taming: 64). */
  ndf: number;
  inChannels: number;
}

export const DEFAULT_DISCRIMINATOR_CONFIG: DiscriminatorConfig = {
  nLayers: 3,
  ndf: 64,
  inChannels: 3,
};

export function validateDiscriminatorConfig(
  c: Partial<DiscriminatorConfig> = {},
): DiscriminatorConfig {
  const out = { ...DEFAULT_DISCRIMINATOR_CONFIG, ...c };
  for (const k of ['nLayers', 'ndf', 'inChannels'] as const) {
    if (!Number.isInteger(out[k]) || out[k] < 1) {
      throw new Error(
        `discriminator config: '${k}' must be a positive integer, got ${String(out[k])}`,
      );
    }
  }
  return out;
}

interface Layer {
  conv: string;
  bn: string | null;
  stride: number;
  act: boolean;
}

const PREFIX = 'loss.discriminator.main';
const BN_EPS = 1e-5;
const BN_MOMENTUM = 0.1;

export class NLayerDiscriminator {
  readonly config: DiscriminatorConfig;
  readonly store: ParamStore;
  private readonly layers: Layer[] = [];

  constructor(
    config: Partial<DiscriminatorConfig> = {},
    seed: number | string = 'vqgan-disc-init',
  ) {
    this.config = validateDiscriminatorConfig(config);
    const { nLayers, ndf, inChannels } = this.config;
    this.store = new ParamStore('vqgan_disc', new Rng(seed));
    let idx = 0;
    const addConv = (
      cin: number,
      cout: number,
      stride: number,
      bias: boolean,
      bn: boolean,
      act: boolean,
    ) => {
      const name = `${PREFIX}.${idx}`;
      this.store.normal(`${name}.weight`, [4, 4, cin, cout], 0, 0.02);
      if (bias) this.store.uniform(`${name}.bias`, [cout], 1 / Math.sqrt(cin * 16));
      idx += 1;
      let bnName: string | null = null;
      if (bn) {
        bnName = `${PREFIX}.${idx}`;
        this.store.normal(`${bnName}.weight`, [cout], 1, 0.02);
        this.store.constant(`${bnName}.bias`, [cout], 0);
        this.store.constant(`${bnName}.running_mean`, [cout], 0, false);
        this.store.constant(`${bnName}.running_var`, [cout], 1, false);
        idx += 1;
      }
      if (act) idx += 1; // LeakyReLU has no parameters but takes an index in nn.Sequential
      this.layers.push({ conv: name, bn: bnName, stride, act });
    };
    addConv(inChannels, ndf, 2, true, false, true);
    let mult = 1;
    for (let n = 1; n < nLayers; n++) {
      const prev = mult;
      mult = Math.min(2 ** n, 8);
      addConv(ndf * prev, ndf * mult, 2, false, true, true);
    }
    const prev = mult;
    mult = Math.min(2 ** nLayers, 8);
    addConv(ndf * prev, ndf * mult, 1, false, true, true);
    addConv(ndf * mult, 1, 1, true, false, false);
  }

  trainableVariables(): tf.Variable[] {
    return this.store.trainableVariables();
  }

  parameterCount(): number {
    let n = 0;
    for (const v of this.store.trainableVariables()) n += v.size;
    return n;
  }

  /**
   * Patch logits [b, h', w', 1]. With `updateStats`, BatchNorm running statistics move toward
   * this batch's (outside the gradient; use it once per discriminator step).
   */
  forward(x: tf.Tensor4D, updateStats = false): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (const l of this.layers) {
        const w = this.store.get(`${l.conv}.weight`) as tf.Variable<tf.Rank.R4>;
        const b = this.store.has(`${l.conv}.bias`)
          ? (this.store.get(`${l.conv}.bias`) as tf.Variable<tf.Rank.R1>)
          : null;
        h = conv2d(h, w, b, l.stride, [1, 1, 1, 1]); // [b, h', w', c]
        if (l.bn) {
          const { mean, variance } = tf.moments(h, [0, 1, 2]); // [c]
          if (updateStats) this.updateRunning(l.bn, mean, variance, h.size / h.shape[3]);
          const gamma = this.store.get(`${l.bn}.weight`);
          const beta = this.store.get(`${l.bn}.bias`);
          h = tf.add(
            tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, BN_EPS))), gamma),
            beta,
          );
        }
        if (l.act) h = tf.leakyRelu(h, 0.2);
      }
      return h;
    });
  }

  private updateRunning(bn: string, mean: tf.Tensor, variance: tf.Tensor, n: number): void {
    const rm = this.store.get(`${bn}.running_mean`);
    const rv = this.store.get(`${bn}.running_var`);
    const m = tf.tidy(() => tf.add(tf.mul(rm, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
    const v = tf.tidy(() =>
      tf.add(tf.mul(rv, 1 - BN_MOMENTUM), tf.mul(variance, (BN_MOMENTUM * n) / Math.max(n - 1, 1))),
    );
    // Values only: detached from any gradient tape by copying through data.
    rm.assign(tf.tensor(m.dataSync(), rm.shape));
    rv.assign(tf.tensor(v.dataSync(), rv.shape));
    tf.dispose([m, v]);
  }

  dispose(): void {
    this.store.dispose();
  }
}

/** Discriminator hinge loss: 0.5 * (mean relu(1 - D(x)) + mean relu(1 + D(x_rec))). */
export function hingeDLoss(logitsReal: tf.Tensor, logitsFake: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.mul(
      tf.add(tf.mean(tf.relu(tf.sub(1, logitsReal))), tf.mean(tf.relu(tf.add(1, logitsFake)))),
      0.5,
    ),
  ) as tf.Scalar;
}
