/**
 * Tensors as checkpoint files describe them: a dtype, a shape, strides and an offset into a storage
 * whose bytes are read only when the tensor is materialised (one tensor at a time, so a converter
 * never holds a whole multi-GB file in memory).
 */
import { ioChunkBytes } from '@artist-ts/core/files';
import { TorchFileError } from './errors';
import { halfToFloat } from './half';

export type TorchDType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

export const DTYPE_SIZE: Readonly<Record<TorchDType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function isFloatDType(d: TorchDType): boolean {
  return d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';
}

/** A typed storage: `numel` elements of `dtype`, bytes fetched on demand. */
export interface TorchStorage {
  /** Storage key (zip: data/<key>; safetensors: the tensor name). */
  readonly key: string;
  readonly dtype: TorchDType;
  readonly numel: number;
  readonly littleEndian: boolean;
  /** File name, for errors. */
  readonly file: string;
  /** `byteLength` bytes at `byteOffset` of the storage. */
  readBytes(byteOffset: number, byteLength: number): Uint8Array;
}

/** Largest byte block read and decoded at once when materialising a contiguous tensor. */
const DECODE_BLOCK_BYTES = 1 << 24;

let halfTable: Float32Array | null = null;

/** All 65536 half values as float32 (256 KiB, built on first use). */
function halfLookup(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** Decodes `n` elements of `dtype` from raw bytes into float32. */
export function decodeToFloat32(
  bytes: Uint8Array,
  dtype: TorchDType,
  n: number,
  littleEndian = true,
): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case 'float32':
      if (littleEndian && bytes.byteOffset % 4 === 0)
        out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, littleEndian);
      break;
    case 'float16': {
      const table = halfLookup();
      if (littleEndian && bytes.byteOffset % 2 === 0) {
        const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
        for (let i = 0; i < n; i++) out[i] = table[u16[i]];
      } else for (let i = 0; i < n; i++) out[i] = table[dv.getUint16(2 * i, littleEndian)];
      break;
    }
    case 'bfloat16': {
      const bits = new Uint32Array(out.buffer);
      if (littleEndian && bytes.byteOffset % 2 === 0) {
        const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
        for (let i = 0; i < n; i++) bits[i] = u16[i] << 16;
      } else for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, littleEndian) << 16;
      break;
    }
    case 'float64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, littleEndian);
      break;
    case 'int64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(8 * i, littleEndian));
      break;
    case 'int32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, littleEndian);
      break;
    case 'int16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, littleEndian);
      break;
    case 'int8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    case 'uint8':
    case 'bool':
      for (let i = 0; i < n; i++) out[i] = bytes[i];
      break;
  }
  return out;
}

/** Decodes integer elements into int32; values outside int32 throw (naming `what`). */
export function decodeToInt32(
  bytes: Uint8Array,
  dtype: TorchDType,
  n: number,
  littleEndian: boolean,
  what: { file: string; field: string },
): Int32Array {
  if (isFloatDType(dtype)) {
    throw new TorchFileError(`expected an integer tensor, got ${dtype}`, what);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    switch (dtype) {
      case 'int64': {
        const b = dv.getBigInt64(8 * i, littleEndian);
        if (b > 2147483647n || b < -2147483648n)
          throw new TorchFileError(`int64 value ${b} does not fit int32`, what);
        v = Number(b);
        break;
      }
      case 'int32':
        v = dv.getInt32(4 * i, littleEndian);
        break;
      case 'int16':
        v = dv.getInt16(2 * i, littleEndian);
        break;
      case 'int8':
        v = dv.getInt8(i);
        break;
      default:
        v = bytes[i];
    }
    out[i] = v;
  }
  return out;
}

export class TorchTensor {
  /** True when it was saved as an nn.Parameter. */
  isParameter = false;
  requiresGrad = false;
  readonly numel: number;

