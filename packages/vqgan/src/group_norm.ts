/**
 * GroupNorm (tfjs has no op): PyTorch semantics on NHWC. Channels are split into `groups`
 * contiguous groups; each (sample, group) is normalised by its mean and biased variance over
 * (h, w, channels-in-group), then scaled and shifted per channel.
 *
 * The forward and its gradient are one `tf.customGrad` op with the analytic backward
 *   dx = rstd * (dxn - mean(dxn) - xn * mean(dxn * xn)),  dxn = dy * gamma,
 *   dgamma = sum(dy * xn),  dbeta = sum(dy)   (means per (sample, group), sums over b, h, w),
 * with 6 large ops forward and 6 backward (plus 3 + 5 for the fused swish), all on [b, hw, c]
 * layouts, instead of the ~35 that autodiff of `tf.moments` on [b, hw, g, c/g] records. `groupNormSwish` fuses
 * taming's `nonlinearity(norm(h))` into the same op (swish'(a) = s (1 + a (1 - s)), s = sigmoid a).
 * A VQGAN calls it ~30 times a step, so this is a large share of the small-kernel overhead.
 */
import { GROUP_NORM_KERNEL } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';

/** Throws naming the mismatch unless groups divides x's channels and gamma, beta have one value each. */
function checkNormArgs(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  groups: number,
): void {
  const c = x.shape[3];
  if (c % groups !== 0) {
    throw new Error(`groupNorm: channels ${c} are not divisible by groups ${groups}`);
  }
  if (gamma.shape[0] !== c || beta.shape[0] !== c) {
    throw new Error(
      `groupNorm: gamma [${gamma.shape}] and beta [${beta.shape}] must have ${c} values`,
    );
  }
}

function groupNormOp(
  x: tf.Tensor4D, // [b, h, w, c]
  gamma: tf.Tensor1D, // [c]
  beta: tf.Tensor1D, // [c]
  groups: number,
  eps: number,
  withSwish: boolean,
): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  checkNormArgs(x, gamma, beta, groups);
  const hw = h * w;
  const cg = c / groups;
  // Per-channel [b, c] statistics -> per-group [b, g] -> back to per-channel [b, 1, c]. Every large
  // op is on [b, hw, c] against a [b, 1, c] operand, and every reduction is over the middle axis:
  // the fast layouts of the native (and stock) kernels. (Reducing [b, hw, g, c/g] over axes
  // [1, 3] or broadcasting [b, 1, g, 1] is several times slower on wasm.)
  const groupMeanPerChannel = (t: tf.Tensor): tf.Tensor3D =>
    tf.reshape(tf.tile(tf.mean(tf.reshape(t, [b, groups, cg]), 2, true), [1, 1, cg]), [
      b,
      1,
      c,
    ]) as tf.Tensor3D; // [b, c] -> [b, 1, c], each channel holding its group's mean
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, gi, bi] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const x3 = tf.reshape(xi, [b, hw, c]); // [b, hw, c]
    const mean = groupMeanPerChannel(tf.mean(x3, 1)); // [b, 1, c]
    const xc = tf.sub(x3, mean); // [b, hw, c]
    const variance = groupMeanPerChannel(tf.mean(tf.square(xc), 1)); // [b, 1, c] (biased)
    const rstd = tf.rsqrt(tf.add(variance, eps)); // [b, 1, c]
    const scale = tf.mul(rstd, gi); // [b, 1, c]
    const a = tf.add(tf.mul(xc, scale), tf.reshape(bi, [1, 1, c])); // [b, hw, c]
    let value: tf.Tensor = a;
    let sig: tf.Tensor | null = null;
    if (withSwish) {
      sig = tf.sigmoid(a);
      value = tf.mul(a, sig);
    }
    save(withSwish ? [xc, rstd, gi, a, sig as tf.Tensor] : [xc, rstd, gi]);
    return {
      value: tf.reshape(value, [b, h, w, c]) as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xcS, rstdS, gS] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor1D];
        let da: tf.Tensor = tf.reshape(dy, [b, hw, c]); // [b, hw, c]
        if (withSwish) {
          const [aS, sS] = [saved[3], saved[4]];
          // d(a s)/da = s + a s (1 - s) = s (1 + a (1 - s))
          da = tf.mul(da, tf.mul(sS, tf.add(1, tf.mul(aS, tf.sub(1, sS)))));
        }
        const d1 = tf.sum(da, 1); // [b, c]: sum over hw of da
        const d2 = tf.mul(tf.sum(tf.mul(da, xcS), 1), tf.reshape(rstdS, [b, c])); // [b, c]: of da * xn
        const dbeta = tf.sum(d1, 0); // [c]
        const dgamma = tf.sum(d2, 0); // [c]
        // With dxn = da * gamma: m1 = mean_g(dxn), m2 = mean_g(dxn * xn), per group, per channel.
        const m1 = tf.mul(groupMeanPerChannel(tf.mul(d1, gS)), 1 / hw); // [b, 1, c]
        const m2 = tf.mul(groupMeanPerChannel(tf.mul(d2, gS)), 1 / hw); // [b, 1, c]
        // dx = rstd (dxn - m1 - xn m2) = da (rstd gamma) - xc (rstd^2 m2) - rstd m1
        const k1 = tf.mul(rstdS, gS); // [b, 1, c]
        const k2 = tf.mul(tf.square(rstdS), m2); // [b, 1, c]
        const k3 = tf.mul(rstdS, m1); // [b, 1, c]
        const dx = tf.sub(tf.mul(da, k1), tf.add(tf.mul(xcS, k2), k3)); // [b, hw, c]
        return [tf.reshape(dx, [b, h, w, c]), dgamma, dbeta];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

export function groupNorm(
  x: tf.Tensor4D, // [b, h, w, c]
  gamma: tf.Tensor1D, // [c]
  beta: tf.Tensor1D, // [c]
  groups: number,
  eps: number,
): tf.Tensor4D {
  return groupNormOp(x, gamma, beta, groups, eps, false);
}

/** swish(groupNorm(x)), taming's `nonlinearity(norm(h))`, as one op with a fused gradient. */
export function groupNormSwish(
  x: tf.Tensor4D, // [b, h, w, c]
  gamma: tf.Tensor1D, // [c]
  beta: tf.Tensor1D, // [c]
  groups: number,
  eps: number,
): tf.Tensor4D {
  return groupNormOp(x, gamma, beta, groups, eps, true);
}

/**
 * Inference form of `groupNorm` (`swish` false) and `groupNormSwish` (true): one native kernel
 * (@artist-ts/native-kernels' `GROUP_NORM_KERNEL`, two passes over `x`) where it is registered
 * for the current backend, else the same op as training. No gradient: the kernel has none.
 */
export function groupNormInference(
  x: tf.Tensor4D, // [b, h, w, c]
  gamma: tf.Tensor1D, // [c]
  beta: tf.Tensor1D, // [c]
  groups: number,
  eps: number,
  swish: boolean,
): tf.Tensor4D {
  if (tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend()) === undefined) {
    return groupNormOp(x, gamma, beta, groups, eps, swish);
  }
  checkNormArgs(x, gamma, beta, groups);
  const attrs = { groups, eps, swish } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(GROUP_NORM_KERNEL, { x, gamma, beta }, attrs) as tf.Tensor4D;
}

/** swish / SiLU: x * sigmoid(x) (taming's `nonlinearity`). */
export function swish<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}
