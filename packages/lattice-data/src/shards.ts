/**
 * Dataset shards for the GPT stage: protobuf `Example` records (proto/shard.proto) holding text ids,
 * the entity lattice and the image as pixels or VQ codes, so training never decodes images again.
 *
 * Layout of a shard set folder:
 * - `shard-00000.pb`, … : length-delimited `Example` messages (varint length + message);
 * - `shard-00000.idx`, … : little-endian uint32 record offsets, one per record plus the file size;
 * - `index.json`: shard list with record counts, byte sizes and CRC-32s, plus user metadata.
 *
 * The folder is written atomically: everything goes to a temporary sibling that is renamed into place
 * by `finish()`, so a reader never sees a partial set. Reading is sequential or in a seeded shuffled
 * order (a full permutation of all records per epoch, reproducible from `(seed, epoch)`), and can
 * start at any position of that order to resume a run.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fsyncDir } from '@artist-ts/core/files';
import { Rng } from '@artist-ts/core/rng';
import { ConfigError, DataFormatError, type DataLocation } from './errors';
import { artist } from './generated/shard';
import type { Lattice, LatticeColumns } from './knowledge';
import { type ProgressCallback, ProgressTracker } from './progress';
import type { BertTokenizer } from './tokenizer';
import type { TextRow } from './tsv';

const PbExample = artist.lattice.Example;

export const SHARD_FORMAT = 'artist-lattice-shards';
export const SHARD_FORMAT_VERSION = 1;

/** Image stored as decoded pixels, row-major HWC uint8. */
export interface PixelImage {
  kind: 'pixels';
  height: number;
  width: number;
  channels: number;
  data: Uint8Array;
}

/** Image stored as VQ codes over a `height × width` grid, row-major. */
export interface CodeImage {
  kind: 'codes';
  height: number;
  width: number;
  codebookSize: number;
  codes: Int32Array;
}

/** One training example as stored in (and read back from) a shard. */
export interface EncodedExample {
  idx: string;
  text: string;
  /** BERT ids (no offset), truncated/padded to `textLen`. */
  textIds: Int32Array;
  /** Token count of the full caption. */
  seqLen: number;
  /** Entity ids of the matches, in match order. */
  lexIds: Int32Array;
  /** Inclusive token span of each match. */
  lexStart: Int32Array;
  lexEnd: Int32Array;
  image?: PixelImage | CodeImage;
}

/** Builds an {@link EncodedExample} from a caption's lattice (entity ids must be integers). */
export function exampleFromLattice(
  row: {
    idx: string;
    text: string;
    lattice: Lattice;
  },
  tokenizer: BertTokenizer,
  options: { image?: PixelImage | CodeImage; maxEntities?: number } = {},
): EncodedExample {
  const { lattice } = row;
  const n = Math.min(lattice.lexIds.length, options.maxEntities ?? Number.POSITIVE_INFINITY);
  const lexIds = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const s = lattice.lexIds[k]!;
    if (!/^[0-9]+$/.test(s) || Number(s) > 0x7fffffff) {
      throw new ConfigError(
        'lexIds',
        `entity id ${JSON.stringify(s)} of row ${row.idx} is not an int32`,
      );
    }
    lexIds[k] = Number(s);
  }
  const ex: EncodedExample = {
    idx: row.idx,
    text: row.text,
    textIds: tokenizer.tokensToIds(lattice.tokens),
    seqLen: lattice.seqLen,
    lexIds,
    lexStart: Int32Array.from(lattice.posS.slice(lattice.seqLen, lattice.seqLen + n)),
    lexEnd: Int32Array.from(lattice.posE.slice(lattice.seqLen, lattice.seqLen + n)),
  };
  if (options.image) ex.image = options.image;
  return ex;
}

/**
 * Builds an {@link EncodedExample} from a knowledge TSV row (the encode stage reads
 * `lattice/{split}.knowl.tsv`): the caption is re-tokenized for its ids, and the row's `seq_len` must
 * agree with the tokenizer (a different vocab would shift every entity position).
 */
