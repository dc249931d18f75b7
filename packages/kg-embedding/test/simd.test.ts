import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '@artist-ts/core/rng';
import { type TransEConfig, validateTransEConfig } from '../src/config';
import { evaluateLinkPrediction } from '../src/evaluate';
import { FastRng } from '../src/fast_rng';
import { type Tables, Workspace } from '../src/kernel';
import type { TripleSet } from '../src/kg_data';
import { allocWasmTables, simdSupported } from '../src/simd_kernels';
import { trainRange } from '../src/train_step';
import { trainTransE } from '../src/trainer';
import { buildTripleIndex, hasTriple } from '../src/triple_index';
import { gridDataset } from './helpers';

const ts = (rows: number[][]): TripleSet => ({
  data: Int32Array.from(rows.flat()),
  count: rows.length,
});
const bits = (a: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

it('this Node runs WebAssembly SIMD (the kernels below are not skipped)', () => {
  expect(simdSupported()).toBe(true);
});

describe('FastRng', () => {
  it('draws exactly the Rng stream: uint32, int(n), permutation, state', () => {
    const a = new Rng(123);
    const b = new Rng(123);
    const f = new FastRng();
    f.load(b);
    for (const n of [1, 2, 3, 7, 14541, 2 ** 31 + 5, 2 ** 32]) {
      const limit = 4294967296 - (4294967296 % n);
      const fast = Array.from({ length: 2000 }, () => f.int(n, limit));
      const ref = Array.from({ length: 2000 }, () => a.int(n));
      expect(fast).toEqual(ref);
    }
    const u = Array.from({ length: 100 }, () => f.next());
    expect(u).toEqual(Array.from({ length: 100 }, () => a.nextUint32()));
    const p = new Uint32Array(1000);
    f.permutationInto(p);
    expect(Array.from(p)).toEqual(Array.from(a.permutation(1000)));
    f.store(b);
    expect(b.getState()).toEqual(a.getState());
  });
});

describe('triple index bitmap', () => {
  it('never hides a known triple, and answers membership like a set', () => {
    const rng = new Rng(11);
    const N = 50;
    const R = 4;
    const rows: number[][] = [];
    for (let i = 0; i < 300; i++) rows.push([rng.int(N), rng.int(R), rng.int(N)]);
    const ix = buildTripleIndex(N, R, [ts(rows)]);
    expect(ix.bloom).toBeDefined();
    const set = new Set(rows.map((r) => r.join(',')));
    const got: string[] = [];
    for (let h = 0; h < N; h++)
      for (let r = 0; r < R; r++)
        for (let t = 0; t < N; t++) if (hasTriple(ix, h, r, t)) got.push(`${h},${r},${t}`);
    expect(got.sort()).toEqual([...set].sort());
  });
});

// The classic step (L1, margin, one negative, SGD, max-norm) of kernel.test.ts, on tables inside
// a WebAssembly memory: the f32x4 kernel must reproduce the same numpy reference (float64 math,
// float32 storage) to float32 precision.
const E0 = [0.1, -0.2, 0.3, 0.05, 0.4, 0.1, -0.3, 0.2, -0.5, 0.6, 0.2, -0.55, 0.0, 0.3, 0.3, 0.3];
const R0 = [0.25, -0.15, 0.05, 0.35];
const REF_C = {
  loss: 3.600000035017729,
  E: [
    1.4901161415892261e-9, -0.30000001192092896, 0.4000000059604645, -0.05000000074505806,
    0.4000000059604645, 0.30000001192092896, -0.30000001192092896, 0.20000000298023224,
    -0.4000000059604645, 0.5, 0.10000000149011612, -0.45000001788139343, 0.0, 0.30000001192092896,
    0.30000001192092896, 0.30000001192092896,
  ],
  R: [0.25, 0.04999999329447746, 0.05000000074505806, 0.3499999940395355],
};

function wasmTables(N: number, R: number, dim: number, entity: number[], relation: number[]) {
  const w = allocWasmTables(N, R, dim, 64, 4, 1, false);
  w.entity.set(entity);
  w.relation.set(relation);
  const tables: Tables = {
    dim,
    numEntities: N,
    numRelations: R,
    entity: w.entity,
    relation: w.relation,
    entityAcc: w.entityAcc,
    relationAcc: w.relationAcc,
    wasm: w.wasm,
  };
  return tables;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > atol) {
      throw new Error(`index ${i}: ${actual[i]} vs expected ${expected[i]}`);
    }
  }
}

