/**
 * Knowledge-graph input: OpenKE folders (`entity2id.txt`, `relation2id.txt`, `{train,valid,test}2id.txt`)
 * and named triple files (`subject<TAB>predicate<TAB>object`, the CN-DBpedia dump layout).
 * Files are read line by line (bounded memory: triples go into growing Int32Arrays, 12 bytes each).
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { NameIndex } from './name_index';
import { MAX_NAMES, parseIdMapBytes, parseOpenKETriplesBytes } from './openke_bytes';
import { readTripleCache, tripleCachePath, writeTripleCache } from './triple_cache';

/** Bad input: names the file, the 1-based line and the field. */
export class KgFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    detail: string,
  ) {
    super(`${file}:${line}: ${field}: ${detail}`);
    this.name = 'KgFormatError';
  }
}

/** Triples as a flat Int32Array of (head, relation, tail) ids: [n * 3]. */
export interface TripleSet {
  /** [n * 3]: h0 r0 t0 h1 r1 t1 ... */
  data: Int32Array;
  count: number;
}

export interface KgDataset {
  /** entity names by id (id = index). */
  entities: string[];
  relations: string[];
  train: TripleSet;
  valid: TripleSet;
  test: TripleSet;
  /** Where the data came from (a folder or file path), for reports. */
  source: string;
  /** How each triple file was read (`readOpenKEFolder`: from the binary cache or parsed). */
  loads?: TripleFileLoad[];
}

export function emptyTriples(): TripleSet {
  return { data: new Int32Array(0), count: 0 };
}

/** A growable (h, r, t) buffer. */
export class TripleBuffer {
  private buf = new Int32Array(3 * 1024);
  count = 0;

