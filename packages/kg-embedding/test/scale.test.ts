// Large-graph paths on purpose: V8's limits (Set/Map at 2^24 entries, one fs read or write below
// 2 GiB) and the byte parser, binary cache and streamed checkpoints that avoid them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listCheckpoints } from '@artist-ts/core/checkpoint-files';
import type { TransEConfig } from '../src/config';
import { type KgDataset, readOpenKEFolder, readOpenKETriples } from '../src/kg_data';
import { parseIdMapBytes, parseOpenKETriplesBytes } from '../src/openke_bytes';
import { generateSyntheticGraph, writeSyntheticOpenKE } from '../src/synthetic_graph';
import { trainTransE } from '../src/trainer';
import { tripleCachePath } from '../src/triple_cache';
import { bernoulliHeadProbabilities } from '../src/triple_index';
import { gridDataset } from './helpers';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-scale-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};

describe('byte parser', () => {
  it('reads what the line reader reads: CRLF, BOM, tabs, blank lines, no final newline', async () => {
    const t = write('t.txt', '\ufeff3\r\n0 1 0\r\n\r\n2\t1  0\n 1 2 0 \n');
    expect(await parseOpenKETriplesBytes(t, 3, 1)).toEqual({
      data: Int32Array.from([0, 0, 1, 2, 0, 1, 1, 0, 2]),
      count: 3,
    });
    const m = write('m.txt', '3\nb\t1\nNew York\t2\na\t0');
    expect(await parseIdMapBytes(m)).toEqual(['a', 'b', 'New York']);
  });

  it('hands anything unusual to the line reader (null), which names file, line and field', async () => {
    for (const text of ['2\n0 1 0\n', '1\n0 1\n', '1\n0 x 0\n', '1\n0 3 0\n', '1\n0 1 0 0\n']) {
      expect(await parseOpenKETriplesBytes(write('bad.txt', text), 3, 1)).toBeNull();
    }
    expect(await parseIdMapBytes(write('m.txt', '2\na\t0\nb\t0\n'))).toBeNull();
    await expect(readOpenKETriples(write('x.txt', '1\n0 1 9\n'), 3, 1)).rejects.toThrow(
      /x\.txt:2: relation: id 9 is out of range 0\.\.0/,
    );
  });

  it('reads a file larger than its 8 MiB chunk exactly as generated (lines cross chunks)', async () => {
    const spec = { entities: 50_000, relations: 300, triples: 700_000, seed: 5 };
    const folder = path.join(dir, 'g');
    writeSyntheticOpenKE(folder, spec);
    expect(fs.statSync(path.join(folder, 'train2id.txt')).size).toBeGreaterThan(8 << 20);
    const mem = generateSyntheticGraph(spec);
    const ds = await readOpenKEFolder(folder, { cache: false });
    expect(ds.train.count).toBe(700_000);
    expect(Buffer.from(ds.train.data.buffer, 0, ds.train.count * 12)).toEqual(
      Buffer.from(mem.train.data.buffer),
    );
    expect(ds.test.data).toEqual(mem.test.data);
    expect(ds.entities[49_999]).toBe('e49999');
    // Triples live in shared memory: training workers read them without a copy.
    expect(ds.train.data.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});

describe('binary triple cache', () => {
  it('is written on the first read, used by the next, and rebuilt when the source changes', async () => {
    write('entity2id.txt', '3\na\t0\nb\t1\nc\t2\n');
    write('relation2id.txt', '2\nr\t0\ns\t1\n');
    const train = write('train2id.txt', '2\n0 1 0\n2 1 1\n');
    const first = await readOpenKEFolder(dir);
    expect(first.loads?.map((l) => [l.from, l.cached])).toEqual([['text', true]]);
    const cacheFile = tripleCachePath(path.join(dir, '.artist-kg-cache'), train);
    expect(fs.existsSync(cacheFile)).toBe(true);
    const second = await readOpenKEFolder(dir);
    expect(second.loads?.[0].from).toBe('cache');
    expect(second.train.data).toEqual(first.train.data);
    // Same size, new content: the cache is stale.
    fs.writeFileSync(train, '2\n0 1 0\n2 1 0\n');
    const third = await readOpenKEFolder(dir);
    expect(third.loads?.[0].from).toBe('text');
    expect(Array.from(third.train.data)).toEqual([0, 0, 1, 2, 0, 1]);
    expect((await readOpenKEFolder(dir)).loads?.[0].from).toBe('cache');
    // A cache folder that cannot be written only disables the cache.
    const blocker = write('blocker', 'a file, not a folder');
    const fourth = await readOpenKEFolder(dir, { cache: path.join(blocker, 'sub') });
    expect(fourth.loads?.[0]).toMatchObject({ from: 'text', cached: false });
  });
});

describe('beyond 2^24 distinct pairs (the size of a V8 Set)', () => {
  // h = i mod 2^22, r = i mod 5, t = i mod 1000 for i < n: all (h, r) pairs are distinct
  // (n < 5 * 2^22), relation r has 200 distinct tails (t = r mod 5), so tph = 1, hpt = count / 200
  // and the head probability is 200 / (200 + count_r).
  const N = 2 ** 22;
  const n = 2 ** 24 + 2 ** 20;
  const big = (): KgDataset => {
    const data = new Int32Array(n * 3);
    for (let i = 0; i < n; i++) {
      data[3 * i] = i % N;
      data[3 * i + 1] = i % 5;
      data[3 * i + 2] = i % 1000;
    }
    const one = { data: Int32Array.from([0, 0, 1]), count: 1 };
    return {
      entities: Array.from({ length: N }, () => 'e'),
      relations: ['r0', 'r1', 'r2', 'r3', 'r4'],
      train: { data, count: n },
      valid: one,
      test: one,
      source: 'test',
    };
  };

  it('counts Bernoulli statistics exactly', () => {
    const ds = big();
    const p = bernoulliHeadProbabilities(ds.train, 5);
    for (let r = 0; r < 5; r++) {
      const count = Math.floor(n / 5) + (r < n % 5 ? 1 : 0);
      expect(p[r]).toBeCloseTo(200 / (200 + count), 15);
    }
  });

  it('trains an epoch over them (dim 4)', async () => {
    const res = await trainTransE(big(), {
      dim: 4,
      epochs: 1,
      negatives: 1,
      loss: 'margin',
      optimizer: 'sgd',
      filterNegatives: false,
      workers: 0,
      batchSize: 65536,
      checkpointEvery: 0,
    });
    expect(res.epochs).toBe(1);
    expect(Number.isFinite(res.lossHistory[0])).toBe(true);
  }, 300_000);
});

describe('checkpoints of tables split into parts', () => {
  it('resume exactly from row blocks', async () => {
    const grid = gridDataset(6, 6);
    const cfg: Partial<TransEConfig> = {
      dim: 8,
      negatives: 2,
      batchSize: 16,
      epochs: 6,
      optimizer: 'adagrad',
      workers: 0,
      seed: 4,
      checkpointEvery: 1,
      evalEvery: 2,
    };
    const ck = path.join(dir, 'ck');
    const ac = new AbortController();
    // 100 bytes per part: the 36 x 8 entity table is stored as 12 blocks of 3 rows.
    await trainTransE(grid, cfg, {
      checkpointDir: ck,
      checkpointPartBytes: 100,
      signal: ac.signal,
      callbacks: { onEpoch: (r) => (r.epoch === 3 ? ac.abort() : undefined) },
    });
    const manifest = JSON.parse(
      fs.readFileSync(path.join(ck, listCheckpoints(ck).pop() as string, 'model.json'), 'utf8'),
    );
    const names = manifest.weightsManifest[0].weights.map((w: { name: string }) => w.name);
    expect(names).toContain('entity.part11');
    expect(names).toContain('best/entity.part0');
    const rest = await trainTransE(grid, cfg, { checkpointDir: ck, checkpointPartBytes: 100 });
    const full = await trainTransE(grid, { ...cfg, checkpointEvery: 0 });
    expect(rest.lossHistory).toEqual(full.lossHistory);
    expect(rest.embeddings.entity).toEqual(full.embeddings.entity);
  });
});
