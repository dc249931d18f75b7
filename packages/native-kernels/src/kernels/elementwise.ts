// Element-wise overrides: transcendental unary ops and broadcasting binary ops in the addon, and a
// zero-copy Identity for wasm (whose own copies the buffer on every clone and gradient pass-through).
import { f32, type NumericArray, type TensorInfo } from '../host';
import type { KernelImpl } from './types';

const UNARY_OPS = { Exp: 0, Tanh: 1, Sigmoid: 2, Log: 3 } as const;
const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, SquaredDifference: 4 } as const;

function unaryNative(kernelName: keyof typeof UNARY_OPS): KernelImpl {
  const op = UNARY_OPS[kernelName];
  return {
    kernelName,
    kind: 'native',
    run({ inputs, host, native }) {
      const { x } = inputs;
      if (!native || !x || x.dtype !== 'float32') return null;
      const out = host.alloc(x.shape, 'float32');
      native.unary(op, f32(host, x), f32(host, out));
      return out;
    },
  };
}

/**
 * Output shape plus element strides of a and b aligned to it (0 along broadcast dims), with
 * adjacent dims merged where both operands are contiguous across them (dims: k sizes, k strides of
 * a, k strides of b). Null if not broadcastable.
 */
export function broadcastLayout(
  aShape: number[],
  bShape: number[],
): { out: number[]; dims: Int32Array } | null {
  const rank = Math.max(aShape.length, bShape.length);
  const out: number[] = [];
  let strideA = 1;
  let strideB = 1;
  const rows: { n: number; a: number; b: number }[] = [];
  for (let i = 1; i <= rank; i++) {
    const da = aShape[aShape.length - i] ?? 1;
    const db = bShape[bShape.length - i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    const n = da === 1 ? db : da; // 1 broadcasts to anything, including 0
    rows.push({ n, a: da === 1 && n !== 1 ? 0 : strideA, b: db === 1 && n !== 1 ? 0 : strideB });
    strideA *= da;
    strideB *= db;
  }
  rows.reverse();
  for (const r of rows) out.push(r.n);
  // merge dims (outer, inner) when outer.stride == inner.stride * inner.n for both operands
  const merged: { n: number; a: number; b: number }[] = [];
  for (const r of rows) {
    if (r.n === 1) continue;
    const last = merged[merged.length - 1];
    if (last && last.a === r.a * r.n && last.b === r.b * r.n) {
      last.n *= r.n;
      last.a = r.a;
      last.b = r.b;
    } else {
      merged.push({ ...r });
    }
  }
  if (merged.length === 0) merged.push({ n: 1, a: 1, b: 1 });
  const k = merged.length;
  const dims = new Int32Array(3 * k);
  merged.forEach((r, i) => {
    dims[i] = r.n;
    dims[k + i] = r.a;
    dims[2 * k + i] = r.b;
  });
  return { out, dims };
}

const BINARY_JS: Record<keyof typeof BINARY_OPS, (p: number, q: number) => number> = {
  Add: (p, q) => p + q,
  Sub: (p, q) => p - q,
  Multiply: (p, q) => p * q,
  RealDiv: (p, q) => p / q,
  SquaredDifference: (p, q) => (p - q) * (p - q),
};

/** Broadcasting binary op for any rank over a `broadcastLayout` (used above 6 merged dims). */
export function binaryJs(
  f: (p: number, q: number) => number,
  a: Float32Array,
  b: Float32Array,
  y: Float32Array,
  dims: Int32Array,
): void {
  const k = dims.length / 3;
  const n = dims[k - 1]!;
  const sa = dims[2 * k - 1]!;
  const sb = dims[3 * k - 1]!;
  const idx = new Array<number>(k).fill(0);
  let oa = 0;
  let ob = 0;
  for (let o = 0; o < y.length; o += n) {
    for (let i = 0; i < n; i++) y[o + i] = f(a[oa + i * sa]!, b[ob + i * sb]!);
    for (let d = k - 2; d >= 0; d--) {
      idx[d]!++;
      oa += dims[k + d]!;
      ob += dims[2 * k + d]!;
      if (idx[d]! < dims[d]!) break;
      oa -= dims[k + d]! * dims[d]!;
      ob -= dims[2 * k + d]! * dims[d]!;
      idx[d] = 0;
    }
  }
}

function binaryKernel(kernelName: keyof typeof BINARY_OPS, kind: 'native' | 'js'): KernelImpl {
  const op = BINARY_OPS[kernelName];
  return {
    kernelName,
    kind,
    run({ inputs, host, native }) {
      const { a, b } = inputs;
      if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
      const layout = broadcastLayout(a.shape, b.shape);
      if (!layout) return null;
      const merged = layout.dims.length / 3;
      const useNative = kind === 'native' && native !== null && merged <= 6;
      // stock wasm binary ops (XNNPACK) return garbage above 6 dims; cpu's handle any rank
      if (!useNative && (layout.out.length <= 6 || host.name === 'cpu')) return null;
      const out = host.alloc(layout.out, 'float32');
      if (out.shape.reduce((x, y) => x * y, 1) === 0) return out;
      if (useNative) native!.binary(op, f32(host, a), f32(host, b), f32(host, out), layout.dims);
      else binaryJs(BINARY_JS[kernelName], f32(host, a), f32(host, b), f32(host, out), layout.dims);
      return out;
    },
  };
}

const BINARY_NAMES = Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[];
/** Native broadcasting binary ops (JS above 6 merged dims on wasm). */
export const binaryNativeKernels: KernelImpl[] = BINARY_NAMES.map((n) => binaryKernel(n, 'native'));
/** Without the addon, on wasm: only the > 6-dim cases stock wasm gets wrong. */
export const binaryHighRankJsKernels: KernelImpl[] = BINARY_NAMES.map((n) => binaryKernel(n, 'js'));

export const unaryNativeKernels: KernelImpl[] = (
  Object.keys(UNARY_OPS) as (keyof typeof UNARY_OPS)[]
).map(unaryNative);

/**
 * [A, R, B] view of a reduction over `axis` when the reduced axes are one contiguous block
 * (covers row sums, column sums and bias gradients); null otherwise.
 */
export function reductionBlock(
  shape: number[],
  axis: number | number[] | undefined,
): { a: number; r: number; b: number; axes: number[] } | null {
  const rank = shape.length;
  const raw =
    axis === undefined || axis === null
      ? shape.map((_, i) => i)
      : Array.isArray(axis)
        ? axis
        : [axis];
  const axes = [...new Set(raw.map((x) => (x < 0 ? x + rank : x)))].sort((p, q) => p - q);
  if (axes.length === 0 || axes.some((x) => !Number.isInteger(x) || x < 0 || x >= rank))
    return null;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1]! + 1) return null;
  const prod = (xs: number[]) => xs.reduce((p, q) => p * q, 1);
  return {
    a: prod(shape.slice(0, axes[0])),
    r: prod(shape.slice(axes[0], axes[axes.length - 1]! + 1)),
    b: prod(shape.slice(axes[axes.length - 1]! + 1)),
    axes,
  };
}

