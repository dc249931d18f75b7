/**
 * Entity vectors in every format users have, read into one float32 [rows, dim] table:
 *
 * - ours: `entity_vectors.bin` (`ARTKGVEC` header, see `export.ts`);
 * - numpy `.npy` (float32 or float64, C order, 2-D);
 * - OpenKE `entity2vec` text: one row of numbers per line (TAB or space separated), row i = id i;
 *   also our `name<TAB>v1 v2 ...` text (the names are then checked against `entity2id.txt`);
 * - PyTorch `entity2vec.pt`: a bare tensor, or an `nn.Embedding` state dict `{weight: ...}`
 *   (read with `@artist-ts/torch-files`, float16/bfloat16/float64 converted).
 *
 * The format is recognised from the content. The row count is checked against `entity2id.txt`
 * (by default the one beside the file), with an error naming both files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readFully } from '@artist-ts/core/files';
import { readTorchFile, stateDictOf, TorchTensor } from '@artist-ts/torch-files';
import { type EntityVectors, readVectorFile, VECTOR_MAGIC } from './export';
import { bytesOf, littleEndian } from './file_io';
import { readIdMap } from './kg_data';
import { nameIndexOf } from './name_index';
import { forEachLineBytes } from './openke_bytes';

export type EntityVectorFormat = 'artist' | 'npy' | 'text' | 'torch';

export interface ReadEntityVectorsOptions {
  /** The id map the rows follow (default: `entity2id.txt` beside the file); `false`: no check, no names. */
  entity2id?: string | false;
  /** Skip content sniffing. */
  format?: EntityVectorFormat;
}

export interface EntityVectorTable {
  format: EntityVectorFormat;
  rows: number;
  dim: number;
  /** [rows * dim], row i = entity id i. */
  vectors: Float32Array;
  /** Names from `entity2id.txt` (or from a named text file), when known. */
  names: string[] | null;
}

const NPY_MAGIC = '\x93NUMPY';

/** The format of `file`, from its first bytes. */
export function sniffEntityVectorFormat(file: string): EntityVectorFormat {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(8);
  let n = 0;
  try {
    n = fs.readSync(fd, head, 0, 8, 0);
  } finally {
    fs.closeSync(fd);
  }
  const h = head.subarray(0, n);
  if (h.toString('latin1') === VECTOR_MAGIC) return 'artist';
  if (h.subarray(0, 6).toString('latin1') === NPY_MAGIC) return 'npy';
  // torch.save: a zip archive (PK\x03\x04) or the legacy pickle stream (\x80 0x02..0x05).
  if ((h[0] === 0x50 && h[1] === 0x4b) || (h[0] === 0x80 && h[1] >= 2 && h[1] <= 5)) return 'torch';
  return 'text';
}

async function readNpy(
  file: string,
): Promise<{ rows: number; dim: number; vectors: Float32Array }> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const pre = Buffer.alloc(12);
    await readFully(fh, pre, 0);
    const major = pre[6];
    const headerLen = major === 1 ? pre.readUInt16LE(8) : pre.readUInt32LE(8);
    const start = major === 1 ? 10 : 12;
    const header = Buffer.alloc(headerLen);
    await readFully(fh, header, start);
    const dict = header.toString('latin1');
    const descr = /'descr':\s*'([^']+)'/.exec(dict)?.[1];
    const fortran = /'fortran_order':\s*(True|False)/.exec(dict)?.[1];
    const shape = /'shape':\s*\(([^)]*)\)/.exec(dict)?.[1];
    if (descr !== '<f4' && descr !== '<f8')
      throw new Error(`${file}: npy field 'descr' is ${descr}; expected '<f4' or '<f8'`);
    if (fortran !== 'False') throw new Error(`${file}: npy field 'fortran_order' must be False`);
    const dims = (shape ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '')
      .map(Number);
    if (dims.length !== 2 || !dims.every((d) => Number.isInteger(d) && d >= 0))
      throw new Error(`${file}: npy field 'shape' is (${shape}); expected (rows, dim)`);
    const [rows, dim] = dims;
    const width = descr === '<f4' ? 4 : 8;
    const dataOffset = start + headerLen;
    if (size !== dataOffset + rows * dim * width) {
      throw new Error(
        `${file}: ${size} bytes, expected ${dataOffset + rows * dim * width} for (${rows}, ${dim}) ${descr}`,
      );
    }
    const vectors = new Float32Array(rows * dim);
    if (width === 4 && littleEndian()) {
      await readFully(fh, bytesOf(vectors), dataOffset);
    } else {
      // float64 (or a big-endian machine): converted in 8 MiB blocks, never a second full copy.
      const block = Buffer.alloc(8 << 20);
      const per = block.length / width;
      for (let i = 0; i < vectors.length; i += per) {
        const n = Math.min(per, vectors.length - i);
        await readFully(fh, block.subarray(0, n * width), dataOffset + i * width);
        for (let k = 0; k < n; k++)
          vectors[i + k] = width === 4 ? block.readFloatLE(k * 4) : block.readDoubleLE(k * 8);
      }
    }
    return { rows, dim, vectors };
  } finally {
    await fh.close();
  }
}

