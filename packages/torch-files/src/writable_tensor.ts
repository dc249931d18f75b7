/**
 * A tensor to write: a dtype, a shape and its row-major values, given either as a typed array
 * (converted to the dtype block by block) or as the raw little-endian bytes of the dtype in chunks,
 * so a table of several GB is streamed to disk and never copied whole. Both writers (torch.save zip
 * and safetensors) take these.
 */
import * as os from 'node:os';
import { floatToBfloat16, floatToHalf } from './half';
import { DTYPE_SIZE, type TorchDType, TorchTensor } from './tensor';

/** Dtypes the writers can store. */
export type WritableDType = TorchDType;

/** Numeric typed arrays accepted as values (BigInt64Array only for int64). */
export type TensorValues =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | BigInt64Array;

/** Raw little-endian bytes of the dtype, row-major, in any number of chunks. */
export type ByteChunks = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface TensorSpec {
  dtype: WritableDType;
  shape: readonly number[];
  /**
   * Values (float dtypes round to nearest even; integer dtypes must hold integers in range), the
   * raw bytes as chunks, or a contiguous TorchTensor read from another file (its bytes are copied).
   */
  data: TensorValues | ByteChunks | TorchTensor;
}

const INT_RANGE: Partial<Record<WritableDType, [number, number]>> = {
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int16: [-(2 ** 15), 2 ** 15 - 1],
  int8: [-128, 127],
  uint8: [0, 255],
  bool: [0, 1],
};

/** The typed array whose in-memory bytes already are the dtype's little-endian layout. */
const NATIVE: Partial<Record<WritableDType, new (n: number) => TensorValues>> = {
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

/** Elements converted per block when values are not stored as they are. */
const BLOCK_ELEMENTS = 1 << 20;
/** Bytes read per chunk when copying a TorchTensor. */
const COPY_BYTES = 1 << 24;

function isByteChunks(d: TensorSpec['data']): d is ByteChunks {
  return (
    !ArrayBuffer.isView(d) &&
    !(d instanceof TorchTensor) &&
    d !== null &&
    typeof d === 'object' &&
    (Symbol.iterator in d || Symbol.asyncIterator in d)
  );
}

/** A validated tensor to write. `name` appears in errors (a state-dict key or safetensors name). */
export class WritableTensor implements TensorSpec {
  readonly dtype: WritableDType;
  readonly shape: readonly number[];
  readonly data: TensorValues | ByteChunks | TorchTensor;
  readonly numel: number;
  readonly byteLength: number;
  readonly name: string;

  constructor(spec: TensorSpec, name = 'tensor') {
    const { dtype, shape, data } = spec;
    const where = `${name}: `;
    if (!(dtype in DTYPE_SIZE)) {
      throw new Error(
        `${where}dtype '${dtype}' is not one of ${Object.keys(DTYPE_SIZE).join(', ')}`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      throw new Error(`${where}shape must be non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const numel = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(numel)) throw new Error(`${where}shape [${shape}] is too large`);
    if (data instanceof TorchTensor) {
      if (data.dtype !== dtype || data.numel !== numel || !data.isContiguous()) {
        throw new Error(
          `${where}a TorchTensor source must be contiguous with the same dtype and size ` +
            `(got ${data.dtype} [${data.shape}], want ${dtype} [${shape}])`,
        );
      }
      if (!data.storage.littleEndian) throw new Error(`${where}a big-endian TorchTensor source`);
    } else if (ArrayBuffer.isView(data)) {
      if (data.length !== numel) {
        throw new Error(`${where}shape [${shape}] holds ${numel} values, data has ${data.length}`);
      }
      if (data instanceof BigInt64Array && dtype !== 'int64') {
        throw new Error(`${where}BigInt64Array values can only be written as int64, not ${dtype}`);
      }
    } else if (!isByteChunks(data)) {
      throw new Error(`${where}data must be a typed array, byte chunks or a TorchTensor`);
    }
    this.dtype = dtype;
    this.shape = [...shape];
    this.data = data;
    this.numel = numel;
    this.byteLength = numel * DTYPE_SIZE[dtype];
    this.name = name;
  }

  /** The little-endian bytes of values [start, start + count), converted to the dtype. */
  private encodeBlock(values: TensorValues, start: number, count: number): Uint8Array {
    const native = NATIVE[this.dtype];
    if (LITTLE_ENDIAN_HOST && native && values instanceof native) {
      const size = DTYPE_SIZE[this.dtype];
      return new Uint8Array(values.buffer, values.byteOffset + start * size, count * size);
    }
    const size = DTYPE_SIZE[this.dtype];
    const out = new Uint8Array(count * size);
    const dv = new DataView(out.buffer);
    const range = INT_RANGE[this.dtype];
    for (let j = 0; j < count; j++) {
      const raw = values[start + j];
      if (typeof raw === 'bigint') {
        dv.setBigInt64(8 * j, raw, true);
        continue;
      }
      if (range && !(Number.isInteger(raw) && raw >= range[0] && raw <= range[1])) {
        throw new Error(
          `${this.name}: value ${raw} at index ${start + j} is not a valid ${this.dtype}`,
        );
      }
      switch (this.dtype) {
        case 'float32':
          dv.setFloat32(4 * j, raw, true);
          break;
        case 'float64':
          dv.setFloat64(8 * j, raw, true);
          break;
        case 'float16':
          dv.setUint16(2 * j, floatToHalf(raw), true);
          break;
        case 'bfloat16':
          dv.setUint16(2 * j, floatToBfloat16(raw), true);
          break;
        case 'int64':
          dv.setBigInt64(8 * j, BigInt(raw), true);
          break;
        case 'int32':
          dv.setInt32(4 * j, raw, true);
          break;
        case 'int16':
          dv.setInt16(2 * j, raw, true);
          break;
        default: // int8, uint8, bool
          out[j] = raw & 0xff;
      }
    }
    return out;
  }

  /** The bytes of typed-array values, all at once (for in-memory encoders). */
  encodeValues(): Uint8Array {
    if (!ArrayBuffer.isView(this.data)) {
      throw new Error(`${this.name}: only typed-array data can be encoded in memory`);
    }
    return this.encodeBlock(this.data, 0, this.numel);
  }

  /**
   * The tensor's bytes in chunks (views of the caller's arrays where no conversion is needed).
   * Byte-chunk data must add up to exactly `byteLength`.
   */
  async *bytes(): AsyncGenerator<Uint8Array> {
    const d = this.data;
    if (ArrayBuffer.isView(d)) {
      for (let start = 0; start < this.numel; start += BLOCK_ELEMENTS) {
        yield this.encodeBlock(d, start, Math.min(BLOCK_ELEMENTS, this.numel - start));
      }
      return;
    }
    if (d instanceof TorchTensor) {
      const size = DTYPE_SIZE[this.dtype];
      const first = d.storageOffset * size;
      for (let off = 0; off < this.byteLength; off += COPY_BYTES) {
        yield d.storage.readBytes(first + off, Math.min(COPY_BYTES, this.byteLength - off));
      }
      return;
    }
    let total = 0;
    for await (const chunk of d) {
      if (!(chunk instanceof Uint8Array)) {
        throw new Error(`${this.name}: byte chunks must be Uint8Array`);
      }
      total += chunk.length;
      if (total > this.byteLength) break;
      yield chunk;
    }
    if (total !== this.byteLength) {
      throw new Error(
        `${this.name}: ${this.dtype} [${this.shape}] needs ${this.byteLength} bytes, the chunks ` +
          `${total > this.byteLength ? 'hold more' : `held ${total}`}`,
      );
    }
  }
}