function reduceNative(kernelName: 'Sum' | 'Mean'): KernelImpl {
  return {
    kernelName,
    kind: 'native',
    run({ inputs, attrs, host, native }) {
      const { x } = inputs;
      if (!native || !x || x.dtype !== 'float32') return null;
      const block = reductionBlock(x.shape, attrs.axis as number | number[] | undefined);
      if (!block || block.r === 0) return null;
      const outShape = attrs.keepDims
        ? x.shape.map((d, i) => (block.axes.includes(i) ? 1 : d))
        : x.shape.filter((_, i) => !block.axes.includes(i));
      const out = host.alloc(outShape, 'float32');
      if (block.a * block.b === 0) return out;
      native.reduceSum(
        f32(host, x),
        f32(host, out),
        block.a,
        block.r,
        block.b,
        kernelName === 'Mean' ? 1 / block.r : 1,
      );
      return out;
    },
  };
}

export const reduceNativeKernels: KernelImpl[] = [reduceNative('Sum'), reduceNative('Mean')];

/**
 * Output shape and, per output dim, the input stride it reads, with output dims merged where they
 * are also adjacent in the input (dims holds the merged rank k: k sizes then k strides).
 */
export function transposeLayout(
  shape: number[],
  perm: number[],
): { out: number[]; dims: Int32Array } {
  const rank = shape.length;
  const inStrides = new Array<number>(rank);
  let st = 1;
  for (let d = rank - 1; d >= 0; d--) {
    inStrides[d] = st;
    st *= shape[d]!;
  }
  const out = perm.map((p) => shape[p]!);
  const merged: { n: number; s: number }[] = [];
  perm.forEach((p) => {
    const n = shape[p]!;
    if (n === 1) return;
    const last = merged[merged.length - 1];
    if (last && last.s === inStrides[p]! * n) {
      last.n *= n;
      last.s = inStrides[p]!;
    } else {
      merged.push({ n, s: inStrides[p]! });
    }
  });
  if (merged.length === 0) merged.push({ n: 1, s: 1 });
  const k = merged.length;
  const dims = new Int32Array(2 * k);
  merged.forEach((m, i) => {
    dims[i] = m.n;
    dims[k + i] = m.s;
  });
  return { out, dims };
}