export function exampleFromKnowledgeRow(
  row: TextRow & LatticeColumns,
  tokenizer: BertTokenizer,
  options: { image?: PixelImage | CodeImage; maxEntities?: number } = {},
): EncodedExample {
  const tokens = tokenizer.tokenize(row.text);
  if (tokens.length !== row.seqLen) {
    throw new ConfigError(
      'tokenizer',
      `row ${row.idx}: the tokenizer gives ${tokens.length} tokens but seq_len is ${row.seqLen} (another vocab.txt?)`,
    );
  }
  return exampleFromLattice(
    { idx: row.idx, text: row.text, lattice: { ...row, tokens } },
    tokenizer,
    options,
  );
}

/**
 * Where a JSON parse error is (JSON is text): `file:line:column` from the position in V8's message
 * (`… at position N` or `(line L column C)`), else just the file.
 */
function jsonErrorLocation(file: string, text: string, err: unknown): DataLocation {
  const msg = (err as Error).message;
  const lc = /line (\d+) column (\d+)/.exec(msg);
  if (lc) return { file, line: Number(lc[1]), column: Number(lc[2]) };
  const pos = /position (\d+)/.exec(msg);
  if (!pos) return { file };
  const before = text.slice(0, Number(pos[1]));
  const line = before.split('\n').length;
  return { file, line, column: before.length - before.lastIndexOf('\n') };
}

export interface ShardInfo {
  file: string;
  records: number;
  bytes: number;
  crc32: number;
}

export interface ShardIndex {
  format: typeof SHARD_FORMAT;
  version: number;
  records: number;
  shards: ShardInfo[];
  /** Caller metadata (text_len, image kind, source files, config hash …). */
  meta: Record<string, unknown>;
  createdAt: string;
}

export interface ShardWriterConfig {
  /** Start a new shard after this many records (default 4096). */
  maxRecordsPerShard: number;
  /** … or once a shard reaches this many bytes (default 64 MiB; at most 2 GiB). */
  maxShardBytes: number;
  /** File name prefix (default `shard`). */
  prefix: string;
  /** Replace an existing folder (default false: an existing folder is an error). */
  overwrite: boolean;
  /** Stored in index.json. */
  meta: Record<string, unknown>;
}

export const DEFAULT_SHARD_WRITER_CONFIG: Readonly<ShardWriterConfig> = Object.freeze({
  maxRecordsPerShard: 4096,
  maxShardBytes: 64 * 1024 * 1024,
  prefix: 'shard',
  overwrite: false,
  meta: {},
});

export function validateShardWriterConfig(
  config: Partial<ShardWriterConfig> = {},
): ShardWriterConfig {
  const c = { ...DEFAULT_SHARD_WRITER_CONFIG, ...config };
  if (!Number.isInteger(c.maxRecordsPerShard) || c.maxRecordsPerShard < 1) {
    throw new ConfigError(
      'maxRecordsPerShard',
      `must be a positive integer, got ${c.maxRecordsPerShard}`,
    );
  }
  if (!Number.isInteger(c.maxShardBytes) || c.maxShardBytes < 1 || c.maxShardBytes > 2 ** 31) {
    throw new ConfigError(
      'maxShardBytes',
      `must be an integer in [1, 2^31], got ${c.maxShardBytes}`,
    );
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(c.prefix)) {
    throw new ConfigError('prefix', `must match [A-Za-z0-9_.-]+, got ${JSON.stringify(c.prefix)}`);
  }
  if (typeof c.overwrite !== 'boolean') throw new ConfigError('overwrite', 'must be a boolean');
  return c;
}

