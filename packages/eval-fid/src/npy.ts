/**
 * NumPy `.npy` and `.npz` reader/writer (format versions 1.0, 2.0 and 3.0), enough for the
 * statistics files pytorch-fid (`np.savez`), clean-fid (`np.savez_compressed`) and TTUR write.
 * Does not load tfjs.
 */
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';

/** Typed storage of a decoded array, always in C (row-major) order. */
export type NpyData =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

export interface NpyArray {
  /** NumPy dtype string as written (`<f8`, `|u1`, `<U12`, ...). */
  dtype: string;
  shape: number[];
  data: NpyData;
}

/** Bad `.npy`/`.npz` content; the message names the file (when known), the entry and the field. */
export class NpyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NpyFormatError';
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface DtypeInfo {
  kind: 'f' | 'i' | 'u' | 'b' | 'U';
  size: number;
  bigEndian: boolean;
}

function parseDtype(descr: string, where: string): DtypeInfo {
  const m = /^([<>|=])([fiubU])(\d+)$/.exec(descr);
  if (!m)
    throw new NpyFormatError(
      `${where}: unsupported dtype descr '${descr}' (structured/object dtypes are not supported)`,
    );
  const kind = m[2] as DtypeInfo['kind'];
  const size = Number(m[3]);
  const allowed: Record<string, number[]> = {
    f: [4, 8],
    i: [1, 2, 4, 8],
    u: [1, 2, 4, 8],
    b: [1],
    U: [],
  };
  if (kind !== 'U' && !allowed[kind]!.includes(size)) {
    throw new NpyFormatError(
      `${where}: unsupported dtype '${descr}' (allowed: f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 U<n>)`,
    );
  }
  return { kind, size, bigEndian: m[1] === '>' };
}

function parseHeader(
  header: string,
  where: string,
): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(header);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr) throw new NpyFormatError(`${where}: header has no 'descr' field: ${header.trim()}`);
  if (!fortran)
    throw new NpyFormatError(`${where}: header has no 'fortran_order' field: ${header.trim()}`);
  if (!shape) throw new NpyFormatError(`${where}: header has no 'shape' field: ${header.trim()}`);
  const dims = shape[1]!
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0)
    .map((x) => {
      const n = Number(x.replace(/L$/, ''));
      if (!Number.isInteger(n) || n < 0)
        throw new NpyFormatError(`${where}: bad shape entry '${x}'`);
      return n;
    });
  return { descr: descr[1]!, fortran: fortran[1] === 'True', shape: dims };
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Reorders a column-major buffer of `shape` to row-major. */
function fortranToC<T extends { length: number; [i: number]: unknown }>(
  src: T,
  dst: T,
  shape: number[],
): T {
  const n = product(shape);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  const fStrides = new Array<number>(rank);
  let s = 1;
  for (let k = 0; k < rank; k++) {
    fStrides[k] = s;
    s *= shape[k]!;
  }
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let k = 0; k < rank; k++) f += idx[k]! * fStrides[k]!;
    dst[c] = src[f];
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < shape[k]!) break;
      idx[k] = 0;
    }
  }
  return dst;
}

