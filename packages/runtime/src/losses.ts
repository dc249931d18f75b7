/**
 * Losses that route to fused kernels when @artist-ts/native-kernels registered them for the
 * current backend, and to the equivalent stock ops otherwise.
 */
import { sparseSoftmaxCrossEntropy as sparseXent } from '@artist-ts/native-kernels';
import * as tf from '@tensorflow/tfjs';

/**
 * Cross-entropy of `logits` [..., classes] against integer `labels` [...], without a one-hot:
 * one pass forward and one backward with the fused kernel. `reduction` 'mean' (default), 'sum'
 * or 'none' (per row, shaped like `labels`).
 */
export function sparseSoftmaxCrossEntropy(
  logits: tf.Tensor,
  labels: tf.Tensor | Int32Array | number[],
  reduction: 'mean' | 'sum' | 'none' = 'mean',
): tf.Tensor {
  return sparseXent(tf, logits, labels, reduction);
}