// kernel.test.ts's general-step references (numpy, float64 math, float32 storage): L1 +
// log-sigmoid + self-adversarial + Adagrad with one negative (A) and with two (ADV).
const REF_A = {
  loss: 2.4064480242358917,
  E: [
    1.5079041348897704e-9, -0.30000001192092896, 0.4000000059604645, -0.05000000074505806,
    0.36720484495162964, 0.2917640209197998, -0.2672048509120941, 0.1672048568725586,
    -0.4000000059604645, 0.5, 0.10000000149011612, -0.45000001788139343, 0.0, 0.30000001192092896,
    0.30000001192092896, 0.30000001192092896,
  ],
  R: [0.21720485389232635, 0.04176400229334831, 0.082795150578022, 0.3172048330307007],
};
const REF_ADV = {
  loss: 2.6253270420104307,
  E: [
    1.538735250328216e-9, -0.30000001192092896, 0.4000000059604645, -0.05000000074505806,
    0.38303226232528687, 0.2616077661514282, -0.28303226828575134, 0.08464348316192627,
    -0.4000000059604645, 0.5, 0.10000000149011612, -0.45000001788139343, 0.0, 0.30000001192092896,
    0.30000001192092896, 0.30000001192092896, 0.10000000149011612, -0.5, 0.20000000298023224,
    0.7000000476837158,
  ],
  R: [0.2330322563648224, 0.011607744731009007, 0.06696774065494537, 0.23464347422122955],
};

describe('SIMD general training kernel', () => {
  it.each([
    ['one negative', 1, 7, 4, REF_A],
    ['two negatives, softmax(-d) weights', 2, 1, 5, REF_ADV],
  ] as const)('matches the numpy reference (%s)', (_name, negatives, seed, N, ref) => {
    const cfg = validateTransEConfig({
      dim: 4,
      negatives,
      corruption: 'bernoulli',
      filterNegatives: true,
      distance: 'L1',
      loss: 'logsigmoid',
      margin: 2,
      optimizer: 'adagrad',
      renorm: 'none',
      adversarialTemperature: 1,
    });
    const tables = wasmTables(N, 1, 4, [...E0, 0.2, -0.4, 0.1, 0.6].slice(0, N * 4), R0);
    const ws = new Workspace(4, negatives, N);
    ws.rng.reseed(seed);
    const known = { data: Int32Array.from([1, 0, 1, 1, 0, 2, 1, 0, 3]), count: 3 };
    const loss = trainRange(
      ws,
      tables,
      {
        triples: Int32Array.from([1, 0, 2]),
        count: 1,
        order: Uint32Array.from([0]),
        headProb: Float64Array.from([0]),
        blockEntities: 0,
        index: buildTripleIndex(N, 1, [known]),
      },
      cfg,
      0,
      1,
      0.1,
    );
    expect(ws.simdTrain).not.toBeNull();
    expect(loss).toBeCloseTo(ref.loss, 5);
    expectClose(tables.entity, ref.E, 2e-6);
    expectClose(tables.relation, ref.R, 2e-6);
    expect(tables.entityAcc[3]).toBe(0);
    expect(tables.entityAcc[0]).toBeGreaterThan(0);
  });
});

