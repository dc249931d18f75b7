import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '@artist-ts/core/rng';
import {
  KgFormatError,
  readIdMap,
  readIdMapSync,
  readNamedDataset,
  readOpenKEFolder,
  readOpenKETriples,
  splitTriples,
} from '../src/kg_data';
import {
  bernoulliHeadProbabilities,
  buildTripleIndex,
  hasTriple,
  knownHeads,
  knownTails,
} from '../src/triple_index';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-data-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};

describe('OpenKE folders', () => {
  it('reads maps and head-tail-relation triples, keeping ids as written', async () => {
    write('entity2id.txt', '3\nParis\t0\nFrance\t1\nNew York City\t2\n');
    write('relation2id.txt', '1\ncapital_of\t0\n');
    write('train2id.txt', '2\n0 1 0\n2 1 0\n');
    write('test2id.txt', '1\r\n2 1 0\r\n');
    const ds = await readOpenKEFolder(dir);
    expect(ds.entities).toEqual(['Paris', 'France', 'New York City']);
    expect(ds.relations).toEqual(['capital_of']);
    // stored as (h, r, t)
    expect(Array.from(ds.train.data)).toEqual([0, 0, 1, 2, 0, 1]);
    expect(ds.valid.count).toBe(0);
    expect(ds.test.count).toBe(1);
  });

  it('names file, line and field in errors', async () => {
    const m = write('entity2id.txt', '2\na\t0\nb\t0\n');
    await expect(readIdMap(m)).rejects.toThrow(`${m}:3: id: id 0 already given to 'a'`);
    expect(() => readIdMapSync(m)).toThrow(`${m}:3: id: id 0 already given to 'a'`);
    const c = write('e2.txt', 'a\t0\n');
    await expect(readIdMap(c)).rejects.toThrow(
      /e2\.txt:1: count: the first line must be the entry count/,
    );
    const short = write('e3.txt', '3\na\t0\nb\t1\n');
    await expect(readIdMap(short)).rejects.toThrow(
      /declares 3 entries but has 2 \(first missing id: 2\)/,
    );
    const t = write('train2id.txt', '2\n0 1 0\n0 7 0\n');
    await expect(readOpenKETriples(t, 3, 1)).rejects.toThrow(
      `${t}:3: tail: id 7 is out of range 0..2`,
    );
    const t2 = write('t2.txt', '1\n0 1\n');
    const err = await readOpenKETriples(t2, 3, 1).catch((e) => e);
    expect(err).toBeInstanceOf(KgFormatError);
    expect(err).toMatchObject({ file: t2, line: 2, field: 'line' });
    const t3 = write('t3.txt', '1\n0 x 0\n');
    await expect(readOpenKETriples(t3, 3, 1)).rejects.toThrow(
      /t3\.txt:2: tail: 'x' is not a non-negative integer/,
    );
    const t4 = write('t4.txt', '3\n0 1 0\n');
    await expect(readOpenKETriples(t4, 3, 1)).rejects.toThrow(/declares 3 triples but has 1/);
    fs.rmSync(path.join(dir, 'train2id.txt'));
    write('relation2id.txt', '1\nr\t0\n');
    await expect(readOpenKEFolder(dir)).rejects.toThrow(/train2id\.txt: missing/);
  });
});

describe('named triples', () => {
  it('builds id maps in order of first appearance across files', async () => {
    const train = write('train.tsv', '# comment\n北京\t首都\t中国\n上海\t位于\t中国\n\n');
    const test = write('test.tsv', '东京\t首都\t日本\n');
    const ds = await readNamedDataset({ train, test });
    expect(ds.entities).toEqual(['北京', '中国', '上海', '东京', '日本']);
    expect(ds.relations).toEqual(['首都', '位于']);
    expect(Array.from(ds.train.data)).toEqual([0, 0, 1, 2, 1, 1]);
    expect(Array.from(ds.test.data)).toEqual([3, 0, 4]);
  });

  it('reports bad lines with file and line, or skips them', async () => {
    const f = write('bad.tsv', 'a\tr\tb\nbroken line\n');
    await expect(readNamedDataset({ train: f })).rejects.toThrow(`${f}:2: line: expected 3 fields`);
    const g = write('empty.tsv', 'a\t\tb\n');
    await expect(readNamedDataset({ train: g })).rejects.toThrow(`${g}:1: predicate: empty`);
    const ds = await readNamedDataset({ train: f }, { onBadLine: 'skip' });
    expect(ds.train.count).toBe(1);
  });

  it('splits off valid/test without orphaning entities', () => {
    const rows: number[] = [];
    for (let i = 0; i < 50; i++) rows.push(i % 10, i % 3, (i * 7) % 10);
    const ds = {
      entities: Array.from({ length: 10 }, (_, i) => `e${i}`),
      relations: ['a', 'b', 'c'],
      train: { data: Int32Array.from(rows), count: 50 },
      valid: { data: new Int32Array(0), count: 0 },
      test: { data: new Int32Array(0), count: 0 },
      source: 'mem',
    };
    const s = splitTriples(ds, { valid: 0.1, test: 0.1 }, new Rng(1));
    expect(s.train.count + s.valid.count + s.test.count).toBe(50);
    expect(s.valid.count).toBe(5);
    const seen = new Set<number>();
    for (let i = 0; i < s.train.count; i++) {
      seen.add(s.train.data[3 * i]);
      seen.add(s.train.data[3 * i + 2]);
    }
    expect(seen.size).toBe(10);
  });
});

describe('triple index', () => {
  const set = { data: Int32Array.from([0, 0, 1, 0, 0, 2, 0, 0, 2, 3, 1, 2, 4, 0, 2]), count: 5 };
  it('answers membership and answer-list queries', () => {
    const ix = buildTripleIndex(5, 2, [set]);
    expect(hasTriple(ix, 0, 0, 2)).toBe(true);
    expect(hasTriple(ix, 0, 1, 2)).toBe(false);
    expect(hasTriple(ix, 2, 0, 0)).toBe(false);
    expect(knownTails(ix, 0, 0)).toEqual([1, 2]); // duplicate (0,0,2) counted once
    expect(knownHeads(ix, 0, 2)).toEqual([0, 4]);
    expect(knownHeads(ix, 1, 2)).toEqual([3]);
    expect(ix.headKeys.length).toBe(4);
  });

  it('gives Bernoulli head probabilities tph / (tph + hpt)', () => {
    // relation 0: one head with 3 tails (1-to-N): tph 3, hpt 1 -> corrupt the head with p 0.75
    // relation 1: 3 heads, one tail (N-to-1): p 0.25
    const tr = {
      data: Int32Array.from([0, 0, 1, 0, 0, 2, 0, 0, 3, 1, 1, 0, 2, 1, 0, 3, 1, 0]),
      count: 6,
    };
    const p = bernoulliHeadProbabilities(tr, 3);
    expect(p[0]).toBeCloseTo(0.75, 12);
    expect(p[1]).toBeCloseTo(0.25, 12);
    expect(p[2]).toBe(0.5); // unseen relation
  });
});
