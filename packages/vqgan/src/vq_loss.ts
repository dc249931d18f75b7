/**
 * taming's `VQLPIPSWithDiscriminator` generator objective, as named terms:
 *
 *   nll   = l1Weight * mean|x - x^| + l2Weight * mean(x - x^)^2 + perceptualWeight * P(x, x^)
 *   total = nll + codebookWeight * qLoss [+ lambda * discFactor * gLoss],  gLoss = -mean D(x^)
 *
 * with taming's adaptive lambda = clip(||grad_W nll|| / (||grad_W gLoss|| + 1e-4), 0, 1e4) *
 * discWeight at W = decoder.conv_out.weight.
 *
 * The adaptive weight is computed inside the single backward pass: the reconstruction enters the
 * loss through two identity hooks (tf.customGrad). The nll branch is recorded after the GAN
 * branch, so backprop (which walks the tape in reverse) reaches the nll hook first and stores
 * d nll / d x^; the GAN hook then receives d g / d x^, turns both into weight gradients of
 * conv_out (a conv of the decoder activation h with the output gradient), forms lambda and scales
 * its gradient by lambda * discFactor. No second forward or backward pass is needed.
 */
import * as tf from '@tensorflow/tfjs';
import { convFilterGrad } from './conv';
import type { PerceptualLoss } from './lpips';
import type { QuantizeOutput } from './quantizer';
import type { VqganTrainConfig } from './train_config';

/** The generator's loss terms (tensors while computing, numbers once read). */
export interface GeneratorLosses<T> {
  /** Reconstruction objective: weighted l1 + l2 (+ perceptual). */
  nll: T;
  l1: T;
  l2: T;
  /** Perceptual distance (null without a perceptual hook). */
  perceptual: T | null;
  /** Quantizer loss (codebook + commitment, beta-weighted). */
  qLoss: T;
  codebookLoss: T;
  commitLoss: T;
  /** Generator GAN loss -mean D(x^) (null while the discriminator is off). */
  gLoss: T | null;
  /** nll + codebookWeight * qLoss: the objective without the GAN term. */
  reconstructionObjective: T;
}

/** The order in which `stackLosses` packs the terms (absent terms as -1). */
const LOSS_ORDER = [
  'nll',
  'l1',
  'l2',
  'perceptual',
  'qLoss',
  'codebookLoss',
  'commitLoss',
  'gLoss',
  'reconstructionObjective',
] as const satisfies readonly (keyof GeneratorLosses<unknown>)[];

export type VqLossWeights = Pick<
  VqganTrainConfig,
  'l1Weight' | 'l2Weight' | 'perceptualWeight' | 'codebookWeight'
>;

/**
 * The generator's terms for images `x` [b, H, W, c] and reconstruction `xrec` (as the nll branch
 * sees it), with the quantizer output `q` and the GAN loss when the discriminator is on.
 */
export function generatorLosses(
  x: tf.Tensor4D,
  xrec: tf.Tensor4D,
  q: QuantizeOutput,
  weights: VqLossWeights,
  perceptual: PerceptualLoss | null,
  gLoss: tf.Scalar | null,
): GeneratorLosses<tf.Scalar> {
  const diff = tf.sub(x, xrec); // [b, H, W, c]
  const l1 = tf.mean(tf.abs(diff)) as tf.Scalar;
  const l2 = tf.mean(tf.square(diff)) as tf.Scalar;
  let nll: tf.Scalar = tf.add(tf.mul(l1, weights.l1Weight), tf.mul(l2, weights.l2Weight));
  let perc: tf.Scalar | null = null;
  if (perceptual) {
    perc = perceptual(x, xrec);
    nll = tf.add(nll, tf.mul(perc, weights.perceptualWeight));
  }
  return {
    nll,
    l1,
    l2,
    perceptual: perc,
    qLoss: q.loss,
    codebookLoss: q.codebookLoss,
    commitLoss: q.commitLoss,
    gLoss,
    reconstructionObjective: tf.add(nll, tf.mul(q.loss, weights.codebookWeight)),
  };
}

/** Every term in one tensor [9], so reading them costs one download. */
export function stackLosses(l: GeneratorLosses<tf.Scalar>): tf.Tensor1D {
  return tf.tidy(() => tf.stack(LOSS_ORDER.map((k) => l[k] ?? tf.scalar(-1)))) as tf.Tensor1D;
}

/** The terms `stackLosses` packed, by name; `perceptual` / `gLoss` are null where absent. */
export function readLosses(
  values: ArrayLike<number>,
  present: { perceptual: boolean; gLoss: boolean },
): GeneratorLosses<number> {
  const out = Object.fromEntries(
    LOSS_ORDER.map((k, i) => [k, values[i]]),
  ) as unknown as GeneratorLosses<number>;
  if (!present.perceptual) out.perceptual = null;
  if (!present.gLoss) out.gLoss = null;
  return out;
}

/** An identity op whose gradient is `onGrad(dy)`: a hook on the backward pass. */
export function identityHook(
  onGrad: (dy: tf.Tensor) => tf.Tensor,
): (x: tf.Tensor4D) => tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => onGrad(dy),
  }));
  return (x) => op(x) as tf.Tensor4D;
}

const PAD1 = [1, 1, 1, 1] as const;

/**
 * taming's adaptive GAN weight from the output gradients of the two branches at the last layer:
 * clip(||dW nll|| / (||dW g|| + 1e-4), 0, 1e4) * discWeight, where dW is the weight gradient of the
 * 3x3 pad-1 conv_out whose input is `h` [b, H, W, ch].
 */
export function adaptiveGanWeight(
  h: tf.Tensor4D,
  dNll: tf.Tensor4D, // [b, H, W, c]
  dG: tf.Tensor4D, // [b, H, W, c]
  kernel: readonly [number, number],
  discWeight: number,
): tf.Scalar {
  return tf.tidy(() => {
    const gN = convFilterGrad(h, dNll, kernel, 1, PAD1); // [kh, kw, ch, c]
    const gG = convFilterGrad(h, dG, kernel, 1, PAD1);
    return tf.mul(
      tf.clipByValue(tf.div(tf.norm(gN), tf.add(tf.norm(gG), 1e-4)), 0, 1e4),
      discWeight,
    ) as tf.Scalar;
  });
}
