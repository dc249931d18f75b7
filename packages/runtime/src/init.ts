/**
 * Seeded initialisers: tensors filled from an {@link Rng}, so that initialisation is reproducible
 * and its stream state can be checkpointed (tfjs's own seeded ops keep hidden state).
 */

import type { Rng } from '@artist-ts/core/rng';
import { elementCount } from '@artist-ts/core/trainer-state';
import * as tf from '@tensorflow/tfjs';

/** N(mean, std^2) samples. Caller owns the tensor. */
export function randomNormalTensor(rng: Rng, shape: number[], std = 1, mean = 0): tf.Tensor {
  return tf.tensor(
    rng.fillNormal(new Float32Array(elementCount(shape)), mean, std),
    shape,
    'float32',
  );
}

/** U[lo, hi) samples. */
export function randomUniformTensor(rng: Rng, shape: number[], lo = 0, hi = 1): tf.Tensor {
  return tf.tensor(
    rng.fillUniform(new Float32Array(elementCount(shape)), lo, hi),
    shape,
    'float32',
  );
}