describe('SIMD classic training kernel', () => {
  it('matches the numpy reference step', () => {
    const cfg = validateTransEConfig({
      dim: 4,
      negatives: 1,
      corruption: 'bernoulli',
      filterNegatives: true,
      distance: 'L1',
      loss: 'margin',
      margin: 2,
      optimizer: 'sgd',
      renorm: 'max',
    });
    const tables = wasmTables(4, 1, 4, E0, R0);
    const ws = new Workspace(4, 1, 4);
    ws.rng.reseed(7);
    const known = { data: Int32Array.from([1, 0, 1, 1, 0, 2, 1, 0, 3]), count: 3 };
    const loss = trainRange(
      ws,
      tables,
      {
        triples: Int32Array.from([1, 0, 2]),
        count: 1,
        order: Uint32Array.from([0]),
        headProb: Float64Array.from([0]),
        blockEntities: 0,
        index: buildTripleIndex(4, 1, [known]),
      },
      cfg,
      0,
      1,
      0.1,
    );
    expect(ws.simdTrain).not.toBeNull(); // the SIMD path ran
    expect(loss).toBeCloseTo(REF_C.loss, 5);
    expectClose(tables.entity, REF_C.E, 1e-6);
    expectClose(tables.relation, REF_C.R, 1e-6);
  });

  it('agrees with the JavaScript kernel on a graph with self-loops (aliased rows), both sides corrupted', () => {
    const rng = new Rng(21);
    const N = 12;
    const R = 3;
    const dim = 8;
    const rows: number[][] = [];
    for (let i = 0; i < 60; i++) {
      const h = rng.int(N);
      rows.push([h, rng.int(R), i % 5 === 0 ? h : rng.int(N)]); // every 5th a self-loop
    }
    const entity = Array.from({ length: N * dim }, () => rng.uniform() - 0.5);
    const relation = Array.from({ length: R * dim }, () => rng.uniform() - 0.5);
    const variants: Partial<TransEConfig>[] = [];
    for (const renorm of ['max', 'unit', 'none'] as const)
      variants.push({ negatives: 1, loss: 'margin', distance: 'L1', optimizer: 'sgd', renorm });
    // The general step: K negatives, both losses and distances, both optimizers, shared draws.
    for (const distance of ['L1', 'L2'] as const)
      for (const loss of ['margin', 'logsigmoid'] as const)
        for (const optimizer of ['sgd', 'adagrad'] as const)
          variants.push({
            negatives: 4,
            loss,
            distance,
            optimizer,
            renorm: optimizer === 'sgd' ? 'max' : 'none',
            adversarialTemperature: loss === 'logsigmoid' ? 1 : 0,
            sharedNegatives: optimizer === 'adagrad' ? 2 : 1,
          });
    for (const v of variants) {
      const cfg = validateTransEConfig({
        dim,
        margin: 1,
        corruption: 'uniform',
        filterNegatives: false,
        ...v,
      });
      const data = {
        triples: Int32Array.from(rows.flat()),
        count: rows.length,
        order: Uint32Array.from(rows.map((_, i) => i)),
        headProb: Float64Array.from([0.5, 0.5, 0.5]),
        blockEntities: 0,
        index: null,
      };
      const js: Tables = {
        dim,
        numEntities: N,
        numRelations: R,
        entity: Float32Array.from(entity),
        relation: Float32Array.from(relation),
        entityAcc: new Float32Array(N),
        relationAcc: new Float32Array(R),
      };
      const simd = wasmTables(N, R, dim, entity, relation);
      const w1 = new Workspace(dim, cfg.negatives, N);
      const w2 = new Workspace(dim, cfg.negatives, N);
      w1.rng.reseed(5);
      w2.rng.reseed(5);
      const l1 = trainRange(w1, js, data, cfg, 0, rows.length, 0.05);
      const l2 = trainRange(w2, simd, data, cfg, 0, rows.length, 0.05);
      const what = JSON.stringify(v);
      expect([what, w2.simdTrain !== null]).toEqual([what, true]);
      expect(l1).toBeGreaterThan(0);
      if (Math.abs(l1 - l2) > 1e-4 * Math.max(1, l1))
        throw new Error(`${what}: loss ${l2} vs ${l1}`);
      try {
        expectClose(simd.entity, js.entity, 1e-5);
        expectClose(simd.relation, js.relation, 1e-5);
        expectClose(simd.entityAcc, js.entityAcc, 1e-5);
      } catch (e) {
        throw new Error(`${what}: ${(e as Error).message}`);
      }
      expect(w2.rng.getState()).toEqual(w1.rng.getState()); // same negatives drawn
    }
  });
});

describe('SIMD ranking kernel', () => {
  it('gives the same filtered counts as the float64 JavaScript kernel (dim not a multiple of 4)', async () => {
    const rng = new Rng(8);
    const N = 301;
    const R = 5;
    const dim = 10;
    const entity = new Float32Array(N * dim);
    const relation = new Float32Array(R * dim);
    rng.fillUniform(entity, -1, 1);
    rng.fillUniform(relation, -1, 1);
    const rows: number[][] = [];
    for (let i = 0; i < 400; i++) rows.push([rng.int(N), rng.int(R), rng.int(N)]);
    const all = ts(rows);
    const testSet = ts(rows.slice(0, 37)); // 74 queries: partial blocks of 8 and of 32
    const emb = { dim, numEntities: N, numRelations: R, entity, relation };
    for (const distance of ['L1', 'L2'] as const) {
      for (const filter of [[all], []]) {
        const js = await evaluateLinkPrediction(emb, testSet, {
          workers: 0,
          filter,
          distance,
          kernel: 'js',
        });
        const simd = await evaluateLinkPrediction(emb, testSet, {
          workers: 0,
          filter,
          distance,
          kernel: 'simd',
        });
        expect(simd.realistic).toEqual(js.realistic);
        expect(simd.pessimistic).toEqual(js.pessimistic);
        const pooled = await evaluateLinkPrediction(emb, testSet, { workers: 2, filter, distance });
        expect(pooled.realistic).toEqual(js.realistic);
      }
    }
    await expect(
      evaluateLinkPrediction(emb, testSet, { kernel: 'gpu' as 'js', workers: 0 }),
    ).rejects.toThrow(/kernel must be simd or js/);
  });
});

