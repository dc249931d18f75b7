/**
 * taming's VectorQuantizer2: nearest codebook entry by L2 distance, straight-through estimator,
 * codebook + commitment losses. tfjs has no stop_gradient, so both `sg` and the straight-through
 * copy are `tf.customGrad` ops.
 */
import * as tf from '@tensorflow/tfjs';

/** sg(x): identity forward, zero gradient. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
  return op(x) as T;
}

/**
 * Straight-through: the value of `zq`, the gradient of `z` (z + sg(zq - z)). `zq` gets no gradient
 * through this path.
 */
export function straightThrough<T extends tf.Tensor>(z: T, zq: T): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[1] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => [tf.clone(dy), tf.zerosLike(dy)],
  }));
  return op(z, zq) as T;
}

/** Squared L2 distances between rows of `flat` [n, d] and codebook rows [k, d] -> [n, k]. */
export function codeDistances(flat: tf.Tensor2D, codebook: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const zz = tf.sum(tf.square(flat), 1, true); // [n, 1]
    const ee = tf.sum(tf.square(codebook), 1); // [k]
    return tf.sub(tf.add(zz, ee), tf.mul(tf.matMul(flat, codebook, false, true), 2)); // [n, k]
  });
}

/**
 * One-hot rows as float32 `[n, k]`, built in plain memory. NOT `tf.oneHot(idx, k, 1, 0, 'float32')`:
 * the wasm backend's OneHot kernel (tfjs 4.22.0) writes int32 bit patterns into the float32 output
 * (1 reads as 1.4e-45), so a one-hot matmul returns ~0 there; and a cast of an int32/bool one-hot
 * keeps an integer store on the cpu backend, which native kernel overrides reject.
 */
export function oneHotFloat(indices: tf.Tensor1D, k: number): tf.Tensor2D {
  const idx = indices.dataSync();
  const n = idx.length;
  const data = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const c = idx[i];
    if (!(c >= 0 && c < k))
      throw new Error(`oneHotFloat: index ${c} at row ${i} is outside [0, ${k})`);
    data[i * k + c] = 1;
  }
  return tf.tensor2d(data, [n, k], 'float32'); // [n, k]
}

/** Nearest code index per row (ties go to the lowest index, as torch.argmin). */
export function nearestCodes(flat: tf.Tensor2D, codebook: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.argMin(codeDistances(flat, codebook), 1) as tf.Tensor1D); // [n] int32
}

export type QuantizeOutput = {
  /** Straight-through quantized latents [b, h, w, d]. */
  zq: tf.Tensor4D;
  /** Code indices [b, h, w] int32. */
  indices: tf.Tensor3D;
  /** Codebook + commitment loss (scalar). */
  loss: tf.Scalar;
  codebookLoss: tf.Scalar;
  commitLoss: tf.Scalar;
};

/**
 * Training-mode quantization. The gather is a one-hot matmul so its codebook gradient is a matmul
 * too (tfjs's gather gradient, UnsortedSegmentSum, is pathological on the cpu backend).
 * legacyBeta: loss = mean((sg zq - z)^2) + beta * mean((zq - sg z)^2) (taming's default);
 * otherwise beta sits on the commitment term.
 */
export function quantize(
  z: tf.Tensor4D, // [b, h, w, d]
  codebook: tf.Tensor2D, // [k, d]
  beta: number,
  legacyBeta: boolean,
): QuantizeOutput {
  const [b, h, w, d] = z.shape;
  const k = codebook.shape[0];
  return tf.tidy(() => {
    const flat = tf.reshape(z, [b * h * w, d]); // [n, d]
    const idx = nearestCodes(stopGradient(flat) as tf.Tensor2D, codebook); // [n]
    const oneHot = oneHotFloat(idx, k); // [n, k]
    const zqFlat = tf.matMul(oneHot, codebook); // [n, d]
    const zq = tf.reshape(zqFlat, [b, h, w, d]); // [b, h, w, d]
    const commit = tf.mean(tf.square(tf.sub(stopGradient(zq), z))) as tf.Scalar; // moves the encoder
    const cb = tf.mean(tf.square(tf.sub(zq, stopGradient(z)))) as tf.Scalar; // moves the codebook
    const loss = legacyBeta ? tf.add(commit, tf.mul(cb, beta)) : tf.add(cb, tf.mul(commit, beta));
    return {
      zq: straightThrough(z, zq) as tf.Tensor4D,
      indices: tf.reshape(idx, [b, h, w]) as tf.Tensor3D,
      loss: loss as tf.Scalar,
      codebookLoss: cb,
      commitLoss: commit,
    };
  });
}
