// Slice, SplitV and Concat as native strided copies. Slice and SplitV use the addon's `transpose`
// (which copies any layout of up to 6 merged dims) on an offset view of the input; Concat copies
// each input's rows into its column block of the output (`copy2d`). Stock wasm and cpu copy
// non-contiguous slices element by element in JS: splitting a fused qkv projection [8, 128, 384]
// into q, k and v took ~2.5 ms per slice on wasm, more than the attention itself, and the
// concatenation of their gradients ~1 ms. Declines (stock kernel) for dtypes other than float32
// and slices of more than 6 merged dims.
import type * as tfjs from '@tensorflow/tfjs';
import { f32, type Tf } from '../host';
import type { KernelImpl } from './types';

/**
 * Offset and [merged sizes, x strides] (the addon's transpose layout) of the slice of a row-major
 * `shape` starting at `begin` with extent `size`. Unit dims are dropped and dims that are
 * contiguous in x are merged, so a slice along the last axis of a [b, t, 3d] tensor is 2 dims.
 */
export function sliceLayout(
  shape: number[],
  begin: number[],
  size: number[],
): { offset: number; dims: Int32Array } {
  const rank = shape.length;
  const strides = new Array<number>(rank);
  let st = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = st;
    st *= shape[d]!;
  }
  let offset = 0;
  for (let d = 0; d < rank; d++) offset += begin[d]! * strides[d]!;
  const merged: { n: number; s: number }[] = [];
  for (let d = 0; d < rank; d++) {
    const n = size[d]!;
    if (n === 1) continue;
    const last = merged[merged.length - 1];
    // the previous dim steps over exactly n of this one: one dim of last.n * n elements
    if (last && last.s === strides[d]! * n && n === shape[d]) {
      last.n *= n;
      last.s = strides[d]!;
    } else {
      merged.push({ n, s: strides[d]! });
    }
  }
  if (merged.length === 0) merged.push({ n: 1, s: 1 });
  const k = merged.length;
  const dims = new Int32Array(2 * k);
  merged.forEach((m, i) => {
    dims[i] = m.n;
    dims[k + i] = m.s;
  });
  return { offset, dims };
}

function copySlice(
  call: Parameters<KernelImpl['run']>[0],
  x: tfjs.TensorInfo,
  begin: number[],
  size: number[],
  out: tfjs.TensorInfo,
): void {
  const n = size.reduce((p, q) => p * q, 1);
  if (n === 0) return;
  const { offset, dims } = sliceLayout(x.shape, begin, size);
  const xv = f32(call.host, x);
  call.native!.transpose(xv.subarray(offset), f32(call.host, out), dims);
}

function fits(shape: number[], begin: number[], size: number[]): boolean {
  return sliceLayout(shape, begin, size).dims.length / 2 <= 6;
}

const sliceNative: KernelImpl = {
  kernelName: 'Slice',
  kind: 'native',
  run(call) {
    const { x } = call.inputs;
    if (!call.native || !x || x.dtype !== 'float32') return null;
    const [begin, size] = (call.tf as Tf).slice_util.parseSliceParams(
      x as tfjs.TensorInfo as tfjs.Tensor,
      call.attrs.begin as number[],
      call.attrs.size as number[],
    );
    if (!fits(x.shape, begin, size)) return null;
    const out = call.host.alloc(size, 'float32');
    copySlice(call, x, begin, size, out);
    return out;
  },
};

const splitVNative: KernelImpl = {
  kernelName: 'SplitV',
  kind: 'native',
  run(call) {
    const { x } = call.inputs;
    if (!call.native || !x || x.dtype !== 'float32') return null;
    const tf = call.tf as Tf;
    const axis = tf.util.parseAxisParam(call.attrs.axis as number, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(
      x as tfjs.TensorInfo as tfjs.Tensor,
      call.attrs.numOrSizeSplits as number | number[],
      axis,
    );
    const begin = new Array<number>(x.shape.length).fill(0);
    const parts: { begin: number[]; size: number[] }[] = sizes.map((s) => {
      const size = x.shape.slice();
      size[axis] = s;
      const b = begin.slice();
      begin[axis]! += s;
      return { begin: b, size };
    });
    if (!parts.every((p) => fits(x.shape, p.begin, p.size))) return null;
    // all outputs first: on wasm an allocation can move the heap and detach older views
    const outs = parts.map((p) => call.host.alloc(p.size, 'float32'));
    parts.forEach((p, i) => {
      copySlice(call, x, p.begin, p.size, outs[i]!);
    });
    return outs;
  },
};

const concatNative: KernelImpl = {
  kernelName: 'Concat',
  kind: 'native',
  run(call) {
    const xs = Object.values(call.inputs);
    if (!call.native || xs.length === 0 || xs.some((t) => t.dtype !== 'float32')) return null;
    const tf = call.tf as Tf;
    const first = xs[0]!;
    const axis = tf.util.parseAxisParam(call.attrs.axis as number, first.shape)[0]!;
    for (const t of xs) {
      if (t.shape.length !== first.shape.length) return null;
      if (t.shape.some((d, i) => i !== axis && d !== first.shape[i])) return null;
    }
    // every input is [outer, inner_i]; the output [outer, sum inner_i] takes them side by side
    const outer = first.shape.slice(0, axis).reduce((p, q) => p * q, 1);
    const inners = xs.map((t) => t.shape.slice(axis).reduce((p, q) => p * q, 1));
    const total = inners.reduce((p, q) => p + q, 0);
    const outShape = first.shape.slice();
    outShape[axis] = xs.reduce((p, t) => p + t.shape[axis]!, 0);
    const out = call.host.alloc(outShape, 'float32');
    if (outer === 0 || total === 0) return out;
    const ov = f32(call.host, out);
    let col = 0;
    xs.forEach((t, i) => {
      const inner = inners[i]!;
      if (inner > 0)
        call.native!.copy2d(f32(call.host, t), ov.subarray(col), outer, inner, inner, total);
      col += inner;
    });
    return out;
  },
};

export const sliceNativeKernels: KernelImpl[] = [sliceNative, splitVNative, concatNative];
