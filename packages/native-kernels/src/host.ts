// Zero-copy access to tensor memory on the two CPU hosts we patch.
//   cpu:  backend.data.get(dataId).values is the tensor's own typed array.
//   wasm: backend.typedArrayFromHeap(info) is a view on the wasm heap. The heap can grow on any
//         allocation, which detaches older views: allocate outputs first, then take input views.
import type * as tfjs from '@tensorflow/tfjs';

export type Tf = typeof tfjs;
export type TensorInfo = tfjs.TensorInfo;
export type HostName = 'cpu' | 'wasm';
export type NumericArray = Float32Array | Int32Array;

/** Backend-independent view of tensor storage used by every kernel in this package. */
export interface Host {
  readonly name: HostName;
  /** Allocates an output tensor; its storage is zero-filled on cpu and uninitialised on wasm. */
  alloc(shape: number[], dtype: 'float32' | 'int32'): TensorInfo;
  /** The tensor's storage (float32 or int32). Take it after the last `alloc` of a kernel call. */
  view(t: TensorInfo): NumericArray;
  /** Frees an intermediate created by `alloc` that is not returned from the kernel. */
  free(t: TensorInfo): void;
  /**
   * Whether the tensor's storage has the typed-array kind of its dtype (Float32Array for float32,
   * Int32Array for int32). Always true on wasm. On cpu a cast that loses no information (int32 or
   * bool to float32, bool to int32) shares the source's Int32Array/Uint8Array under the new dtype.
   */
  storageMatchesDtype(t: TensorInfo): boolean;
  /** The storage whatever its kind (cpu: may be a Uint8Array for bool-derived tensors). */
  rawView(t: TensorInfo): ArrayLike<number>;
}

interface CpuBackendLike {
  data: { get(id: unknown): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: string, values?: unknown): TensorInfo;
  disposeIntermediateTensorInfo(t: TensorInfo): void;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): ArrayBufferView;
  disposeData(id: unknown): boolean;
}

function isF32OrI32(v: unknown): v is NumericArray {
  const tag = Object.prototype.toString.call(v);
  return tag === '[object Float32Array]' || tag === '[object Int32Array]';
}

function sizeOf(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Wraps a cpu or wasm backend instance. */
export function hostFor(name: HostName, backend: unknown): Host {
  if (name === 'cpu') {
    const b = backend as CpuBackendLike;
    return {
      name,
      alloc(shape, dtype) {
        const n = sizeOf(shape);
        const values = dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
        return b.makeTensorInfo(shape, dtype, values);
      },
      view(t) {
        const values = b.data.get(t.dataId).values;
        if (!isF32OrI32(values)) {
          throw new Error(`native-kernels: cpu tensor of dtype ${t.dtype} has no numeric storage`);
        }
        return values;
      },
      free(t) {
        b.disposeIntermediateTensorInfo(t);
      },
      rawView(t) {
        return b.data.get(t.dataId).values as ArrayLike<number>;
      },
      storageMatchesDtype(t) {
        if (t.dtype !== 'float32' && t.dtype !== 'int32') return true;
        const values = b.data.get(t.dataId).values;
        const tag = Object.prototype.toString.call(values);
        return t.dtype === 'float32'
          ? tag === '[object Float32Array]'
          : tag === '[object Int32Array]';
      },
    };
  }
  const b = backend as WasmBackendLike;
  return {
    name,
    alloc(shape, dtype) {
      return b.makeOutput(shape, dtype);
    },
    view(t) {
      const v = b.typedArrayFromHeap(t);
      if (!isF32OrI32(v)) {
        throw new Error(`native-kernels: wasm tensor of dtype ${t.dtype} is not float32/int32`);
      }
      return v;
    },
    free(t) {
      b.disposeData(t.dataId);
    },
    storageMatchesDtype() {
      return true;
    },
    rawView(t) {
      return b.typedArrayFromHeap(t) as unknown as ArrayLike<number>;
    },
  };
}

/** Typed float32 view; throws when the tensor is not float32. */
export function f32(host: Host, t: TensorInfo): Float32Array {
  const v = host.view(t);
  if (
    !(v instanceof Float32Array) &&
    Object.prototype.toString.call(v) !== '[object Float32Array]'
  ) {
    throw new Error(`native-kernels: expected a float32 tensor, got ${t.dtype}`);
  }
  return v as Float32Array;
}