  push(h: number, r: number, t: number): void {
    if ((this.count + 1) * 3 > this.buf.length) {
      const next = new Int32Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    const o = this.count * 3;
    this.buf[o] = h;
    this.buf[o + 1] = r;
    this.buf[o + 2] = t;
    this.count++;
  }

  finish(): TripleSet {
    return { data: this.buf.slice(0, this.count * 3), count: this.count };
  }
}

/** Calls `onLine(text, lineNumber)` for every line of a UTF-8 file (1-based numbers, CR stripped). */
export async function forEachLine(
  file: string,
  onLine: (text: string, lineNumber: number) => void,
): Promise<number> {
  const stream = fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  const rl = readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  try {
    for await (const raw of rl) {
      n++;
      let text = raw;
      if (n === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      onLine(text, n);
    }
  } finally {
    rl.close();
    stream.destroy();
  }
  return n;
}

function parseId(
  file: string,
  line: number,
  field: string,
  text: string | undefined,
  limit: number,
): number {
  if (text === undefined || text === '') throw new KgFormatError(file, line, field, 'missing');
  if (!/^\d+$/.test(text))
    throw new KgFormatError(file, line, field, `'${text}' is not a non-negative integer`);
  const v = Number(text);
  if (v >= limit)
    throw new KgFormatError(file, line, field, `id ${v} is out of range 0..${limit - 1}`);
  return v;
}

/** Parses an OpenKE id map line by line (shared by the streaming and the synchronous reader). */
class IdMapParser {
  private declared = -1;
  private readonly names: (string | undefined)[] = [];
  private seen = 0;

  constructor(
    private readonly file: string,
    private readonly field: string,
  ) {}

  line(text: string, line: number): void {
    const { file, field } = this;
    if (line === 1) {
      const t = text.trim();
      if (!/^\d+$/.test(t)) {
        throw new KgFormatError(
          file,
          1,
          'count',
          `the first line must be the entry count, got '${text}'`,
        );
      }
      this.declared = Number(t);
      return;
    }
    if (text.trim() === '') return;
    // Names may contain spaces; the id is the last TAB- (or, failing that, whitespace-) separated field.
    let cut = text.lastIndexOf('\t');
    if (cut < 0) cut = text.search(/\s\S+\s*$/);
    if (cut < 0)
      throw new KgFormatError(file, line, 'name', `expected 'name<TAB>${field}', got '${text}'`);
    const name = text.slice(0, cut);
    const id = parseId(file, line, field, text.slice(cut + 1).trim(), Number.MAX_SAFE_INTEGER);
    if (name === '') throw new KgFormatError(file, line, 'name', 'empty name');
    if (id >= this.declared) {
      throw new KgFormatError(file, line, field, `id ${id} >= the declared count ${this.declared}`);
    }
    if (this.names[id] !== undefined) {
      throw new KgFormatError(file, line, field, `id ${id} already given to '${this.names[id]}'`);
    }
    this.names[id] = name;
    this.seen++;
  }

  finish(): string[] {
    const { file, declared, seen, names } = this;
    if (declared < 0) throw new KgFormatError(file, 1, 'count', 'file is empty');
    if (seen !== declared) {
      let missing = -1;
      for (let i = 0; i < declared && missing < 0; i++) if (names[i] === undefined) missing = i;
      throw new KgFormatError(
        file,
        1,
        'count',
        `declares ${declared} entries but has ${seen}${missing >= 0 ? ` (first missing id: ${missing})` : ''}`,
      );
    }
    return names as string[];
  }
}

/**
 * Reads an OpenKE `*2id.txt` map: a count line, then `name<TAB>id`, ids exactly 0..N-1. The byte
 * parser of `openke_bytes.ts` reads well-formed files; the line reader reports a bad one.
 */
export async function readIdMap(file: string, field = 'id'): Promise<string[]> {
  const fast = await parseIdMapBytes(file);
  if (fast !== null) return fast;
  const parser = new IdMapParser(file, field);
  await forEachLine(file, (text, line) => parser.line(text, line));
  return parser.finish();
}

/** Synchronous `readIdMap` (reads the whole file at once). */
export function readIdMapSync(file: string, field = 'id'): string[] {
  const parser = new IdMapParser(file, field);
  let text = fs.readFileSync(file, 'utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    parser.line(l.endsWith('\r') ? l.slice(0, -1) : l, i + 1);
  }
  return parser.finish();
}

/**
 * Reads an OpenKE triple file (count line, then `head tail relation` per line). Well-formed files
 * go through the byte parser of `openke_bytes.ts` (into a SharedArrayBuffer when `shared`, so
 * training workers read the triples without a copy); the line reader below reports bad ones.
 */
export async function readOpenKETriples(
  file: string,
  numEntities: number,
  numRelations: number,
  shared = false,
): Promise<TripleSet> {
  const fast = await parseOpenKETriplesBytes(file, numEntities, numRelations, shared);
  if (fast !== null) return fast;
  const out = new TripleBuffer();
  let declared = -1;
  await forEachLine(file, (text, line) => {
    if (line === 1) {
      const t = text.trim();
      if (!/^\d+$/.test(t)) {
        throw new KgFormatError(
          file,
          1,
          'count',
          `the first line must be the triple count, got '${text}'`,
        );
      }
      declared = Number(t);
      return;
    }
    const t = text.trim();
    if (t === '') return;
    const parts = t.split(/\s+/);
    if (parts.length !== 3) {
      throw new KgFormatError(
        file,
        line,
        'line',
        `expected 'head tail relation' (3 ids), got ${parts.length} fields`,
      );
    }
    const h = parseId(file, line, 'head', parts[0], numEntities);
    const tail = parseId(file, line, 'tail', parts[1], numEntities);
    const r = parseId(file, line, 'relation', parts[2], numRelations);
    out.push(h, r, tail);
  });
  if (declared < 0) throw new KgFormatError(file, 1, 'count', 'file is empty');
  if (out.count !== declared) {
    throw new KgFormatError(file, 1, 'count', `declares ${declared} triples but has ${out.count}`);
  }
  return out.finish();
}

export interface ReadOpenKEOptions {
  /**
   * Binary cache of the parsed triple files (see `triple_cache.ts`): a folder, `true` (default:
   * `<dir>/.artist-kg-cache`) or `false`. A cache that does not match its source file (size,
   * mtime, hash of the first and last MiB, entity and relation counts) is rebuilt; a folder that
   * cannot be written only disables the cache.
   */
  cache?: boolean | string;
}

/** How each triple file of a dataset was read. */
export interface TripleFileLoad {
  file: string;
  /** 'cache': from the binary cache; 'text': parsed (and the cache written when possible). */
  from: 'cache' | 'text';
  /** Whether a cache file was written for it. */
  cached: boolean;
  seconds: number;
}

/** The cache folder `readOpenKEFolder(dir, options)` uses, or null when caching is off. */
export function openKECacheDir(dir: string, options: ReadOpenKEOptions = {}): string | null {
  const c = options.cache ?? true;
  if (c === false) return null;
  return c === true ? path.join(dir, '.artist-kg-cache') : c;
}

/**
 * Reads an OpenKE benchmark folder. `train2id.txt` is required; `valid2id.txt` and `test2id.txt`
 * are read when present. Ids are kept exactly as written in `entity2id.txt`. Triples live in
 * SharedArrayBuffers (training workers read them in place) and are cached in binary form.
 */
export async function readOpenKEFolder(
  dir: string,
  options: ReadOpenKEOptions = {},
): Promise<KgDataset> {
  const f = (n: string) => path.join(dir, n);
  for (const n of ['entity2id.txt', 'relation2id.txt', 'train2id.txt']) {
    if (!fs.existsSync(f(n))) throw new Error(`${f(n)}: missing (an OpenKE folder needs ${n})`);
  }
  const entities = await readIdMap(f('entity2id.txt'), 'entity id');
  const relations = await readIdMap(f('relation2id.txt'), 'relation id');
  const cacheDir = openKECacheDir(dir, options);
  const loads: TripleFileLoad[] = [];
  const read = async (n: string): Promise<TripleSet> => {
    if (!fs.existsSync(f(n))) return emptyTriples();
    const t0 = performance.now();
    const N = entities.length;
    const R = relations.length;
    const cacheFile = cacheDir === null ? null : tripleCachePath(cacheDir, f(n));
    const cached = cacheFile === null ? null : await readTripleCache(cacheFile, f(n), N, R, true);
    if (cached !== null) {
      loads.push({ file: f(n), from: 'cache', cached: false, seconds: seconds(t0) });
      return cached;
    }
    const set = await readOpenKETriples(f(n), N, R, true);
    let wrote = false;
    if (cacheFile !== null) {
      try {
        await writeTripleCache(cacheFile, f(n), set, N, R);
        wrote = true;
      } catch {
        // A read-only data folder: reading still works, only without the cache.
      }
    }
    loads.push({ file: f(n), from: 'text', cached: wrote, seconds: seconds(t0) });
    return set;
  };
  return {
    entities,
    relations,
    train: await read('train2id.txt'),
    valid: await read('valid2id.txt'),
    test: await read('test2id.txt'),
    source: dir,
    loads,
  };
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

export interface NamedTripleOptions {
  /** Field separator (default TAB). */
  delimiter?: string;
  /** Column order of the file (default 'hrt': subject, predicate, object). */
  order?: 'hrt' | 'htr';
  /** Lines starting with this are skipped (default '#'). */
  comment?: string;
  /** What to do with a line that has too few fields: 'error' (default) or 'skip' (counted in `skipped`). */
  onBadLine?: 'error' | 'skip';
}

/** Builds name -> id maps while reading named triples; ids are assigned in order of first appearance. */
export class Vocabulary {
  readonly names: string[] = [];
  /** name -> id (a Map-like index without V8's 2^24-entry Map limit). */
  readonly ids = new NameIndex();

  constructor(names: readonly string[] = []) {
    for (const n of names) this.add(n);
  }

  add(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      if (id >= MAX_NAMES) {
        // Growing the names array further would abort the process (V8's array size limit).
        throw new RangeError(`Vocabulary: more than ${MAX_NAMES} names (JavaScript's array limit)`);
      }
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }

  get size(): number {
    return this.names.length;
  }
}

export interface NamedTriplesResult {
  triples: TripleSet;
  /** Lines skipped with `onBadLine: 'skip'` (blank and comment lines are not counted). */
  skipped: number;
}

/**
 * Reads `subject<TAB>predicate<TAB>object` lines, adding unseen names to the vocabularies
 * (pass the same vocabularies for train, valid and test files).
 */
export async function readNamedTriples(
  file: string,
  entities: Vocabulary,
  relations: Vocabulary,
  options: NamedTripleOptions = {},
): Promise<NamedTriplesResult> {
  const delimiter = options.delimiter ?? '\t';
  const order = options.order ?? 'hrt';
  const comment = options.comment ?? '#';
  const out = new TripleBuffer();
  let skipped = 0;
  if (!fs.existsSync(file)) throw new Error(`${file}: missing`);
  await forEachLine(file, (text, line) => {
    if (text.trim() === '' || (comment !== '' && text.startsWith(comment))) return;
    const parts = text.split(delimiter);
    if (parts.length < 3) {
      if (options.onBadLine === 'skip') {
        skipped++;
        return;
      }
      throw new KgFormatError(
        file,
        line,
        'line',
        `expected 3 fields separated by ${JSON.stringify(delimiter)}, got ${parts.length}`,
      );
    }
    const [a, b, c] = parts;
    const hName = a.trim();
    const rName = (order === 'hrt' ? b : c).trim();
    const tName = (order === 'hrt' ? c : b).trim();
    for (const [field, v] of [
      ['subject', hName],
      ['predicate', rName],
      ['object', tName],
    ] as const) {
      if (v === '') {
        if (options.onBadLine === 'skip') {
          skipped++;
          return;
        }
        throw new KgFormatError(file, line, field, 'empty');
      }
    }
    out.push(entities.add(hName), relations.add(rName), entities.add(tName));
  });
  return { triples: out.finish(), skipped };
}

/** Reads named train (and optional valid/test) files into a dataset with fresh id maps. */
export async function readNamedDataset(
  files: { train: string; valid?: string; test?: string },
  options: NamedTripleOptions = {},
): Promise<KgDataset> {
  const ents = new Vocabulary();
  const rels = new Vocabulary();
  const train = (await readNamedTriples(files.train, ents, rels, options)).triples;
  const valid = files.valid
    ? (await readNamedTriples(files.valid, ents, rels, options)).triples
    : emptyTriples();
  const test = files.test
    ? (await readNamedTriples(files.test, ents, rels, options)).triples
    : emptyTriples();
  return { entities: ents.names, relations: rels.names, train, valid, test, source: files.train };
}

/**
 * Moves a seeded random fraction of `train` into valid and test (for named dumps that come as one
 * file). Entities or relations that would then appear only outside train are kept in train.
 */
export function splitTriples(
  ds: KgDataset,
  fractions: { valid: number; test: number },
  rng: { permutation(n: number): Uint32Array },
): KgDataset {
  const n = ds.train.count;
  const perm = rng.permutation(n);
  const entCount = new Int32Array(ds.entities.length);
  const relCount = new Int32Array(ds.relations.length);
  const d = ds.train.data;
  for (let i = 0; i < n; i++) {
    entCount[d[3 * i]]++;
    relCount[d[3 * i + 1]]++;
    entCount[d[3 * i + 2]]++;
  }
  const wantValid = Math.floor(n * fractions.valid);
  const wantTest = Math.floor(n * fractions.test);
  const train = new TripleBuffer();
  const valid = new TripleBuffer();
  const test = new TripleBuffer();
  for (let k = 0; k < n; k++) {
    const i = perm[k];
    const h = d[3 * i];
    const r = d[3 * i + 1];
    const t = d[3 * i + 2];
    const movable = entCount[h] > 1 && entCount[t] > 1 && relCount[r] > 1;
    const target = !movable
      ? train
      : valid.count < wantValid
        ? valid
        : test.count < wantTest
          ? test
          : train;
    if (target !== train) {
      entCount[h]--;
      entCount[t]--;
      relCount[r]--;
    }
    target.push(h, r, t);
  }
  return { ...ds, train: train.finish(), valid: valid.finish(), test: test.finish() };
}