  constructor(
    readonly storage: TorchStorage,
    readonly shape: readonly number[],
    readonly strides: readonly number[],
    readonly storageOffset: number,
    /** Where it was found (state-dict key or pickle offset), for errors. */
    public origin: string,
    maxElements: number,
  ) {
    const where = { file: storage.file, field: origin };
    if (shape.length !== strides.length) {
      throw new TorchFileError(`shape [${shape}] and strides [${strides}] differ in rank`, where);
    }
    let numel = 1;
    let last = storageOffset;
    for (let d = 0; d < shape.length; d++) {
      const s = shape[d];
      const st = strides[d];
      if (!Number.isSafeInteger(s) || s < 0)
        throw new TorchFileError(`bad size ${s} in dim ${d}`, where);
      if (!Number.isSafeInteger(st) || st < 0)
        throw new TorchFileError(`bad stride ${st} in dim ${d}`, where);
      numel *= s;
      if (numel > maxElements) {
        throw new TorchFileError(
          `tensor of shape [${shape}] exceeds the limit of ${maxElements} elements`,
          where,
        );
      }
      if (s > 0) last += (s - 1) * st;
    }
    if (!Number.isSafeInteger(storageOffset) || storageOffset < 0) {
      throw new TorchFileError(`bad storage offset ${storageOffset}`, where);
    }
    if (numel > 0 && last >= storage.numel) {
      throw new TorchFileError(
        `shape [${shape}] strides [${strides}] offset ${storageOffset} reach element ${last} of a storage of ${storage.numel}`,
        where,
      );
    }
    this.numel = numel;
  }

  get dtype(): TorchDType {
    return this.storage.dtype;
  }

  /** Row-major contiguous strides of `shape`. */
  static contiguousStrides(shape: readonly number[]): number[] {
    const st = new Array<number>(shape.length);
    let acc = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      st[d] = acc;
      acc *= shape[d];
    }
    return st;
  }

  isContiguous(): boolean {
    const c = TorchTensor.contiguousStrides(this.shape);
    return this.shape.every((s, d) => s === 1 || c[d] === this.strides[d]);
  }

  /** Storage-element span [first, end) the tensor touches. */
  private span(): [number, number] {
    let last = this.storageOffset;
    for (let d = 0; d < this.shape.length; d++) last += (this.shape[d] - 1) * this.strides[d];
    return [this.storageOffset, last + 1];
  }

  /** Contiguous row-major elements, gathered through the strides. */
  private gather<T extends Float32Array | Int32Array>(
    decode: (bytes: Uint8Array, n: number) => T,
    make: (n: number) => T,
  ): T {
    if (this.numel === 0) return make(0);
    const size = DTYPE_SIZE[this.dtype];
    const [first, end] = this.span();
    if (this.isContiguous()) {
      // Block by block: a storage of several GiB is never held whole beside its decoded values.
      const out = make(this.numel);
      const block = Math.max(1, Math.floor(Math.min(ioChunkBytes(), DECODE_BLOCK_BYTES) / size));
      for (let i = 0; i < this.numel; i += block) {
        const n = Math.min(block, this.numel - i);
        out.set(decode(this.storage.readBytes((first + i) * size, n * size), n), i);
      }
      return out;
    }
    const raw = decode(this.storage.readBytes(first * size, (end - first) * size), end - first);
    const out = make(this.numel);
    const rank = this.shape.length;
    const idx = new Array<number>(rank).fill(0);
    let src = 0;
    for (let i = 0; i < this.numel; i++) {
      out[i] = raw[src];
      for (let d = rank - 1; d >= 0; d--) {
        idx[d]++;
        src += this.strides[d];
        if (idx[d] < this.shape[d]) break;
        src -= idx[d] * this.strides[d];
        idx[d] = 0;
      }
    }
    return out;
  }

  /** The values as float32, row-major (float16/bfloat16/float64/int widened or narrowed). */
  toFloat32(): Float32Array {
    return this.gather(
      (b, n) => decodeToFloat32(b, this.dtype, n, this.storage.littleEndian),
      (n) => new Float32Array(n),
    );
  }

  /** The values as int32, row-major; only for integer and bool tensors. */
  toInt32(): Int32Array {
    const what = { file: this.storage.file, field: this.origin };
    return this.gather(
      (b, n) => decodeToInt32(b, this.dtype, n, this.storage.littleEndian, what),
      (n) => new Int32Array(n),
    );
  }
}
