// GatherV2 (every embedding lookup) as row copies on the tensors' own memory. The stock wasm kernel
// took 7 ms for a [1024] lookup into a [3512, 128] table; this is a few thousand memcpy-sized
// TypedArray.set calls. Needs no addon.
import type { NumericArray } from '../host';
import type { KernelImpl } from './types';

/** out[o, i, :] = x[o, indices[i], :] for x viewed as [outer, axisDim, inner]. */
export function gatherRows(
  x: NumericArray,
  indices: Int32Array,
  out: NumericArray,
  outer: number,
  axisDim: number,
  inner: number,
): void {
  const n = indices.length;
  if (inner >= 16) {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < n; i++) {
        const src = (o * axisDim + indices[i]!) * inner;
        out.set(x.subarray(src, src + inner), (o * n + i) * inner);
      }
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++) {
      const src = (o * axisDim + indices[i]!) * inner;
      const dst = (o * n + i) * inner;
      for (let j = 0; j < inner; j++) out[dst + j] = x[src + j]!;
    }
  }
}

/**
 * GatherV2 for float32/int32 params and int32 indices with batchDims 0. Out-of-range indices go to
 * the stock kernel (which raises on cpu).
 */
export const gatherV2Kernel: KernelImpl = {
  kernelName: 'GatherV2',
  kind: 'js',
  run({ inputs, attrs, host }) {
    const { x, indices } = inputs;
    if (!x || !indices || indices.dtype !== 'int32') return null;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return null;
    if (Number(attrs.batchDims ?? 0) !== 0 || x.shape.length === 0) return null;
    let axis = Number(attrs.axis ?? 0);
    if (axis < 0) axis += x.shape.length;
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) return null;
    const axisDim = x.shape[axis]!;
    const ids = host.view(indices) as Int32Array;
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]!;
      if (v < 0 || v >= axisDim) return null;
    }
    const prod = (s: number[]) => s.reduce((p, q) => p * q, 1);
    const outer = prod(x.shape.slice(0, axis));
    const innerShape = x.shape.slice(axis + 1);
    const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...innerShape];
    const out = host.alloc(outShape, x.dtype);
    if (prod(outShape) === 0) return out;
    // views after the last alloc: a wasm heap growth detaches older ones
    gatherRows(
      host.view(x),
      host.view(indices) as Int32Array,
      host.view(out),
      outer,
      axisDim,
      prod(innerShape),
    );
    return out;
  },
};
