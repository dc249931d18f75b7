/**
 * Output folder (the `kg/` stage of a run):
 *
 *   entity2id.txt, relation2id.txt   OpenKE maps: a count line, then `name<TAB>id`
 *   entity_vectors.bin               float32 matrix [N, dim] with a JSON header (layout below)
 *   relation_vectors.bin             float32 matrix [R, dim]
 *   entity_vectors.txt               `name<TAB>v1 v2 ...` (word2vec-like; optional)
 *   entity_vectors.npy, relation_vectors.npy   numpy float32 matrices (optional)
 *   entity2vec.pt                    torch.save of the float32 entity tensor (optional, EasyNLP)
 *   relation_vectors.txt
 *   metadata.json                    model, distance, dims, config, metrics
 *
 * `.bin` layout: 8 bytes ASCII magic `ARTKGVEC`, uint32 little-endian header length H, H bytes
 * of UTF-8 JSON (space padded so the matrix starts at a multiple of 64), then rows x dim float32
 * little-endian values, row i = id i. The header repeats `dataOffset`, so numpy reads it with
 * `np.fromfile(path, dtype='<f4', offset=header['dataOffset']).reshape(rows, dim)`.
 *
 * Ids are exactly those of entity2id.txt: id 0 is a real entity, not padding (see the README).
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteDir, readFully, writeFully } from '@artist-ts/core/files';
import { WritableTensor, writeTorchFile } from '@artist-ts/torch-files';
import { bytesOf, littleEndian } from './file_io';
import { readIdMap, readIdMapSync } from './kg_data';
import { type NameIndex, nameIndexOf } from './name_index';

export const VECTOR_MAGIC = 'ARTKGVEC';
export const VECTOR_FORMAT = 'artist-ts-kg-vectors';
export const VECTOR_FORMAT_VERSION = 1;

export interface VectorHeader {
  format: string;
  version: number;
  kind: 'entity' | 'relation';
  rows: number;
  dim: number;
  dtype: 'float32';
  byteOrder: 'little';
  dataOffset: number;
  model: string;
  distance?: string;
}

/** The header bytes of a vector file (magic, length, padded JSON), up to `dataOffset`. */
export function vectorFileHeader(
  kind: 'entity' | 'relation',
  rows: number,
  dim: number,
  extra: { model?: string; distance?: string } = {},
): Uint8Array {
  const header: VectorHeader = {
    format: VECTOR_FORMAT,
    version: VECTOR_FORMAT_VERSION,
    kind,
    rows,
    dim,
    dtype: 'float32',
    byteOrder: 'little',
    dataOffset: 0,
    model: extra.model ?? 'TransE',
  };
  if (extra.distance) header.distance = extra.distance;
  // dataOffset depends on the header's own length: iterate until stable.
  let json = '';
  for (let i = 0; i < 4; i++) {
    json = JSON.stringify(header);
    const raw = 12 + Buffer.byteLength(json);
    header.dataOffset = Math.ceil(raw / 64) * 64;
  }
  json = JSON.stringify(header);
  const headerLen = header.dataOffset - 12;
  if (Buffer.byteLength(json) > headerLen) throw new Error('encodeVectorFile: header does not fit');
  const out = new Uint8Array(header.dataOffset);
  out.set(Buffer.from(VECTOR_MAGIC, 'ascii'), 0);
  new DataView(out.buffer).setUint32(8, headerLen, true);
  out.set(Buffer.from(json.padEnd(headerLen, ' '), 'utf8'), 12);
  return out;
}

function checkRows(kind: string, rows: number, dim: number, data: Float32Array): void {
  if (data.length !== rows * dim) {
    throw new RangeError(
      `encodeVectorFile: ${kind} data has ${data.length} values, expected ${rows} x ${dim}`,
    );
  }
}