/** Strided copy for any rank: out[i] in order, reading x through `dims` (see transposeLayout). */
export function transposeJs(x: NumericArray, y: NumericArray, dims: Int32Array): void {
  const k = dims.length / 2;
  const n = dims[k - 1]!;
  const s = dims[2 * k - 1]!;
  const idx = new Array<number>(k).fill(0);
  let off = 0;
  for (let o = 0; o < y.length; o += n) {
    for (let i = 0; i < n; i++) y[o + i] = x[off + i * s]!;
    for (let d = k - 2; d >= 0; d--) {
      idx[d]!++;
      off += dims[k + d]!;
      if (idx[d]! < dims[d]!) break;
      off -= dims[k + d]! * dims[d]!;
      idx[d] = 0;
    }
  }
}

function transposeKernel(kind: 'native' | 'js'): KernelImpl {
  return {
    kernelName: 'Transpose',
    kind,
    run({ inputs, attrs, host, native }) {
      const { x } = inputs;
      const perm = attrs.perm as number[] | undefined;
      if (!x || !perm || perm.length !== x.shape.length) return null;
      if (x.dtype !== 'float32' && x.dtype !== 'int32') return null;
      const layout = transposeLayout(x.shape, perm);
      const merged = layout.dims.length / 2;
      const useNative =
        kind === 'native' && native !== null && x.dtype === 'float32' && merged <= 6;
      // up to 6 dims the stock kernels are right; above, stock wasm (XNNPACK) returns garbage
      if (!useNative && (x.shape.length <= 6 || host.name === 'cpu')) return null;
      const out = host.alloc(layout.out, x.dtype);
      if (layout.out.reduce((p, q) => p * q, 1) === 0) return out;
      if (useNative) native!.transpose(f32(host, x), f32(host, out), layout.dims);
      else transposeJs(host.view(x), host.view(out), layout.dims);
      return out;
    },
  };
}

/** Native strided transpose (float32, up to 6 merged dims), JS above 6 dims. */
export const transposeNative = transposeKernel('native');
/** Without the addon: only the transposes of more than 6 merged dims, which stock wasm gets wrong. */
export const transposeHighRankJs = transposeKernel('js');

/** wasm Identity that shares the input buffer (reference counted), as the cpu backend does. */
export const identityShared: KernelImpl = {
  kernelName: 'Identity',
  kind: 'js',
  run({ inputs, host, backend }) {
    const { x } = inputs;
    const be = backend as { incRef?: (id: unknown) => void };
    if (host.name !== 'wasm' || !x || x.dtype === 'string' || typeof be.incRef !== 'function')
      return null;
    be.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype } as TensorInfo;
  },
};

/**
 * wasm Cast to the tensor's own dtype shares the buffer instead of copying it. tfjs-core's
 * gradients call `cast(x, 'float32')` on float32 tensors all the time (Multiply, Tanh, moments):
 * about 100 full copies per GPT step. Real conversions go to the stock kernel.
 */
export const castSameDtypeShared: KernelImpl = {
  kernelName: 'Cast',
  kind: 'js',
  run({ inputs, attrs, host, backend }) {
    const { x } = inputs;
    const be = backend as { incRef?: (id: unknown) => void };
    if (host.name !== 'wasm' || !x || attrs.dtype !== x.dtype || typeof be.incRef !== 'function')
      return null;
    if (x.dtype === 'string' || x.dtype === 'complex64') return null;
    be.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype } as TensorInfo;
  },
};