function toMessage(ex: EncodedExample): artist.lattice.Example.$Properties {
  const n = ex.lexIds.length;
  if (ex.lexStart.length !== n || ex.lexEnd.length !== n) {
    throw new ConfigError(
      'lexStart',
      `example ${ex.idx}: lexIds, lexStart and lexEnd lengths differ`,
    );
  }
  const msg: artist.lattice.Example.$Properties = {
    idx: ex.idx,
    text: ex.text,
    textIds: ex.textIds as unknown as number[],
    seqLen: ex.seqLen,
    lexIds: ex.lexIds as unknown as number[],
    lexStart: ex.lexStart as unknown as number[],
    lexEnd: ex.lexEnd as unknown as number[],
  };
  const img = ex.image;
  if (img?.kind === 'pixels') {
    if (img.data.length !== img.height * img.width * img.channels) {
      throw new ConfigError(
        'image',
        `example ${ex.idx}: ${img.data.length} bytes for ${img.height}x${img.width}x${img.channels}`,
      );
    }
    msg.pixels = { height: img.height, width: img.width, channels: img.channels, data: img.data };
  } else if (img?.kind === 'codes') {
    if (img.codes.length !== img.height * img.width) {
      throw new ConfigError(
        'image',
        `example ${ex.idx}: ${img.codes.length} codes for a ${img.height}x${img.width} grid`,
      );
    }
    msg.codes = {
      height: img.height,
      width: img.width,
      codebookSize: img.codebookSize,
      codes: img.codes as unknown as number[],
    };
  }
  return msg;
}

function fromMessage(m: artist.lattice.Example): EncodedExample {
  const ex: EncodedExample = {
    idx: m.idx,
    text: m.text,
    textIds: Int32Array.from(m.textIds),
    seqLen: m.seqLen,
    lexIds: Int32Array.from(m.lexIds),
    lexStart: Int32Array.from(m.lexStart),
    lexEnd: Int32Array.from(m.lexEnd),
  };
  if (m.pixels) {
    const p = m.pixels;
    // Copy: decoded bytes are a view into the (possibly pooled) input buffer.
    ex.image = {
      kind: 'pixels',
      height: p.height ?? 0,
      width: p.width ?? 0,
      channels: p.channels ?? 0,
      data: Uint8Array.from(p.data ?? []),
    };
  } else if (m.codes) {
    const c = m.codes;
    ex.image = {
      kind: 'codes',
      height: c.height ?? 0,
      width: c.width ?? 0,
      codebookSize: c.codebookSize ?? 0,
      codes: Int32Array.from(c.codes ?? []),
    };
  }
  return ex;
}

/** Encodes one example as a length-delimited record. */
export function encodeExampleRecord(ex: EncodedExample): Uint8Array {
  return PbExample.encodeDelimited(toMessage(ex)).finish();
}

/** Decodes one length-delimited record (a copy is made of every array). */
export function decodeExampleRecord(bytes: Uint8Array): EncodedExample {
  return fromMessage(PbExample.decodeDelimited(bytes));
}

