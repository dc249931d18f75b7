// Fused sparse softmax cross-entropy: one pass for the forward (row max, then exp and sum) and one
// for the gradient, against about fifteen full passes over [rows, classes] (max, sub, exp, sum,
// log, one-hot cast, mul, exp twice more, sub, mul...) in tf.losses.softmaxCrossEntropy over a
// one-hot matrix. Labels are int32 class ids, so the [rows, classes] one-hot is never built.
//
// tf.losses.softmaxCrossEntropy is a composite op (customGrad), not a kernel, so it cannot be
// replaced through the kernel registry: models opt in by calling `sparseSoftmaxCrossEntropy`. On a
// backend without the kernels below (webgl, tensorflow, or before installKernels) the op computes
// the same value and gradient with stock ops.
import type * as tfjs from '@tensorflow/tfjs';
import { f32, type Tf } from '../host';
import type { KernelImpl } from './types';

/** Forward kernel: inputs {logits [rows, classes] f32, labels [rows] i32} -> [loss [rows], lse [rows]]. */
export const SPARSE_XENT_KERNEL = 'ArtistSparseSoftmaxCrossEntropy';
/** Gradient kernel: inputs {logits, labels, lse, dy [rows]} -> dlogits [rows, classes]. */
export const SPARSE_XENT_GRAD_KERNEL = 'ArtistSparseSoftmaxCrossEntropyGrad';

function checkLabels(labels: ArrayLike<number>, rows: number, classes: number): void {
  for (let i = 0; i < rows; i++) {
    const v = labels[i]!;
    if (!(v >= 0 && v < classes)) {
      throw new RangeError(
        `sparseSoftmaxCrossEntropy: labels[${i}] = ${v} is outside [0, ${classes})`,
      );
    }
  }
}

/** JS reference of the forward kernel (float64 accumulation). */
export function sparseXentForwardJs(
  logits: Float32Array,
  labels: ArrayLike<number>,
  loss: Float32Array,
  lse: Float32Array,
  rows: number,
  classes: number,
): void {
  checkLabels(labels, rows, classes);
  for (let i = 0; i < rows; i++) {
    const o = i * classes;
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < classes; j++) if (logits[o + j]! > m) m = logits[o + j]!;
    if (!Number.isFinite(m)) m = 0;
    let s = 0;
    for (let j = 0; j < classes; j++) s += Math.exp(logits[o + j]! - m);
    const l = m + Math.log(s);
    lse[i] = l;
    loss[i] = l - logits[o + labels[i]!]!;
  }
}

/** JS reference of the gradient kernel. */
export function sparseXentBackwardJs(
  logits: Float32Array,
  labels: ArrayLike<number>,
  lse: Float32Array,
  dy: Float32Array,
  dlogits: Float32Array,
  rows: number,
  classes: number,
): void {
  checkLabels(labels, rows, classes);
  for (let i = 0; i < rows; i++) {
    const o = i * classes;
    const l = lse[i]!;
    const g = dy[i]!;
    for (let j = 0; j < classes; j++) dlogits[o + j] = Math.exp(logits[o + j]! - l) * g;
    dlogits[o + labels[i]!]! -= g;
  }
}

function isInt32(v: unknown): v is Int32Array {
  return Object.prototype.toString.call(v) === '[object Int32Array]';
}

function forwardKernel(kind: 'native' | 'js'): KernelImpl {
  return {
    kernelName: SPARSE_XENT_KERNEL,
    kind,
    run({ inputs, host, native }) {
      const { logits, labels } = inputs;
      if (!logits || !labels || logits.dtype !== 'float32' || labels.dtype !== 'int32') return null;
      if (logits.shape.length !== 2 || labels.shape.length !== 1) return null;
      const [rows, classes] = logits.shape as [number, number];
      if (labels.shape[0] !== rows || classes < 1) return null;
      const loss = host.alloc([rows], 'float32');
      const lse = host.alloc([rows], 'float32');
      const lab = host.view(labels);
      if (kind === 'native' && native && isInt32(lab)) {
        native.sparseXentForward(
          f32(host, logits),
          lab,
          f32(host, loss),
          f32(host, lse),
          rows,
          classes,
        );
      } else {
        sparseXentForwardJs(f32(host, logits), lab, f32(host, loss), f32(host, lse), rows, classes);
      }
      return [loss, lse];
    },
  };
}