async function readText(
  file: string,
  expectedRows: number | null,
): Promise<{ rows: number; dim: number; vectors: Float32Array; names: string[] | null }> {
  let dim = -1;
  let rows = 0;
  let vectors = new Float32Array(0);
  let names: string[] | null = null;
  let bad: Error | null = null;
  await forEachLineBytes(file, (buf, s, e, line) => {
    const text = buf.toString('utf8', s, e);
    if (text.trim() === '') return true;
    const tab = text.indexOf('\t');
    // `name<TAB>v1 v2 ...` when the first field is not a number, else numbers only.
    const first = tab >= 0 ? text.slice(0, tab) : '';
    const named = tab >= 0 && first.trim() !== '' && Number.isNaN(Number(first));
    const fields = (named ? text.slice(tab + 1) : text).trim().split(/[\t ]+/);
    if (dim < 0) {
      dim = fields.length;
      if (named) names = [];
      const capacity = (expectedRows ?? 1024) * dim;
      vectors = new Float32Array(capacity);
    }
    if (fields.length !== dim) {
      bad = new Error(
        `${file}:${line}: ${fields.length} values, expected ${dim} (as on the first row)`,
      );
      return false;
    }
    if ((rows + 1) * dim > vectors.length) {
      const bigger = new Float32Array(Math.max(vectors.length * 2, (rows + 1) * dim));
      bigger.set(vectors);
      vectors = bigger;
    }
    for (let k = 0; k < dim; k++) {
      const v = Number(fields[k]);
      if (!Number.isFinite(v)) {
        bad = new Error(`${file}:${line}: value ${k + 1} '${fields[k]}' is not a finite number`);
        return false;
      }
      vectors[rows * dim + k] = v;
    }
    if (names !== null) (names as string[]).push(first);
    rows++;
    return true;
  });
  if (bad) throw bad;
  if (dim < 0) throw new Error(`${file}: no vectors`);
  return {
    rows,
    dim,
    vectors: vectors.length === rows * dim ? vectors : vectors.slice(0, rows * dim),
    names,
  };
}

const PIECE = 64 << 20;

/**
 * A tensor's values as float32. A contiguous little-endian float32 tensor is read in 64 MiB
 * pieces straight into the result (one storage read of a multi-GB table would pass Node's 2 GiB
 * limit per read); anything else goes through `toFloat32` (conversions, strides).
 */
function tensorValues(t: TorchTensor): Float32Array {
  if (t.dtype !== 'float32' || !t.isContiguous() || !t.storage.littleEndian || !littleEndian())
    return t.toFloat32();
  const out = new Float32Array(t.numel);
  const bytes = bytesOf(out);
  const base = t.storageOffset * 4;
  for (let off = 0; off < bytes.length; off += PIECE) {
    const len = Math.min(PIECE, bytes.length - off);
    bytes.set(t.storage.readBytes(base + off, len), off);
  }
  return out;
}

function readTorch(file: string): { rows: number; dim: number; vectors: Float32Array } {
  const f = readTorchFile(file, { maxTotalBytes: Number.MAX_SAFE_INTEGER });
  try {
    let t: TorchTensor | undefined;
    if (f.root instanceof TorchTensor) {
      t = f.root;
    } else {
      const sd = stateDictOf(f).tensors;
      t = sd.get('weight');
      if (t === undefined) {
        const keys = [...sd.keys()];
        throw new Error(
          `${file}: expected a tensor or an nn.Embedding state dict with 'weight'; found keys ${keys.slice(0, 10).join(', ') || '(none)'}`,
        );
      }
    }
    if (t.shape.length !== 2)
      throw new Error(`${file}: the entity tensor has shape [${t.shape}]; expected [rows, dim]`);
    return { rows: t.shape[0], dim: t.shape[1], vectors: tensorValues(t) };
  } finally {
    f.close();
  }
}

/** Reads an entity-vector table in any supported format (see the module comment). */
export async function readEntityVectors(
  file: string,
  options: ReadEntityVectorsOptions = {},
): Promise<EntityVectorTable> {
  if (!fs.existsSync(file)) throw new Error(`${file}: missing`);
  const mapFile =
    options.entity2id === false
      ? null
      : (options.entity2id ?? path.join(path.dirname(file), 'entity2id.txt'));
  if (mapFile !== null && !fs.existsSync(mapFile)) {
    throw new Error(
      `${mapFile}: missing (the id map of ${file}; pass entity2id, or false to skip the check)`,
    );
  }
  const names = mapFile === null ? null : await readIdMap(mapFile, 'entity id');
  const format = options.format ?? sniffEntityVectorFormat(file);
  let table: { rows: number; dim: number; vectors: Float32Array; names?: string[] | null };
  if (format === 'artist') {
    const v = await readVectorFile(file);
    table = { rows: v.header.rows, dim: v.header.dim, vectors: v.data };
  } else if (format === 'npy') {
    table = await readNpy(file);
  } else if (format === 'torch') {
    table = readTorch(file);
  } else {
    table = await readText(file, names?.length ?? null);
  }
  if (names !== null && table.rows !== names.length) {
    throw new Error(
      `${file}: ${table.rows} entity vectors, but ${mapFile} lists ${names.length} entities (row i must be the vector of id i)`,
    );
  }
  if (names !== null && table.names) {
    for (let i = 0; i < names.length; i++) {
      if (table.names[i] !== names[i]) {
        throw new Error(
          `${file}: row ${i} is named '${table.names[i]}' but ${mapFile} gives id ${i} to '${names[i]}'`,
        );
      }
    }
  }
  return {
    format,
    rows: table.rows,
    dim: table.dim,
    vectors: table.vectors,
    names: names ?? table.names ?? null,
  };
}

/** `readEntityVectors` as the `EntityVectors` gpt-knowl consumes (names and a name -> id index). */
export async function loadEntityVectorFile(
  file: string,
  options: ReadEntityVectorsOptions = {},
): Promise<EntityVectors> {
  const t = await readEntityVectors(file, options);
  if (t.names === null)
    throw new Error(`${file}: entity names are needed (an entity2id.txt, or a named text file)`);
  const ids = nameIndexOf(t.names, file);
  return { names: t.names, ids, dim: t.dim, vectors: t.vectors };
}
