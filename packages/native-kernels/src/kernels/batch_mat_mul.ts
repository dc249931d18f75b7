// BatchMatMul on the BLAS: both transposes and numpy-style broadcasting of the batch dims.
import type { NativeAddon } from '../addon';
import { f32, type Host, type TensorInfo } from '../host';
import type { KernelCall, KernelImpl } from './types';

/** Element offsets of every batch matrix of `shape` (rank >= 2) broadcast to `outBatch`. */
export function broadcastOffsets(shape: number[], outBatch: number[]): Int32Array | null {
  const batchDims = shape.slice(0, -2);
  const matSize = shape[shape.length - 2] * shape[shape.length - 1];
  const total = outBatch.reduce((a, b) => a * b, 1);
  const size = batchDims.reduce((a, b) => a * b, 1);
  if (size === total && batchDims.length === outBatch.length) return null; // plain i * stride
  // strides of the input batch dims aligned to the right of outBatch; 0 where broadcast
  const rank = outBatch.length;
  const strides = new Array<number>(rank).fill(0);
  let s = matSize;
  for (let i = batchDims.length - 1; i >= 0; i--) {
    const o = rank - batchDims.length + i;
    strides[o] = batchDims[i] === 1 ? 0 : s;
    s *= batchDims[i];
  }
  const out = new Int32Array(total);
  const idx = new Array<number>(rank).fill(0);
  for (let b = 0; b < total; b++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += idx[d] * strides[d];
    out[b] = off;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outBatch[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

interface MatMulPlan {
  outShape: number[];
  batch: number;
  m: number;
  n: number;
  k: number;
  offA: Int32Array | null;
  offB: Int32Array | null;
  strideA: number;
  strideB: number;
}

/** Shapes and batch offsets for a (possibly broadcast) batched matmul, or null if unsupported. */
export function planMatMul(
  tf: KernelCall['tf'],
  aShape: number[],
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
): MatMulPlan | null {
  const ra = aShape.length;
  const rb = bShape.length;
  if (ra < 2 || rb < 2) return null;
  const m = transposeA ? aShape[ra - 1] : aShape[ra - 2];
  const k = transposeA ? aShape[ra - 2] : aShape[ra - 1];
  const kb = transposeB ? bShape[rb - 1] : bShape[rb - 2];
  const n = transposeB ? bShape[rb - 2] : bShape[rb - 1];
  if (k !== kb) return null; // the stock kernel raises the descriptive error
  let outBatch: number[];
  try {
    outBatch = tf.broadcast_util.assertAndGetBroadcastShape(
      aShape.slice(0, -2),
      bShape.slice(0, -2),
    );
  } catch {
    return null;
  }
  const batch = outBatch.reduce((x, y) => x * y, 1);
  const sizeA = aShape.reduce((x, y) => x * y, 1);
  const sizeB = bShape.reduce((x, y) => x * y, 1);
  if (sizeA >= 2 ** 31 || sizeB >= 2 ** 31) return null;
  const offA = broadcastOffsets(aShape, outBatch);
  const offB = broadcastOffsets(bShape, outBatch);
  return {
    outShape: [...outBatch, m, n],
    batch,
    m,
    n,
    k,
    offA,
    offB,
    strideA: m * k,
    strideB: k * n,
  };
}

/** Runs a planned matmul into a fresh float32 output. */
export function runMatMul(
  host: Host,
  native: NativeAddon,
  a: TensorInfo,
  b: TensorInfo,
  plan: MatMulPlan,
  transposeA: boolean,
  transposeB: boolean,
  rowInit: TensorInfo | null = null,
): TensorInfo {
  const out = host.alloc(plan.outShape, 'float32');
  if (plan.batch * plan.m * plan.n === 0) return out;
  const y = f32(host, out);
  // with rowInit (a bias of n values), every output row starts as it and the product is added
  // (beta 1); its view is taken after the allocation above (which can move the wasm heap)
  if (rowInit) {
    const init = f32(host, rowInit);
    for (let r = 0; r < plan.batch * plan.m; r++) y.set(init, r * plan.n);
  }
  native.sgemmBatched(
    f32(host, a),
    f32(host, b),
    y,
    plan.batch,
    plan.m,
    plan.n,
    plan.k,
    transposeA,
    transposeB,
    plan.offA,
    plan.offB,
    plan.strideA,
    plan.strideB,
    1,
    rowInit ? 1 : 0,
  );
  return out;
}

export const batchMatMulNative: KernelImpl = {
  kernelName: 'BatchMatMul',
  kind: 'native',
  coerceStorage: true,
  run({ inputs, attrs, host, tf, native }) {
    const { a, b } = inputs;
    if (!native || !a || !b || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
    const transposeA = Boolean(attrs.transposeA);
    const transposeB = Boolean(attrs.transposeB);
    const plan = planMatMul(tf, a.shape, b.shape, transposeA, transposeB);
    if (!plan) return null;
    return runMatMul(host, native, a, b, plan, transposeA, transposeB);
  },
};

/** Plain JS batched GEMM over precomputed batch offsets (used only where the stock kernels fail). */
export function sgemmBatchedJs(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  plan: MatMulPlan,
  transposeA: boolean,
  transposeB: boolean,
): void {
  const { batch, m, n, k } = plan;
  // element (i, p) of op(A) is at i * ai + p * ap; (p, j) of op(B) at p * bp + j * bj
  const [ai, ap] = transposeA ? [1, m] : [k, 1];
  const [bp, bj] = transposeB ? [1, k] : [n, 1];
  c.fill(0);
  for (let t = 0; t < batch; t++) {
    const oa = plan.offA ? plan.offA[t] : t * plan.strideA;
    const ob = plan.offB ? plan.offB[t] : t * plan.strideB;
    const oc = t * m * n;
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const av = a[oa + i * ai + p * ap];
        const bo = ob + p * bp;
        const co = oc + i * n;
        for (let j = 0; j < n; j++) c[co + j] += av * b[bo + j * bj];
      }
    }
  }
}

/**
 * Without the addon: handles only batch broadcasting that the stock cpu and wasm kernels get wrong
 * (both batch sizes > 1 and different, e.g. [2, 1] x [1, 3]); everything else goes to the stock kernel.
 */
export const batchMatMulBroadcastJs: KernelImpl = {
  kernelName: 'BatchMatMul',
  kind: 'js',
  coerceStorage: true,
  run({ inputs, attrs, host, tf }) {
    const { a, b } = inputs;
    if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
    const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    if (batchA === 1 || batchB === 1 || (batchA === batchB && a.shape.length === b.shape.length)) {
      return null;
    }
    const transposeA = Boolean(attrs.transposeA);
    const transposeB = Boolean(attrs.transposeB);
    const plan = planMatMul(tf, a.shape, b.shape, transposeA, transposeB);
    if (!plan) return null;
    const out = host.alloc(plan.outShape, 'float32');
    sgemmBatchedJs(f32(host, a), f32(host, b), f32(host, out), plan, transposeA, transposeB);
    return out;
  },
};