/** Little-endian float32 bytes of `data`: a view on little-endian machines, else a swapped copy. */
function float32LE(data: Float32Array): Uint8Array {
  if (littleEndian()) return bytesOf(data);
  const out = new Uint8Array(data.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  return out;
}

/** Encodes a vector file (header + matrix) in memory; `writeEmbeddings` streams instead. */
export function encodeVectorFile(
  kind: 'entity' | 'relation',
  rows: number,
  dim: number,
  data: Float32Array,
  extra: { model?: string; distance?: string } = {},
): Uint8Array {
  checkRows(kind, rows, dim, data);
  const head = vectorFileHeader(kind, rows, dim, extra);
  const out = new Uint8Array(head.length + data.length * 4);
  out.set(head, 0);
  out.set(float32LE(data), head.length);
  return out;
}

/** The header of a `.npy` file (format 1.0) holding a C-order float32 [rows, dim] matrix. */
export function npyHeader(rows: number, dim: number): Uint8Array {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  // Magic (6) + version (2) + length (2) + dict + spaces + newline: a multiple of 64.
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const out = Buffer.alloc(total, 0x20);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(total - 10, 8);
  out.write(dict, 10, 'latin1');
  out[total - 1] = 10;
  return out;
}

/** Writes `prefix` then the matrix, streamed from the array (no second copy of the table). */
async function writeMatrixFile(
  file: string,
  prefix: Uint8Array,
  data: Float32Array,
): Promise<void> {
  const fh = await fs.promises.open(file, 'w');
  try {
    await writeFully(fh, prefix);
    await writeFully(fh, float32LE(data));
  } finally {
    await fh.close();
  }
}

/**
 * Checks a vector file's header from its first bytes (`head`: at least magic + length + JSON)
 * against the file size; errors name `file` and the field.
 */
function parseVectorHeader(head: Buffer, file: string, fileSize: number): VectorHeader {
  if (head.length < 12 || head.toString('ascii', 0, 8) !== VECTOR_MAGIC) {
    throw new Error(`${file}: not a kg-embedding vector file (magic '${VECTOR_MAGIC}' missing)`);
  }
  const headerLen = head.readUInt32LE(8);
  if (12 + headerLen > fileSize || 12 + headerLen > head.length)
    throw new Error(`${file}: header length ${headerLen} exceeds the file`);
  let header: VectorHeader;
  try {
    header = JSON.parse(head.toString('utf8', 12, 12 + headerLen)) as VectorHeader;
  } catch (e) {
    throw new Error(`${file}: header is not JSON (${(e as Error).message})`);
  }
  if (header.format !== VECTOR_FORMAT)
    throw new Error(`${file}: header field 'format' is '${header.format}'`);
  if (header.version > VECTOR_FORMAT_VERSION) {
    throw new Error(
      `${file}: header field 'version' ${header.version} is newer than supported (${VECTOR_FORMAT_VERSION})`,
    );
  }
  if (header.dtype !== 'float32')
    throw new Error(`${file}: header field 'dtype' '${header.dtype}' is not float32`);
  if (header.byteOrder !== 'little')
    throw new Error(`${file}: header field 'byteOrder' must be 'little'`);
  for (const f of ['rows', 'dim', 'dataOffset'] as const) {
    if (!Number.isInteger(header[f]) || header[f] < 0)
      throw new Error(`${file}: header field '${f}' is invalid`);
  }
  const expected = header.dataOffset + header.rows * header.dim * 4;
  if (fileSize !== expected) {
    throw new Error(
      `${file}: ${fileSize} bytes, expected ${expected} for ${header.rows} x ${header.dim} float32`,
    );
  }
  return header;
}

/** Float32 values from little-endian bytes (a copy into a fresh array). */
function float32FromLE(bytes: Uint8Array, target: Float32Array): void {
  if (littleEndian()) {
    bytesOf(target).set(bytes);
    return;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < target.length; i++) target[i] = dv.getFloat32(i * 4, true);
}

/** Decodes the bytes of a vector file; errors name `file` and the field. */
export function decodeVectorFile(
  buf: Buffer,
  file: string,
): { header: VectorHeader; data: Float32Array } {
  const header = parseVectorHeader(buf, file, buf.length);
  const data = new Float32Array(header.rows * header.dim);
  float32FromLE(buf.subarray(header.dataOffset), data);
  return { header, data };
}

const HEAD_BYTES = 64 << 10;

/**
 * Reads a vector file, streamed into one Float32Array (tables beyond 2 GiB included); errors
 * name the file and the field.
 */
export async function readVectorFile(
  file: string,
): Promise<{ header: VectorHeader; data: Float32Array }> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    await readFully(fh, head, 0);
    const header = parseVectorHeader(head, file, size);
    const data = new Float32Array(header.rows * header.dim);
    if ((await readFully(fh, bytesOf(data), header.dataOffset)) < data.byteLength)
      throw new Error(`${file}: ends inside the matrix`);
    if (!littleEndian()) float32FromLE(bytesOf(data).slice(), data);
    return { header, data };
  } finally {
    await fh.close();
  }
}

