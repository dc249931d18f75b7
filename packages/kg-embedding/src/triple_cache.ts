/**
 * A binary cache of parsed triples, so later runs skip parsing text: one file per source file,
 * `<cacheDir>/<name>.triples.bin`:
 *
 *   8 bytes `ARTKGTRI`, uint32 LE header length H, H bytes of JSON (space padded so the data starts
 *   at a multiple of 64), then count x 3 int32 LE (h, r, t).
 *
 * The header records the source's size, mtime and an FNV-1a hash of its first and last MiB, and
 * the entity and relation counts the ids were checked against; a cache whose record differs from
 * the source (or whose counts differ) is ignored and rewritten. Writes are atomic (temporary file
 * renamed into place) and streamed in 64 MiB pieces (no second copy of the triples).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readFully, writeFully } from '@artist-ts/core/files';
import { bytesOf, littleEndian } from './file_io';
import type { TripleSet } from './kg_data';
import { allocBuffer } from './large_buffers';

export const TRIPLE_CACHE_MAGIC = 'ARTKGTRI';
export const TRIPLE_CACHE_VERSION = 1;
const EDGE = 1 << 20;

export interface TripleCacheHeader {
  format: 'artist-ts-kg-triples';
  version: number;
  source: string;
  size: number;
  mtimeMs: number;
  /** FNV-1a of the source's first and last MiB. */
  edgeHash: string;
  numEntities: number;
  numRelations: number;
  count: number;
  dataOffset: number;
}

/** The cache file of `source` in `cacheDir`. */
export function tripleCachePath(cacheDir: string, source: string): string {
  return path.join(cacheDir, `${path.basename(source)}.triples.bin`);
}

async function sourceRecord(
  file: string,
): Promise<Pick<TripleCacheHeader, 'size' | 'mtimeMs' | 'edgeHash'>> {
  const st = await fs.promises.stat(file);
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(st.size, 2 * EDGE));
    const first = Math.min(st.size, EDGE);
    await fh.read(buf, 0, first, 0);
    const last = Math.min(st.size - first, EDGE);
    if (last > 0) await fh.read(buf, first, last, st.size - last);
    let h = 0x811c9dc5;
    for (let i = 0; i < first + last; i++) h = Math.imul(h ^ buf[i], 0x01000193);
    return { size: st.size, mtimeMs: st.mtimeMs, edgeHash: (h >>> 0).toString(16) };
  } finally {
    await fh.close();
  }
}

/**
 * The cached triples of `source`, or null when there is no valid cache (absent, written for
 * another version of the source or other counts, or truncated).
 */
export async function readTripleCache(
  cacheFile: string,
  source: string,
  numEntities: number,
  numRelations: number,
  shared = false,
): Promise<TripleSet | null> {
  if (!fs.existsSync(cacheFile)) return null;
  const fh = await fs.promises.open(cacheFile, 'r');
  try {
    const st = await fh.stat();
    const head = Buffer.alloc(12);
    await fh.read(head, 0, 12, 0);
    if (head.toString('ascii', 0, 8) !== TRIPLE_CACHE_MAGIC) return null;
    const hl = head.readUInt32LE(8);
    if (hl > 1 << 16 || 12 + hl > st.size) return null;
    const hb = Buffer.alloc(hl);
    await fh.read(hb, 0, hl, 12);
    let h: TripleCacheHeader;
    try {
      h = JSON.parse(hb.toString('utf8')) as TripleCacheHeader;
    } catch {
      return null;
    }
    const rec = await sourceRecord(source);
    if (
      h.version !== TRIPLE_CACHE_VERSION ||
      h.size !== rec.size ||
      h.mtimeMs !== rec.mtimeMs ||
      h.edgeHash !== rec.edgeHash ||
      h.numEntities !== numEntities ||
      h.numRelations !== numRelations ||
      st.size !== h.dataOffset + h.count * 12
    ) {
      return null;
    }
    const n = h.count * 3;
    const data = new Int32Array(allocBuffer(Math.max(4, n * 4), shared), 0, n);
    if ((await readFully(fh, bytesOf(data), h.dataOffset)) < data.byteLength) return null;
    if (!littleEndian()) for (let i = 0; i < n; i++) data[i] = swap32(data[i]);
    return { data, count: h.count };
  } finally {
    await fh.close();
  }
}

/** Writes the cache of `source` atomically. */
export async function writeTripleCache(
  cacheFile: string,
  source: string,
  triples: TripleSet,
  numEntities: number,
  numRelations: number,
): Promise<void> {
  const rec = await sourceRecord(source);
  const header: TripleCacheHeader = {
    format: 'artist-ts-kg-triples',
    version: TRIPLE_CACHE_VERSION,
    source: path.basename(source),
    ...rec,
    numEntities,
    numRelations,
    count: triples.count,
    dataOffset: 0,
  };
  let json = '';
  for (let i = 0; i < 3; i++) {
    json = JSON.stringify(header);
    header.dataOffset = Math.ceil((12 + Buffer.byteLength(json)) / 64) * 64;
  }
  json = JSON.stringify(header);
  const prefix = Buffer.alloc(header.dataOffset, 0x20);
  prefix.write(TRIPLE_CACHE_MAGIC, 0, 'ascii');
  prefix.writeUInt32LE(header.dataOffset - 12, 8);
  prefix.write(json, 12, 'utf8');
  await fs.promises.mkdir(path.dirname(cacheFile), { recursive: true });
  const tmp = `${cacheFile}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await writeFully(fh, prefix);
    const d = triples.data.subarray(0, triples.count * 3);
    await writeFully(fh, bytesOf(littleEndian() ? d : Int32Array.from(d, swap32)));
    await fh.sync();
  } catch (e) {
    await fh.close();
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fs.promises.rename(tmp, cacheFile);
}

function swap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff);
}