describe('trainTransE on the SIMD classic step', () => {
  const grid = gridDataset(6, 6);
  const classic: Partial<TransEConfig> = {
    dim: 8,
    negatives: 1,
    loss: 'margin',
    distance: 'L1',
    optimizer: 'sgd',
    learningRate: 0.02,
    margin: 1,
    renorm: 'max',
    batchSize: 16,
    epochs: 10,
    seed: 3,
    checkpointEvery: 0,
  };
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-simd-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is bit-for-bit reproducible (calling thread = one worker) and close to the JavaScript kernel', async () => {
    const a = await trainTransE(grid, { ...classic, workers: 0 }, { kernel: 'simd' });
    const b = await trainTransE(grid, { ...classic, workers: 1 }, { kernel: 'simd' });
    const c = await trainTransE(grid, { ...classic, workers: 0 });
    expect(b.lossHistory).toEqual(a.lossHistory);
    expect(bits(b.embeddings.entity)).toBe(bits(a.embeddings.entity));
    expect(bits(b.embeddings.relation)).toBe(bits(a.embeddings.relation));
    expect(c.lossHistory).toEqual(a.lossHistory); // 'auto' picks the SIMD kernel here
    const js = await trainTransE(grid, { ...classic, workers: 0 }, { kernel: 'js' });
    expect(js.lossHistory[0]).toBeCloseTo(a.lossHistory[0], 4);
    expect(a.lossHistory[9]).toBeLessThan(a.lossHistory[0]);
    const two = await trainTransE(grid, { ...classic, workers: 2 }, { kernel: 'simd' });
    expect(two.lossHistory.every(Number.isFinite)).toBe(true);
    expect(two.lossHistory[9]).toBeLessThan(two.lossHistory[0]);
  });

  it('resumes exactly after an abort', async () => {
    const ac = new AbortController();
    const ck = path.join(dir, 'ck');
    const part = await trainTransE(
      grid,
      { ...classic, workers: 1 },
      {
        checkpointDir: ck,
        signal: ac.signal,
        callbacks: { onEpoch: (r) => (r.epoch === 4 ? ac.abort() : undefined) },
      },
    );
    expect(part.epochs).toBe(4);
    const rest = await trainTransE(grid, { ...classic, workers: 1 }, { checkpointDir: ck });
    const full = await trainTransE(grid, { ...classic, workers: 1 });
    expect(rest.lossHistory).toEqual(full.lossHistory);
    expect(bits(rest.embeddings.entity)).toBe(bits(full.embeddings.entity));
  });

  it("resumes on the checkpoint's kernel when the kernel is 'auto'", async () => {
    const ac = new AbortController();
    const ck = path.join(dir, 'ck-js');
    await trainTransE(
      grid,
      { ...classic, workers: 0 },
      {
        kernel: 'js',
        checkpointDir: ck,
        signal: ac.signal,
        callbacks: { onEpoch: (r) => (r.epoch === 3 ? ac.abort() : undefined) },
      },
    );
    const rest = await trainTransE(grid, { ...classic, workers: 0 }, { checkpointDir: ck });
    const fullJs = await trainTransE(grid, { ...classic, workers: 0 }, { kernel: 'js' });
    const fullSimd = await trainTransE(grid, { ...classic, workers: 0 });
    expect(rest.lossHistory).toEqual(fullJs.lossHistory);
    expect(bits(rest.embeddings.entity)).toBe(bits(fullJs.embeddings.entity));
    expect(fullSimd.lossHistory).not.toEqual(fullJs.lossHistory);
  });

  it("refuses kernel 'simd' for a configuration it cannot run", async () => {
    await expect(
      trainTransE(grid, { ...classic, regularization: 0.01, workers: 0 }, { kernel: 'simd' }),
    ).rejects.toThrow(/regularization 0/);
    await expect(
      trainTransE(grid, { ...classic, dim: 6, workers: 0 }, { kernel: 'simd' }),
    ).rejects.toThrow(/multiple of 4/);
    // 'auto' falls back to the JavaScript kernel for what SIMD cannot run.
    const reg = await trainTransE(grid, {
      ...classic,
      regularization: 0.01,
      epochs: 2,
      workers: 0,
    });
    expect(reg.lossHistory.every(Number.isFinite)).toBe(true);
  });
});
