/**
 * GroupNorm (tfjs has no op): PyTorch semantics on NHWC. Channels are split into `groups`
 * contiguous groups; each (sample, group) is normalised by its mean and biased variance over
 * (h, w, channels-in-group), then scaled and shifted per channel.
 */
import * as tf from '@tensorflow/tfjs';

export function groupNorm(
  x: tf.Tensor4D, // [b, h, w, c]
  gamma: tf.Tensor1D, // [c]
  beta: tf.Tensor1D, // [c]
  groups: number,
  eps: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    if (c % groups !== 0) {
      throw new Error(`groupNorm: channels ${c} are not divisible by groups ${groups}`);
    }
    const xg = tf.reshape(x, [b, h * w, groups, c / groups]); // [b, hw, g, c/g]
    const { mean, variance } = tf.moments(xg, [1, 3], true); // [b, 1, g, 1]
    const xn = tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, eps))); // [b, hw, g, c/g]
    return tf.add(tf.mul(tf.reshape(xn, [b, h, w, c]), gamma), beta) as tf.Tensor4D; // [b, h, w, c]
  });
}

/** swish / SiLU: x * sigmoid(x) (taming's `nonlinearity`). */
export function swish<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}