function tempSibling(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

async function writeSynced(file: string, data: Uint8Array | string): Promise<void> {
  const h = await fs.promises.open(file, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * Writes a shard set. `add()` examples, then `finish()` (or `abort()`).
 *
 * ```ts
 * const w = await ShardWriter.create('runs/x/codes/train', { meta: { textLen: 32 } });
 * for (const ex of examples) await w.add(ex);
 * const index = await w.finish();
 * ```
 */
export class ShardWriter {
  readonly config: ShardWriterConfig;
  private readonly shards: ShardInfo[] = [];
  private parts: Uint8Array[] = [];
  private offsets: number[] = [0];
  private bytes = 0;
  private records = 0;
  private done = false;
  private readonly progress: ProgressTracker;

  private constructor(
    readonly dir: string,
    private readonly tmp: string,
    config: ShardWriterConfig,
    onProgress?: ProgressCallback,
  ) {
    this.config = config;
    this.progress = new ProgressTracker('shards', onProgress);
  }

  static async create(
    dir: string,
    config: Partial<ShardWriterConfig> = {},
    onProgress?: ProgressCallback,
  ): Promise<ShardWriter> {
    const c = validateShardWriterConfig(config);
    if (fs.existsSync(dir) && !c.overwrite) {
      throw new ConfigError(
        'overwrite',
        `${dir} already exists; pass overwrite: true to replace it`,
      );
    }
    await fs.promises.mkdir(path.dirname(path.resolve(dir)), { recursive: true });
    const tmp = tempSibling(path.resolve(dir));
    await fs.promises.mkdir(tmp);
    return new ShardWriter(path.resolve(dir), tmp, c, onProgress);
  }

  /** Number of examples added so far. */
  get size(): number {
    return this.records;
  }

  async add(ex: EncodedExample): Promise<void> {
    if (this.done) throw new Error('ShardWriter: add() after finish()/abort()');
    const rec = encodeExampleRecord(ex);
    if (this.parts.length > 0 && this.bytes + rec.length > this.config.maxShardBytes)
      await this.flushShard();
    this.parts.push(rec);
    this.bytes += rec.length;
    this.offsets.push(this.bytes);
    this.records++;
    this.progress.rows = this.records;
    this.progress.bytes += rec.length;
    this.progress.tick();
    if (this.parts.length >= this.config.maxRecordsPerShard) await this.flushShard();
  }

  private async flushShard(): Promise<void> {
    if (this.parts.length === 0) return;
    const name = `${this.config.prefix}-${String(this.shards.length).padStart(5, '0')}`;
    const data = Buffer.concat(this.parts, this.bytes);
    const idx = Buffer.alloc(this.offsets.length * 4);
    for (let i = 0; i < this.offsets.length; i++) idx.writeUInt32LE(this.offsets[i]!, i * 4);
    await writeSynced(path.join(this.tmp, `${name}.pb`), data);
    await writeSynced(path.join(this.tmp, `${name}.idx`), idx);
    this.shards.push({
      file: `${name}.pb`,
      records: this.parts.length,
      bytes: data.length,
      crc32: zlib.crc32(data),
    });
    this.parts = [];
    this.offsets = [0];
    this.bytes = 0;
  }

  /** Writes the last shard and index.json, then moves the folder into place. */
  async finish(): Promise<ShardIndex> {
    if (this.done) throw new Error('ShardWriter: finish() called twice');
    try {
      await this.flushShard();
      const index: ShardIndex = {
        format: SHARD_FORMAT,
        version: SHARD_FORMAT_VERSION,
        records: this.records,
        shards: this.shards,
        meta: this.config.meta,
        createdAt: new Date().toISOString(),
      };
      await writeSynced(path.join(this.tmp, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
      await fsyncDir(this.tmp);
      this.done = true;
      if (fs.existsSync(this.dir)) {
        const old = tempSibling(this.dir);
        await fs.promises.rename(this.dir, old);
        await fs.promises.rename(this.tmp, this.dir);
        await fs.promises.rm(old, { recursive: true, force: true });
      } else {
        await fs.promises.rename(this.tmp, this.dir);
      }
      await fsyncDir(path.dirname(this.dir));
      this.progress.finish();
      return index;
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Discards everything written; the target folder is untouched. */
  async abort(): Promise<void> {
    this.done = true;
    await fs.promises.rm(this.tmp, { recursive: true, force: true });
  }
}

/** Writes all `examples` into a new shard set at `dir`. */
export async function writeShards(
  dir: string,
  examples: Iterable<EncodedExample> | AsyncIterable<EncodedExample>,
  config: Partial<ShardWriterConfig> = {},
  onProgress?: ProgressCallback,
): Promise<ShardIndex> {
  const w = await ShardWriter.create(dir, config, onProgress);
  try {
    for await (const ex of examples) await w.add(ex);
  } catch (err) {
    await w.abort();
    throw err;
  }
  return w.finish();
}

export interface ShuffleOptions {
  /** Seed of the shuffle (number or label). */
  seed: number | string;
  /** Epoch number: each epoch gets its own permutation derived from the seed. Default 0. */
  epoch?: number;
}

export interface IterateOptions {
  /** Shuffle with a seed; omitted = file order. */
  shuffle?: ShuffleOptions;
  /** Position in the (shuffled) order to start from, to resume a run (default 0). */
  start?: number;
}

export interface OpenShardsOptions {
  /** Check each shard's size and CRC-32 on first read (default true). */
  verify?: boolean;
  /** Keep whole shards in memory up to this many bytes in total (default 512 MiB). */
  cacheBytes?: number;
}

/**
 * A shard set opened for reading.
 *
 * ```ts
 * const ds = await ShardDataset.open('runs/x/codes/train');
 * for await (const ex of ds.iterate({ shuffle: { seed: 42, epoch } })) …
 * ```
 */
export class ShardDataset {
  private readonly offsets: Uint32Array[] = [];
  /** Global record number of each shard's first record, plus the total. */
  private readonly firsts: number[];
  private readonly cache = new Map<number, Buffer>();
  private cachedBytes = 0;
  private readonly verified = new Set<number>();
  private readonly handles = new Map<number, fs.promises.FileHandle>();

  private constructor(
    readonly dir: string,
    readonly index: ShardIndex,
    private readonly options: Required<OpenShardsOptions>,
  ) {
    this.firsts = [0];
    for (const s of index.shards)
      this.firsts.push(this.firsts[this.firsts.length - 1]! + s.records);
  }

  static async open(dir: string, options: OpenShardsOptions = {}): Promise<ShardDataset> {
    const file = path.join(dir, 'index.json');
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`${dir}: no index.json (not a shard set, or its writer did not finish)`);
      }
      throw err;
    }
    let index: ShardIndex;
    try {
      index = JSON.parse(text) as ShardIndex;
    } catch (err) {
      throw new DataFormatError(
        jsonErrorLocation(file, text, err),
        `unreadable index: ${(err as Error).message}`,
      );
    }
    if (index.format !== SHARD_FORMAT || index.version !== SHARD_FORMAT_VERSION) {
      throw new DataFormatError(
        { file, field: 'format' },
        `not ${SHARD_FORMAT} v${SHARD_FORMAT_VERSION}`,
      );
    }
    const ds = new ShardDataset(dir, index, {
      verify: options.verify ?? true,
      cacheBytes: options.cacheBytes ?? 512 * 1024 * 1024,
    });
    for (const s of index.shards) {
      const idxFile = path.join(dir, s.file.replace(/\.pb$/, '.idx'));
      const raw = await fs.promises.readFile(idxFile);
      if (raw.length !== (s.records + 1) * 4) {
        throw new DataFormatError(
          { file: idxFile, offset: raw.length },
          `ends at byte ${raw.length}: expected ${s.records + 1} uint32 offsets (${(s.records + 1) * 4} bytes)`,
        );
      }
      const offs = new Uint32Array(s.records + 1);
      for (let i = 0; i <= s.records; i++) offs[i] = raw.readUInt32LE(i * 4);
      if (offs[s.records] !== s.bytes) {
        throw new DataFormatError(
          { file: idxFile, record: s.records, offset: s.records * 4 },
          `last offset ${offs[s.records]} != shard size ${s.bytes}`,
        );
      }
      ds.offsets.push(offs);
    }
    return ds;
  }

  /** Number of records. */
  get size(): number {
    return this.index.records;
  }

  get meta(): Record<string, unknown> {
    return this.index.meta;
  }

  /** The order of records for `shuffle` (identity without it): a permutation of [0, size). */
  order(shuffle?: ShuffleOptions): Uint32Array {
    if (!shuffle) {
      const o = new Uint32Array(this.size);
      for (let i = 0; i < o.length; i++) o[i] = i;
      return o;
    }
    const rng = new Rng(shuffle.seed).fork(`shards/epoch-${shuffle.epoch ?? 0}`);
    return rng.permutation(this.size);
  }

  /** Record `i` (global number over all shards, in file order). */
  async get(i: number): Promise<EncodedExample> {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new RangeError(`record ${i} out of range [0, ${this.size})`);
    }
    let lo = 0;
    let hi = this.index.shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.firsts[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return this.readRecord(lo, i - this.firsts[lo]!);
  }

  /** Examples in file order or in the seeded shuffled order, from position `start`. */
  async *iterate(options: IterateOptions = {}): AsyncGenerator<EncodedExample> {
    const start = options.start ?? 0;
    if (!Number.isInteger(start) || start < 0 || start > this.size) {
      throw new ConfigError('start', `must be an integer in [0, ${this.size}], got ${start}`);
    }
    if (!options.shuffle) {
      let pos = 0;
      for (let s = 0; s < this.index.shards.length; s++) {
        const n = this.index.shards[s]!.records;
        if (pos + n <= start) {
          pos += n;
          continue;
        }
        const buf = await this.shardBytes(s, false);
        for (let r = Math.max(0, start - pos); r < n; r++) yield this.decodeAt(s, r, buf);
        pos += n;
      }
      return;
    }
    const order = this.order(options.shuffle);
    for (let k = start; k < order.length; k++) yield this.get(order[k]!);
  }

  /** Releases cached shard buffers and open files. */
  async close(): Promise<void> {
    this.cache.clear();
    this.cachedBytes = 0;
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map((h) => h.close()));
  }

  private decodeAt(shard: number, r: number, buf: Buffer): EncodedExample {
    const offs = this.offsets[shard]!;
    try {
      return decodeExampleRecord(buf.subarray(offs[r]!, offs[r + 1]!));
    } catch (err) {
      throw new DataFormatError(
        { file: path.join(this.dir, this.index.shards[shard]!.file), record: r, offset: offs[r]! },
        `corrupt record: ${(err as Error).message}`,
      );
    }
  }

  private async readRecord(shard: number, r: number): Promise<EncodedExample> {
    const cached = this.cache.get(shard);
    if (cached) return this.decodeAt(shard, r, cached);
    const info = this.index.shards[shard]!;
    if (this.cachedBytes + info.bytes <= this.options.cacheBytes) {
      return this.decodeAt(shard, r, await this.shardBytes(shard, true));
    }
    // Too big to cache: read just this record.
    const offs = this.offsets[shard]!;
    const len = offs[r + 1]! - offs[r]!;
    const buf = Buffer.alloc(len);
    let h = this.handles.get(shard);
    if (!h) {
      h = await fs.promises.open(path.join(this.dir, info.file), 'r');
      this.handles.set(shard, h);
    }
    const { bytesRead } = await h.read(buf, 0, len, offs[r]!);
    try {
      if (bytesRead !== len) throw new Error(`short read (${bytesRead} of ${len} bytes)`);
      return decodeExampleRecord(buf);
    } catch (err) {
      throw new DataFormatError(
        { file: path.join(this.dir, info.file), record: r, offset: offs[r]! },
        `corrupt record: ${(err as Error).message}`,
      );
    }
  }

  private async shardBytes(shard: number, keep: boolean): Promise<Buffer> {
    const hit = this.cache.get(shard);
    if (hit) return hit;
    const info = this.index.shards[shard]!;
    const file = path.join(this.dir, info.file);
    const buf = await fs.promises.readFile(file);
    if (this.options.verify && !this.verified.has(shard)) {
      if (buf.length !== info.bytes) {
        throw new DataFormatError(
          { file, offset: Math.min(buf.length, info.bytes) },
          `size ${buf.length} != ${info.bytes} in index.json`,
        );
      }
      if (zlib.crc32(buf) !== info.crc32)
        throw new DataFormatError({ file }, 'CRC-32 mismatch: the shard is corrupt');
      this.verified.add(shard);
    }
    if (keep && this.cachedBytes + buf.length <= this.options.cacheBytes) {
      this.cache.set(shard, buf);
      this.cachedBytes += buf.length;
    }
    return buf;
  }
}