/** Synchronous `readVectorFile`. */
export function readVectorFileSync(file: string): { header: VectorHeader; data: Float32Array } {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    fs.readSync(fd, head, 0, head.length, 0);
    const header = parseVectorHeader(head, file, size);
    const data = new Float32Array(header.rows * header.dim);
    const bytes = bytesOf(data);
    for (let off = 0; off < bytes.length; ) {
      const n = fs.readSync(
        fd,
        bytes,
        off,
        Math.min(64 << 20, bytes.length - off),
        header.dataOffset + off,
      );
      if (n === 0) throw new Error(`${file}: ends inside the matrix`);
      off += n;
    }
    if (!littleEndian()) float32FromLE(bytes.slice(), data);
    return { header, data };
  } finally {
    fs.closeSync(fd);
  }
}

/** Shortest decimal text that reads back as the same float32. */
export function formatFloat32(v: number): string {
  for (let p = 6; p < 9; p++) {
    const s = Number(v.toPrecision(p)).toString();
    if (Math.fround(Number(s)) === v) return s;
  }
  return Number(v.toPrecision(9)).toString();
}

/** Streams an OpenKE id map (count line, then `name<TAB>id`), 65,536 names per write. */
async function writeIdMap(file: string, names: readonly string[]): Promise<void> {
  const base = path.basename(file);
  const fh = await fs.promises.open(file, 'w');
  try {
    let chunk: string[] = [String(names.length)];
    for (let i = 0; i < names.length; i++) {
      const n = names[i];
      if (n === '' || n.includes('\t') || n.includes('\n') || n.includes('\r')) {
        throw new Error(
          `${base}: name of id ${i} (${JSON.stringify(n)}) is empty or contains a TAB or newline`,
        );
      }
      chunk.push(`${n}\t${i}`);
      if (chunk.length >= 65536) {
        await fh.write(`${chunk.join('\n')}\n`);
        chunk = [];
      }
    }
    if (chunk.length > 0) await fh.write(`${chunk.join('\n')}\n`);
  } finally {
    await fh.close();
  }
}

async function writeVectorText(
  file: string,
  names: readonly string[],
  data: Float32Array,
  dim: number,
): Promise<void> {
  const h = await fs.promises.open(file, 'w');
  try {
    let chunk: string[] = [];
    for (let i = 0; i < names.length; i++) {
      const parts = new Array<string>(dim);
      for (let k = 0; k < dim; k++) parts[k] = formatFloat32(data[i * dim + k]);
      chunk.push(`${names[i]}\t${parts.join(' ')}\n`);
      if (chunk.length === 4096) {
        await h.write(chunk.join(''));
        chunk = [];
      }
    }
    if (chunk.length > 0) await h.write(chunk.join(''));
  } finally {
    await h.close();
  }
}

export interface ExportableEmbeddings {
  dim: number;
  distance?: string;
  entities: readonly string[];
  relations: readonly string[];
  entity: Float32Array;
  relation: Float32Array;
}

export interface WriteEmbeddingsOptions {
  /** Also write `name<TAB>v1 v2 ...` text files (default true). */
  text?: boolean;
  /** Extra JSON merged into metadata.json (config, metrics, timings). */
  metadata?: Record<string, unknown>;
  /** Replace an existing folder (default true). */
  overwrite?: boolean;
  /** Also write `entity_vectors.npy` and `relation_vectors.npy` (numpy float32 [rows, dim]). */
  npy?: boolean;
  /**
   * Also write `entity2vec.pt` (EasyNLP's file: a bare float32 tensor [N, dim] for
   * `torch.load`), streamed from the table by `@artist-ts/torch-files`.
   */
  torch?: boolean;
}

