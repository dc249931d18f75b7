/**
 * Seeded synthetic knowledge graphs of any size, no download: the shape of CN-DBpedia at scale
 * (millions of entities, a thousand relations, tens of millions of triples) for benchmarks and
 * tests. Heads are mildly skewed, tails strongly (a few hub entities receive a large share of
 * the edges, as in a real encyclopedia graph), relations follow a power law.
 *
 * Draws: u = uniform [0, 1) from the xoshiro128** stream of `Rng(seed).fork(split)`;
 * head = floor(N * u^headSkew), relation = floor(R * u^relationSkew), tail = floor(N * u^tailSkew).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '@artist-ts/core/rng';
import { FastRng } from './fast_rng';
import type { KgDataset, TripleSet } from './kg_data';

export interface SyntheticGraphSpec {
  entities: number;
  relations: number;
  /** Training triples. */
  triples: number;
  /** Validation and test triples (default 10,000 each, fewer when the graph is tiny). */
  valid?: number;
  test?: number;
  seed?: number;
  /** Exponents of the draws (see the module comment); defaults 1.5, 3, 2. */
  headSkew?: number;
  tailSkew?: number;
  relationSkew?: number;
}

interface Resolved {
  entities: number;
  relations: number;
  counts: Record<'train' | 'valid' | 'test', number>;
  seed: number;
  headSkew: number;
  tailSkew: number;
  relationSkew: number;
}

function resolve(spec: SyntheticGraphSpec): Resolved {
  for (const f of ['entities', 'relations', 'triples'] as const) {
    const v = spec[f];
    if (!Number.isInteger(v) || v < (f === 'entities' ? 2 : 1))
      throw new RangeError(
        `SyntheticGraphSpec.${f} must be an integer >= 1 (entities >= 2); got ${v}`,
      );
  }
  const side = Math.min(10_000, Math.max(1, Math.floor(spec.triples / 100)));
  return {
    entities: spec.entities,
    relations: spec.relations,
    counts: { train: spec.triples, valid: spec.valid ?? side, test: spec.test ?? side },
    seed: spec.seed ?? 1,
    headSkew: spec.headSkew ?? 1.5,
    tailSkew: spec.tailSkew ?? 3,
    relationSkew: spec.relationSkew ?? 2,
  };
}

/** Calls `emit(h, r, t)` for each of `count` triples of split `split`. */
function drawTriples(
  s: Resolved,
  split: 'train' | 'valid' | 'test',
  emit: (h: number, r: number, t: number) => void,
): void {
  const rng = new FastRng();
  rng.load(new Rng(s.seed).fork(`synthetic-${split}`));
  const N = s.entities;
  const R = s.relations;
  const u = () => rng.next() / 4294967296;
  for (let i = 0; i < s.counts[split]; i++) {
    const h = Math.floor(N * u() ** s.headSkew);
    const r = Math.floor(R * u() ** s.relationSkew);
    let t = Math.floor(N * u() ** s.tailSkew);
    if (t === h) t = (t + 1) % N;
    emit(h, r, t);
  }
}

/** A synthetic graph in memory (entity names `e<id>`, relation names `r<id>`). */
export function generateSyntheticGraph(spec: SyntheticGraphSpec): KgDataset {
  const s = resolve(spec);
  const set = (split: 'train' | 'valid' | 'test'): TripleSet => {
    const data = new Int32Array(s.counts[split] * 3);
    let w = 0;
    drawTriples(s, split, (h, r, t) => {
      data[w++] = h;
      data[w++] = r;
      data[w++] = t;
    });
    return { data, count: s.counts[split] };
  };
  return {
    entities: Array.from({ length: s.entities }, (_, i) => `e${i}`),
    relations: Array.from({ length: s.relations }, (_, i) => `r${i}`),
    train: set('train'),
    valid: set('valid'),
    test: set('test'),
    source: `synthetic:${JSON.stringify(spec)}`,
  };
}

/** Appends ASCII text to a file through one 8 MiB buffer. */
class ByteWriter {
  private readonly buf = Buffer.allocUnsafe(8 << 20);
  private n = 0;
  constructor(private readonly fd: number) {}

  text(s: string): void {
    if (this.n + s.length > this.buf.length - 64) this.flush();
    this.n += this.buf.write(s, this.n, 'latin1');
  }

  uint(v: number): void {
    if (this.n + 16 > this.buf.length) this.flush();
    const start = this.n;
    do {
      this.buf[this.n++] = 48 + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
    this.buf.subarray(start, this.n).reverse();
  }

  byte(c: number): void {
    if (this.n >= this.buf.length) this.flush();
    this.buf[this.n++] = c;
  }

  flush(): void {
    let off = 0;
    while (off < this.n) off += fs.writeSync(this.fd, this.buf, off, this.n - off);
    this.n = 0;
  }
}

function writeFile(file: string, fill: (w: ByteWriter) => void): void {
  const fd = fs.openSync(file, 'w');
  try {
    const w = new ByteWriter(fd);
    fill(w);
    w.flush();
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes a synthetic graph as an OpenKE folder (`entity2id.txt`, `relation2id.txt`,
 * `{train,valid,test}2id.txt`), streamed: memory stays at one buffer whatever the size.
 */
export function writeSyntheticOpenKE(dir: string, spec: SyntheticGraphSpec): void {
  const s = resolve(spec);
  fs.mkdirSync(dir, { recursive: true });
  const names = (file: string, prefix: string, n: number) =>
    writeFile(path.join(dir, file), (w) => {
      w.uint(n);
      w.byte(10);
      for (let i = 0; i < n; i++) {
        w.text(prefix);
        w.uint(i);
        w.byte(9);
        w.uint(i);
        w.byte(10);
      }
    });
  names('entity2id.txt', 'e', s.entities);
  names('relation2id.txt', 'r', s.relations);
  for (const split of ['train', 'valid', 'test'] as const) {
    writeFile(path.join(dir, `${split}2id.txt`), (w) => {
      w.uint(s.counts[split]);
      w.byte(10);
      drawTriples(s, split, (h, r, t) => {
        w.uint(h);
        w.byte(32);
        w.uint(t);
        w.byte(32);
        w.uint(r);
        w.byte(10);
      });
    });
  }
}
