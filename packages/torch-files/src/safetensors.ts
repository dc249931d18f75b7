/**
 * safetensors: 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}`, then the data.
 * Offsets are relative to the end of the header; every check of the format's spec is applied
 * (in bounds, sizes match dtype x shape, no overlaps) before any tensor is read.
 */
import { atomicWriteFile } from '@artist-ts/core/files';
import type { ByteSource } from './byte_source';
import { TorchFileError } from './errors';
import type { ReaderOptions } from './limits';
import { DTYPE_SIZE, type TorchDType, type TorchStorage, TorchTensor } from './tensor';

const ST_DTYPES: Readonly<Record<string, TorchDType>> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

export function parseSafetensors(
  src: ByteSource,
  o: ReaderOptions,
): { tensors: TorchTensor[]; metadata: Record<string, string> } {
  const where = (field?: string, offset?: number) => ({ file: src.name, field, offset });
  if (src.size < 8)
    throw new TorchFileError('safetensors file shorter than its 8-byte header length', where());
  const h8 = src.read(0, 8);
  const n64 = new DataView(h8.buffer, h8.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(o.maxHeaderBytes)) {
    throw new TorchFileError(
      `header of ${n64} bytes exceeds maxHeaderBytes ${o.maxHeaderBytes}`,
      where(undefined, 0),
    );
  }
  const n = Number(n64);
  if (8 + n > src.size)
    throw new TorchFileError(
      `header of ${n} bytes runs past the end of the file`,
      where(undefined, 0),
    );
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(src.read(8, n)).toString('utf8'));
  } catch (e) {
    throw new TorchFileError(`header is not JSON: ${(e as Error).message}`, where(undefined, 8));
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new TorchFileError('header is not a JSON object', where(undefined, 8));
  }
  const dataStart = 8 + n;
  const dataLen = src.size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TorchTensor[] = [];
  const spans: [number, number, string][] = [];
  let total = 0;
  for (const [name, spec] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof spec !== 'object' || spec === null)
        throw new TorchFileError('__metadata__ is not an object', where(name));
      for (const [k, v] of Object.entries(spec)) {
        if (typeof v !== 'string')
          throw new TorchFileError(`__metadata__.${k} is not a string`, where(name));
        metadata[k] = v;
      }
      continue;
    }
    const s = spec as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof s.dtype === 'string' ? ST_DTYPES[s.dtype] : undefined;
    if (!dtype) {
      throw new TorchFileError(
        `dtype ${JSON.stringify(s.dtype)} is not supported (allowed: ${Object.keys(ST_DTYPES).join(', ')})`,
        where(`${name}.dtype`),
      );
    }
    if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new TorchFileError(
        `shape ${JSON.stringify(s.shape)} is not a list of sizes`,
        where(`${name}.shape`),
      );
    }
    const shape = s.shape as number[];
    const off = s.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      off[0] > off[1]
    ) {
      throw new TorchFileError(
        `data_offsets ${JSON.stringify(off)} are not [begin, end]`,
        where(`${name}.data_offsets`),
      );
    }
    const [b, e] = off as number[];
    let numel = 1;
    for (const d of shape) {
      numel *= d;
      if (numel > o.maxTensorElements) {
        throw new TorchFileError(
          `shape [${shape}] exceeds the limit of ${o.maxTensorElements} elements`,
          where(`${name}.shape`),
        );
      }
    }
    if (e > dataLen) {
      throw new TorchFileError(
        `data_offsets [${b}, ${e}] run past the ${dataLen} data bytes`,
        where(`${name}.data_offsets`),
      );
    }
    const size = DTYPE_SIZE[dtype];
    if (e - b !== numel * size) {
      throw new TorchFileError(
        `shape [${shape}] x ${s.dtype} needs ${numel * size} bytes but data_offsets span ${e - b}`,
        where(`${name}.data_offsets`),
      );
    }
    total += e - b;
    if (total > o.maxTotalBytes)
      throw new TorchFileError(`tensors exceed maxTotalBytes ${o.maxTotalBytes}`, where(name));
    if (tensors.length >= o.maxTensors)
      throw new TorchFileError(`more than ${o.maxTensors} tensors`, where(name));
    spans.push([b, e, name]);
    const storage: TorchStorage = {
      key: name,
      dtype,
      numel,
      littleEndian: true,
      file: src.name,
      readBytes: (x, len) => {
        if (x + len > e - b)
          throw new TorchFileError('read past the end of the tensor', where(name));
        return src.read(dataStart + b + x, len);
      },
    };
    tensors.push(
      new TorchTensor(
        storage,
        shape,
        TorchTensor.contiguousStrides(shape),
        0,
        name,
        o.maxTensorElements,
      ),
    );
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) {
      throw new TorchFileError(
        `data of ${spans[i][2]} overlaps ${spans[i - 1][2]}`,
        where(spans[i][2]),
      );
    }
  }
  // Keep file order of the header (JSON object order = insertion order for non-integer keys).
  return { tensors, metadata };
}

