/**
 * safetensors: 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}`, then the data.
 * Offsets are relative to the end of the header; every check of the format's spec is applied
 * (in bounds, sizes match dtype x shape, no overlaps) before any tensor is read.
 */
import type { ByteSource } from './byte_source';
import { TorchFileError } from './errors';
import { writeFileAtomically } from './file_sink';
import type { ReaderOptions } from './limits';
import { DTYPE_SIZE, type TorchDType, type TorchStorage, TorchTensor } from './tensor';
import { type TensorSpec, type WritableDType, WritableTensor } from './writable_tensor';

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

/** One tensor to write under `name` (see TensorSpec for the data it takes). */
export interface SafetensorsEntry extends TensorSpec {
  name: string;
}

const ST_NAMES: Record<WritableDType, string> = Object.fromEntries(
  Object.entries(ST_DTYPES).map(([name, dtype]) => [dtype, name]),
) as Record<WritableDType, string>;

/** The header (padded to 8 bytes) and the validated tensors, in the given order. */
function planSafetensors(
  entries: readonly SafetensorsEntry[],
  metadata?: Record<string, string>,
): { head: Uint8Array; tensors: WritableTensor[] } {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = { ...metadata };
  let off = 0;
  const tensors = entries.map((e) => {
    if (e.name === '__metadata__' || e.name in header) {
      throw new Error(`safetensors: duplicate or reserved name '${e.name}'`);
    }
    const t = new WritableTensor(e, e.name);
    header[e.name] = {
      dtype: ST_NAMES[t.dtype],
      shape: [...t.shape],
      data_offsets: [off, off + t.byteLength],
    };
    off += t.byteLength;
    return t;
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const text = Buffer.from(json, 'utf8');
  const head = new Uint8Array(8 + text.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(text.length), true);
  head.set(text, 8);
  return { head, tensors };
}

/** The bytes of a safetensors file, in memory (typed-array data only). */
export function encodeSafetensors(
  entries: readonly SafetensorsEntry[],
  metadata?: Record<string, string>,
): Uint8Array {
  const { head, tensors } = planSafetensors(entries, metadata);
  return Buffer.concat([head, ...tensors.map((t) => t.encodeValues())]);
}

/**
 * Writes a safetensors file atomically, streaming each tensor's bytes (byte-chunk data is never
 * held whole).
 */
export async function writeSafetensors(
  file: string,
  entries: readonly SafetensorsEntry[],
  metadata?: Record<string, string>,
): Promise<void> {
  const { head, tensors } = planSafetensors(entries, metadata);
  await writeFileAtomically(file, async (sink) => {
    await sink.write(head);
    for (const t of tensors) for await (const chunk of t.bytes()) await sink.write(chunk);
  });
}