function backwardKernel(kind: 'native' | 'js'): KernelImpl {
  return {
    kernelName: SPARSE_XENT_GRAD_KERNEL,
    kind,
    run({ inputs, host, native }) {
      const { logits, labels, lse, dy } = inputs;
      if (!logits || !labels || !lse || !dy) return null;
      if (logits.dtype !== 'float32' || labels.dtype !== 'int32') return null;
      if (lse.dtype !== 'float32' || dy.dtype !== 'float32') return null;
      if (logits.shape.length !== 2) return null;
      const [rows, classes] = logits.shape as [number, number];
      for (const t of [labels, lse, dy]) {
        if (t.shape.length !== 1 || t.shape[0] !== rows) return null;
      }
      const out = host.alloc([rows, classes], 'float32');
      const lab = host.view(labels);
      const args = [f32(host, logits), lab, f32(host, lse), f32(host, dy), f32(host, out)] as const;
      if (kind === 'native' && native && isInt32(lab)) {
        native.sparseXentBackward(args[0], lab, args[2], args[3], args[4], rows, classes);
      } else {
        sparseXentBackwardJs(...args, rows, classes);
      }
      return out;
    },
  };
}

export const sparseXentNativeKernels: KernelImpl[] = [
  forwardKernel('native'),
  backwardKernel('native'),
];
export const sparseXentJsKernels: KernelImpl[] = [forwardKernel('js'), backwardKernel('js')];

/** How `sparseSoftmaxCrossEntropy` reduces the per-example losses. */
export type SparseXentReduction = 'mean' | 'sum' | 'none';

/**
 * Softmax cross-entropy of `logits` [..., classes] against int32 class ids `labels` [...]
 * (the value and gradient of `tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classes), logits)`
 * with `reduction` 'mean', without the one-hot). Returns a scalar for 'mean' and 'sum', the
 * per-example losses of shape `labels.shape` for 'none'. Labels outside [0, classes) throw a
 * RangeError on cpu and wasm. Differentiable with respect to `logits` (the labels get a zero gradient).
 */
export function sparseSoftmaxCrossEntropy(
  tf: Tf,
  logits: tfjs.Tensor,
  labels: tfjs.Tensor | number[] | Int32Array,
  reduction: SparseXentReduction = 'mean',
): tfjs.Tensor {
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new RangeError(
      `sparseSoftmaxCrossEntropy: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`,
    );
  }
  if (logits.rank < 1) {
    throw new RangeError('sparseSoftmaxCrossEntropy: logits must have rank >= 1 ([..., classes])');
  }
  const classes = logits.shape[logits.rank - 1]!;
  const batchShape = logits.shape.slice(0, -1);
  return tf.tidy(() => {
    const rows = batchShape.reduce((p, q) => p * q, 1);
    if (!(labels instanceof tf.Tensor) && labels.length !== rows) {
      throw new RangeError(
        `sparseSoftmaxCrossEntropy: labels has ${labels.length} values, logits shape [${logits.shape}] needs ${rows}`,
      );
    }
    const lab =
      labels instanceof tf.Tensor ? labels : tf.tensor(labels as number[], batchShape, 'int32');
    if (lab.shape.length !== batchShape.length || lab.shape.some((d, i) => d !== batchShape[i])) {
      throw new RangeError(
        `sparseSoftmaxCrossEntropy: labels shape [${lab.shape}] must equal logits shape without the last dim [${batchShape}]`,
      );
    }
    const lg2 = logits.toFloat().reshape([rows, classes]);
    const lb2 = lab.toInt().reshape([rows]);
    const backend = tf.getBackend();
    const fused =
      tf.getKernel(SPARSE_XENT_KERNEL, backend) !== undefined &&
      tf.getKernel(SPARSE_XENT_GRAD_KERNEL, backend) !== undefined;
    let perRow: tfjs.Tensor;
    if (fused) {
      type GradFn = Parameters<Tf['customGrad']>[0];
      const op = tf.customGrad(((lg: tfjs.Tensor, lb: tfjs.Tensor, save: tfjs.GradSaveFunc) => {
        const [loss, lse] = tf
          .engine()
          .runKernel(SPARSE_XENT_KERNEL, { logits: lg, labels: lb }, {}) as tfjs.Tensor[];
        save([lg, lb, lse!]);
        return {
          value: loss!,
          gradFunc: (dy: tfjs.Tensor, saved: tfjs.Tensor[]) => {
            const [sLg, sLb, sLse] = saved as [tfjs.Tensor, tfjs.Tensor, tfjs.Tensor];
            const dl = tf
              .engine()
              .runKernel(
                SPARSE_XENT_GRAD_KERNEL,
                { logits: sLg, labels: sLb, lse: sLse, dy: dy.toFloat() },
                {},
              ) as tfjs.Tensor;
            return [dl, tf.zerosLike(sLb)];
          },
        };
      }) as GradFn);
      perRow = op(lg2, lb2) as tfjs.Tensor;
    } else {
      // stock ops: the same value and gradient on any backend
      const lse = tf.logSumExp(lg2, 1);
      const picked = tf.sum(tf.mul(tf.oneHot(lb2, classes).toFloat(), lg2), 1);
      perRow = tf.sub(lse, picked);
    }
    if (reduction === 'mean') return perRow.mean();
    if (reduction === 'sum') return perRow.sum();
    return perRow.reshape(batchShape);
  });
}