/** One tensor to write. Float data may be stored as float16/bfloat16 (rounded to nearest even). */
export interface SafetensorsEntry {
  name: string;
  shape: readonly number[];
  dtype: 'float32' | 'float16' | 'bfloat16' | 'int32' | 'int64' | 'uint8' | 'bool';
  data: Float32Array | Int32Array | Uint8Array;
}

const ST_NAMES: Record<SafetensorsEntry['dtype'], string> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int32: 'I32',
  int64: 'I64',
  uint8: 'U8',
  bool: 'BOOL',
};

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float -> IEEE half bits, round to nearest even (as numpy / torch). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> 0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  mant >>>= 13;
  if (rest > 0x1000 || (rest === 0x1000 && mant & 1)) {
    mant++;
    if (mant === 0x400) {
      mant = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | mant;
}

/** float -> bfloat16 bits, round to nearest even. */
export function floatToBfloat16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40; // keep NaN a NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The bytes of a safetensors file (header padded to 8 bytes, data in the given order). */
export function encodeSafetensors(
  entries: readonly SafetensorsEntry[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = { ...metadata };
  const sizes = entries.map((e) => {
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (n !== e.data.length)
      throw new Error(
        `encodeSafetensors: ${e.name}: shape [${e.shape}] holds ${n} values, data has ${e.data.length}`,
      );
    if (!(e.dtype in ST_NAMES))
      throw new Error(
        `encodeSafetensors: ${e.name}: dtype '${e.dtype}' not in ${Object.keys(ST_NAMES).join(', ')}`,
      );
    return (
      n *
      ({ float32: 4, float16: 2, bfloat16: 2, int32: 4, int64: 8, uint8: 1, bool: 1 } as const)[
        e.dtype
      ]
    );
  });
  let off = 0;
  entries.forEach((e, i) => {
    if (e.name === '__metadata__' || e.name in header)
      throw new Error(`encodeSafetensors: duplicate or reserved name '${e.name}'`);
    header[e.name] = {
      dtype: ST_NAMES[e.dtype],
      shape: [...e.shape],
      data_offsets: [off, off + sizes[i]],
    };
    off += sizes[i];
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + head.length + off);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let p = 8 + head.length;
  entries.forEach((e, i) => {
    const d = e.data;
    const n = d.length;
    switch (e.dtype) {
      case 'float32':
        for (let j = 0; j < n; j++) dv.setFloat32(p + 4 * j, d[j], true);
        break;
      case 'int32':
        for (let j = 0; j < n; j++) dv.setInt32(p + 4 * j, d[j], true);
        break;
      case 'float16':
        for (let j = 0; j < n; j++) dv.setUint16(p + 2 * j, floatToHalf(d[j]), true);
        break;
      case 'bfloat16':
        for (let j = 0; j < n; j++) dv.setUint16(p + 2 * j, floatToBfloat16(d[j]), true);
        break;
      case 'int64':
        for (let j = 0; j < n; j++) dv.setBigInt64(p + 8 * j, BigInt(Math.trunc(d[j])), true);
        break;
      default:
        for (let j = 0; j < n; j++) out[p + j] = d[j];
    }
    p += sizes[i];
  });
  return out;
}

/** Writes a safetensors file atomically. */
export async function writeSafetensors(
  file: string,
  entries: readonly SafetensorsEntry[],
  metadata?: Record<string, string>,
): Promise<void> {
  await atomicWriteFile(file, encodeSafetensors(entries, metadata));
}
