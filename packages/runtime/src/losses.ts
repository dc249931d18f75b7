/**
 * Losses that route to fused kernels when @artist-ts/native-kernels registered them for the
 * current backend, and to the equivalent stock ops otherwise.
 */
import {
  SPARSE_XENT_GRAD_KERNEL,
  SPARSE_XENT_KERNEL,
  sparseSoftmaxCrossEntropy as sparseXent,
} from '@artist-ts/native-kernels';
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

/**
 * Mean softmax cross-entropy of the logits `x W` (x [rows, d], W [d, classes]) against int32
 * `labels` [rows], without ever holding the [rows, classes] logits: `chunkRows` rows at a time,
 * the forward pass computes each chunk's logits, its loss and, at once, its share of the
 * gradients with respect to x and W, and drops the chunk. The backward pass only scales them.
 * For a 16384-way head over 256 positions that is 34 MB per example not held for backward.
 *
 * The gradients cost their GEMMs in the forward pass: use it where the loss is differentiated
 * (training); evaluate with `sparseSoftmaxCrossEntropy` on the logits. Same value and gradients
 * as `sparseSoftmaxCrossEntropy(tf.matMul(x, w), labels)` up to float rounding.
 */
export function linearSoftmaxCrossEntropy(
  x: tf.Tensor,
  w: tf.Tensor,
  labels: tf.Tensor,
  chunkRows = 1024,
): tf.Scalar {
  const [rows, d] = x.shape as [number, number];
  const classes = w.shape[1] as number;
  if (
    x.rank !== 2 ||
    w.rank !== 2 ||
    labels.rank !== 1 ||
    w.shape[0] !== d ||
    labels.shape[0] !== rows ||
    labels.dtype !== 'int32'
  ) {
    throw new Error(
      `linearSoftmaxCrossEntropy: x [${x.shape}], w [${w.shape}], labels [${labels.shape}] ${labels.dtype}: expected x [rows, d], w [d, classes], int32 labels [rows]`,
    );
  }
  if (!(Number.isInteger(chunkRows) && chunkRows > 0)) {
    throw new RangeError(
      `linearSoftmaxCrossEntropy: chunkRows must be a positive integer, got ${chunkRows}`,
    );
  }
  const fused =
    tf.getKernel(SPARSE_XENT_KERNEL, tf.getBackend()) !== undefined &&
    tf.getKernel(SPARSE_XENT_GRAD_KERNEL, tf.getBackend()) !== undefined;
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xt, wt, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    let lossSum: tf.Tensor = tf.scalar(0);
    let dw: tf.Tensor | null = null;
    const dxs: tf.Tensor[] = [];
    for (let start = 0; start < rows; start += chunkRows) {
      const r = Math.min(chunkRows, rows - start);
      const part = tf.tidy(() => {
        const xc = tf.slice(xt, [start, 0], [r, d]); // [r, d]
        const lc = tf.slice(labels, [start], [r]); // [r]
        const logits = tf.matMul(xc, wt); // [r, classes]
        let loss: tf.Tensor; // [r]
        let dlogits: tf.Tensor; // [r, classes], the gradient of the mean over all rows
        if (fused) {
          const [l, lse] = tf
            .engine()
            .runKernel(SPARSE_XENT_KERNEL, { logits, labels: lc }, {}) as tf.Tensor[];
          loss = l;
          dlogits = tf
            .engine()
            .runKernel(
              SPARSE_XENT_GRAD_KERNEL,
              { logits, labels: lc, lse, dy: tf.fill([r], 1 / rows) },
              {},
            ) as tf.Tensor;
        } else {
          const oneHot = tf.cast(tf.oneHot(lc, classes), 'float32'); // [r, classes]
          loss = tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(oneHot, logits), 1));
          dlogits = tf.mul(tf.sub(tf.softmax(logits), oneHot), 1 / rows);
        }
        const dwc = tf.matMul(xc, dlogits, true, false); // [d, classes]
        return {
          loss: tf.add(lossSum, tf.sum(loss)),
          dx: tf.matMul(dlogits, wt, false, true), // [r, d]
          dw: dw ? tf.add(dw, dwc) : dwc,
        };
      });
      lossSum.dispose();
      dw?.dispose();
      lossSum = part.loss;
      dw = part.dw;
      dxs.push(part.dx);
    }
    const dx = dxs.length === 1 ? dxs[0] : tf.concat(dxs, 0);
    if (dxs.length > 1) tf.dispose(dxs);
    // saved (not closed over): the tape releases them after the backward pass, and outside a
    // tape the forward scope disposes them
    save([dx, dw!]);
    return {
      value: tf.div(lossSum, rows),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [
        tf.mul(saved[0], dy as tf.Tensor),
        tf.mul(saved[1], dy as tf.Tensor),
      ],
    };
  });
  return run(x, w) as tf.Scalar;
}