/** Decodes one `.npy` file. `where` names the source in error messages. */
export function decodeNpy(bytes: Uint8Array, where = '<npy>'): NpyArray {
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i])
      throw new NpyFormatError(`${where}: not a .npy file (bad magic string)`);
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new NpyFormatError(`${where}: unsupported .npy format version ${major}.${bytes[7]}`);
  }
  if (headerStart + headerLen > bytes.length)
    throw new NpyFormatError(`${where}: truncated header`);
  const headerBytes = bytes.subarray(headerStart, headerStart + headerLen);
  const header = major === 3 ? strFromU8(headerBytes) : String.fromCharCode(...headerBytes);
  const { descr, fortran, shape } = parseHeader(header, where);
  const info = parseDtype(descr, where);
  const n = product(shape);
  const offset = headerStart + headerLen;
  const itemSize = info.kind === 'U' ? 4 * info.size : info.size;
  const need = n * itemSize;
  if (bytes.length - offset < need) {
    throw new NpyFormatError(
      `${where}: data section has ${bytes.length - offset} bytes, shape [${shape}] of ${descr} needs ${need}`,
    );
  }
  const body = new DataView(bytes.buffer, bytes.byteOffset + offset, need);
  const le = !info.bigEndian;
  let data: NpyData;
  if (info.kind === 'U') {
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) {
      let str = '';
      for (let c = 0; c < info.size; c++) {
        const cp = body.getUint32((i * info.size + c) * 4, le);
        if (cp === 0) break;
        str += String.fromCodePoint(cp);
      }
      out[i] = str;
    }
    data = out;
  } else {
    const key = `${info.kind}${info.size}`;
    const make = (): NpyData => {
      switch (key) {
        case 'f8': {
          const o = new Float64Array(n);
          for (let i = 0; i < n; i++) o[i] = body.getFloat64(i * 8, le);
          return o;
        }
        case 'f4': {
          const o = new Float32Array(n);
          for (let i = 0; i < n; i++) o[i] = body.getFloat32(i * 4, le);
          return o;
        }
        case 'i1':
          return new Int8Array(bytes.slice(offset, offset + n));
        case 'u1':
        case 'b1':
          return new Uint8Array(bytes.slice(offset, offset + n));
        case 'i2': {
          const o = new Int16Array(n);
          for (let i = 0; i < n; i++) o[i] = body.getInt16(i * 2, le);
          return o;
        }
        case 'u2': {
          const o = new Uint16Array(n);
          for (let i = 0; i < n; i++) o[i] = body.getUint16(i * 2, le);
          return o;
        }
        case 'i4': {
          const o = new Int32Array(n);
          for (let i = 0; i < n; i++) o[i] = body.getInt32(i * 4, le);
          return o;
        }
        case 'u4': {
          const o = new Uint32Array(n);
          for (let i = 0; i < n; i++) o[i] = body.getUint32(i * 4, le);
          return o;
        }
        case 'i8': {
          const o = new BigInt64Array(n);
          for (let i = 0; i < n; i++) o[i] = body.getBigInt64(i * 8, le);
          return o;
        }
        default: {
          const o = new BigUint64Array(n);
          for (let i = 0; i < n; i++) o[i] = body.getBigUint64(i * 8, le);
          return o;
        }
      }
    };
    data = make();
  }
  if (fortran && shape.length > 1) {
    const dst = (
      Array.isArray(data)
        ? new Array<string>(n)
        : new (data.constructor as new (n: number) => NpyData)(n)
    ) as NpyData;
    data = fortranToC(data as never, dst as never, shape);
  }
  return { dtype: descr, shape, data };
}

function dtypeOf(data: NpyData): string {
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof Uint8Array) return '|u1';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Uint32Array) return '<u4';
  if (data instanceof BigInt64Array) return '<i8';
  if (data instanceof BigUint64Array) return '<u8';
  const width = Math.max(1, ...data.map((s) => [...s].length));
  return `<U${width}`;
}

/** Encodes an array as `.npy` version 1.0 (little-endian, C order, header padded to 64 bytes). */
export function encodeNpy(array: { shape: number[]; data: NpyData }): Uint8Array {
  const { shape, data } = array;
  const n = product(shape);
  if (data.length !== n)
    throw new RangeError(`encodeNpy: shape [${shape}] needs ${n} values, got ${data.length}`);
  const descr = dtypeOf(data);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  if (header.length > 65535) throw new RangeError('encodeNpy: header too long for format 1.0');
  let body: Uint8Array;
  if (Array.isArray(data)) {
    const width = Number(descr.slice(2));
    body = new Uint8Array(n * width * 4);
    const dv = new DataView(body.buffer);
    data.forEach((s, i) => {
      let c = 0;
      for (const ch of s) dv.setUint32((i * width + c++) * 4, ch.codePointAt(0)!, true);
    });
  } else {
    // Typed arrays are little-endian on every platform Node supports.
    body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const out = new Uint8Array(10 + header.length + body.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(strToU8(header), 10);
  out.set(body, 10 + header.length);
  return out;
}

/** Decodes a `.npz` archive (stored or deflated, zip64 included) into arrays keyed by name. */
export function decodeNpz(bytes: Uint8Array, where = '<npz>'): Record<string, NpyArray> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new NpyFormatError(`${where}: not a readable zip archive (${(e as Error).message})`);
  }
  const out: Record<string, NpyArray> = {};
  for (const [name, content] of Object.entries(files)) {
    if (!name.endsWith('.npy')) continue;
    out[name.slice(0, -4)] = decodeNpy(content, `${where}:${name}`);
  }
  return out;
}

/**
 * Encodes arrays as a `.npz` archive, like `np.savez` (stored) or `np.savez_compressed`
 * (`compress: true`). `np.load` reads it back.
 */
export function encodeNpz(
  arrays: Record<string, { shape: number[]; data: NpyData }>,
  options: { compress?: boolean } = {},
): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  for (const [name, arr] of Object.entries(arrays)) entries[`${name}.npy`] = encodeNpy(arr);
  // mtime fixed so identical statistics give byte-identical files (cache-friendly, diffable).
  return zipSync(entries, {
    level: options.compress ? 6 : 0,
    mtime: new Date('1980-01-01T00:00:00Z'),
  });
}