/** Writes the output folder atomically (a temporary sibling renamed into place). */
export async function writeEmbeddings(
  dir: string,
  emb: ExportableEmbeddings,
  options: WriteEmbeddingsOptions = {},
): Promise<void> {
  const N = emb.entities.length;
  const R = emb.relations.length;
  if (emb.entity.length !== N * emb.dim)
    throw new RangeError(
      `writeEmbeddings: entity has ${emb.entity.length} values, expected ${N} x ${emb.dim}`,
    );
  if (emb.relation.length !== R * emb.dim) {
    throw new RangeError(
      `writeEmbeddings: relation has ${emb.relation.length} values, expected ${R} x ${emb.dim}`,
    );
  }
  const meta = { distance: emb.distance };
  // Every file is streamed from the tables: the folder never holds a second copy in memory.
  const vectors =
    (kind: 'entity' | 'relation', rows: number, data: Float32Array) => async (tmp: string) => {
      await writeMatrixFile(
        path.join(tmp, `${kind}_vectors.bin`),
        vectorFileHeader(kind, rows, emb.dim, meta),
        data,
      );
      if (options.npy)
        await writeMatrixFile(
          path.join(tmp, `${kind}_vectors.npy`),
          npyHeader(rows, emb.dim),
          data,
        );
    };
  await atomicWriteDir(
    dir,
    async (tmp) => {
      await writeIdMap(path.join(tmp, 'entity2id.txt'), emb.entities);
      await writeIdMap(path.join(tmp, 'relation2id.txt'), emb.relations);
      await vectors('entity', N, emb.entity)(tmp);
      await vectors('relation', R, emb.relation)(tmp);
      if (options.torch) {
        const data = emb.entity;
        await writeTorchFile(
          path.join(tmp, 'entity2vec.pt'),
          new WritableTensor({ dtype: 'float32', shape: [N, emb.dim], data }),
        );
      }
      if (options.text !== false) {
        await writeVectorText(
          path.join(tmp, 'entity_vectors.txt'),
          emb.entities,
          emb.entity,
          emb.dim,
        );
        await writeVectorText(
          path.join(tmp, 'relation_vectors.txt'),
          emb.relations,
          emb.relation,
          emb.dim,
        );
      }
      const metadata = {
        format: VECTOR_FORMAT,
        version: VECTOR_FORMAT_VERSION,
        model: 'TransE',
        distance: emb.distance ?? null,
        dim: emb.dim,
        entities: N,
        relations: R,
        idBase: 0,
        padding: 'none: id 0 is a real entity; consumers mask empty slots explicitly',
        ...(options.metadata ?? {}),
      };
      await fs.promises.writeFile(
        path.join(tmp, 'metadata.json'),
        `${JSON.stringify(metadata, null, 2)}\n`,
      );
    },
    { overwrite: options.overwrite ?? true },
  );
}

/** What gpt-knowl consumes: names by id, a name -> id map, and the [N, dim] row-major table. */
export interface EntityVectors {
  names: string[];
  /** name -> id (a Map-like index without V8's 2^24-entry Map limit). */
  ids: NameIndex;
  dim: number;
  /** [N * dim], row i = entity id i (as in entity2id.txt; id 0 is a real entity). */
  vectors: Float32Array;
}

function assembleTable(
  dir: string,
  kind: 'entity' | 'relation',
  names: string[],
  vec: { header: VectorHeader; data: Float32Array },
): EntityVectors {
  const mapFile = path.join(dir, `${kind}2id.txt`);
  const binFile = path.join(dir, `${kind}_vectors.bin`);
  const { header, data } = vec;
  if (header.kind !== kind)
    throw new Error(`${binFile}: header field 'kind' is '${header.kind}', expected '${kind}'`);
  if (header.rows !== names.length) {
    throw new Error(
      `${binFile}: header field 'rows' is ${header.rows} but ${mapFile} lists ${names.length} names`,
    );
  }
  return { names, ids: nameIndexOf(names, mapFile), dim: header.dim, vectors: data };
}

async function loadTable(dir: string, kind: 'entity' | 'relation'): Promise<EntityVectors> {
  const names = await readIdMap(path.join(dir, `${kind}2id.txt`), `${kind} id`);
  return assembleTable(
    dir,
    kind,
    names,
    await readVectorFile(path.join(dir, `${kind}_vectors.bin`)),
  );
}

function loadTableSync(dir: string, kind: 'entity' | 'relation'): EntityVectors {
  const names = readIdMapSync(path.join(dir, `${kind}2id.txt`), `${kind} id`);
  return assembleTable(dir, kind, names, readVectorFileSync(path.join(dir, `${kind}_vectors.bin`)));
}

/** Synchronous `loadEntityVectors`. */
export function loadEntityVectorsSync(dir: string): EntityVectors {
  return loadTableSync(dir, 'entity');
}

/** Loads `entity2id.txt` + `entity_vectors.bin` from an output folder. */
export function loadEntityVectors(dir: string): Promise<EntityVectors> {
  return loadTable(dir, 'entity');
}

/** Loads `relation2id.txt` + `relation_vectors.bin` from an output folder. */
export function loadRelationVectors(dir: string): Promise<EntityVectors> {
  return loadTable(dir, 'relation');
}
