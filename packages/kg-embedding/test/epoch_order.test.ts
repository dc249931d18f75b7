import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '@artist-ts/core/rng';
import { fingerprintTriples, openTransECheckpoint } from '../src/checkpoint';
import { DEFAULT_TRANSE_CONFIG, type TransEConfig, validateTransEConfig } from '../src/config';
import {
  HEAD_BLOCK_LANES,
  HEAD_BLOCKS_AUTO_BYTES,
  headBlockEntities,
  headBlockPlan,
  permuteRows,
  planEpochs,
  relabelEntities,
  relabelTriples,
} from '../src/epoch_order';
import { evaluateLinkPrediction } from '../src/evaluate';
import { FastRng } from '../src/fast_rng';
import type { KernelConfig, TrainData } from '../src/kernel';
import { NegativeSampler } from '../src/negatives';
import { trainTransE } from '../src/trainer';
import { buildTripleIndex } from '../src/triple_index';
import { gridDataset } from './helpers';

const bits = (a: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/** `count` random triples over N entities and R relations (seeded). */
function randomTriples(N: number, R: number, count: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const out = new Int32Array(count * 3);
  for (let i = 0; i < count; i++) {
    out[i * 3] = rng.int(N);
    out[i * 3 + 1] = rng.int(R);
    out[i * 3 + 2] = rng.int(N);
  }
  return out;
}

const key = (t: Int32Array, i: number) => `${t[i * 3]},${t[i * 3 + 1]},${t[i * 3 + 2]}`;

describe('epoch order', () => {
  it('picks head blocks by the entity table size, at least 2 entities a block', () => {
    const cfg = (o: Partial<TransEConfig>) => validateTransEConfig({ dim: 100, ...o });
    const big = Math.ceil(HEAD_BLOCKS_AUTO_BYTES / 400) + 1;
    expect(headBlockEntities(cfg({}), 14_541)).toBe(0);
    expect(headBlockEntities(cfg({}), big)).toBe(2621);
    expect(headBlockEntities(cfg({ epochOrder: 'shuffled' }), big)).toBe(0);
    expect(headBlockEntities(cfg({ epochOrder: 'head-blocks', blockBytes: 4000 }), 100)).toBe(10);
    expect(headBlockEntities(cfg({ epochOrder: 'head-blocks', blockBytes: 1 }), 100)).toBe(2);
    expect(headBlockEntities(cfg({ epochOrder: 'head-blocks' }), 50)).toBe(50);
    expect(() => validateTransEConfig({ epochOrder: 'blocks' as never })).toThrow(
      /TransEConfig.epochOrder must be one of auto, shuffled, head-blocks/,
    );
    expect(() => validateTransEConfig({ blockBytes: 0 })).toThrow(/TransEConfig.blockBytes/);
    expect(DEFAULT_TRANSE_CONFIG.epochOrder).toBe('auto');
  });

  it('renumbers the entities at random, seeded, and moves table rows in place', () => {
    const a = relabelEntities(103, 7);
    expect([...a.toOld].sort((x, y) => x - y)).toEqual(Array.from({ length: 103 }, (_, i) => i));
    for (let i = 0; i < 103; i++) expect(a.toOld[a.toNew[i]]).toBe(i);
    expect([...a.toOld.subarray(0, 10)]).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...relabelEntities(103, 7).toNew]).toEqual([...a.toNew]);
    expect([...relabelEntities(103, 8).toNew]).not.toEqual([...a.toNew]);
    // Row i goes to row toNew[i]; toOld brings it back.
    const m = Float32Array.from({ length: 103 * 3 }, (_, i) => i);
    const moved = m.slice();
    permuteRows(moved, 3, a.toNew);
    for (let i = 0; i < 103; i++)
      expect([...moved.subarray(a.toNew[i] * 3, a.toNew[i] * 3 + 3)]).toEqual([
        3 * i,
        3 * i + 1,
        3 * i + 2,
      ]);
    permuteRows(moved, 3, a.toOld);
    expect([...moved]).toEqual([...m]);
    // Wide rows take the block-copy path.
    const wide = Float32Array.from({ length: 103 * 20 }, (_, i) => i);
    const movedWide = wide.slice();
    permuteRows(movedWide, 20, a.toNew);
    for (let i = 0; i < 103; i++) expect(movedWide[a.toNew[i] * 20 + 19]).toBe(i * 20 + 19);
    permuteRows(movedWide, 20, a.toOld);
    expect([...movedWide]).toEqual([...wide]);
    expect(() => permuteRows(m, 2, a.toNew)).toThrow(/309 values are not 103 rows of 2/);
    const t = relabelTriples({ data: Int32Array.from([1, 5, 2, 0, 6, 102]), count: 2 }, a.toNew);
    expect([...t.data]).toEqual([a.toNew[1], 5, a.toNew[2], a.toNew[0], 6, a.toNew[102]]);
  });

  it('groups the renumbered triples by head block and visits one block at a time', () => {
    const N = 97;
    const n = 2000;
    const triples = randomTriples(N, 5, n, 1);
    const relabel = relabelEntities(N, 3);
    const plan = headBlockPlan(triples, n, relabel, 10, n, false);
    expect(plan.blockEntities).toBe(10);
    const blockOf = (p: number) => Math.floor(plan.triples[p * 3] / 10);
    // The renumbered triples, grouped by block in ascending order.
    const renumbered = relabelTriples({ data: triples, count: n }, relabel.toNew).data;
    const before = Array.from({ length: n }, (_, i) => key(renumbered, i)).sort();
    const after = Array.from({ length: n }, (_, i) => key(plan.triples, i));
    expect([...after].sort()).toEqual(before);
    for (let i = 1; i < n; i++) expect(blockOf(i)).toBeGreaterThanOrEqual(blockOf(i - 1));
    const order = new Uint32Array(n);
    const rng = new FastRng();
    const state = new Rng(5);
    rng.load(state);
    plan.fill(rng, order);
    // A permutation of all positions...
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    // ...whose blocks come in runs: each block's positions are contiguous in the order.
    const runs: number[] = [blockOf(order[0])];
    for (let i = 1; i < n; i++)
      if (blockOf(order[i]) !== blockOf(order[i - 1])) runs.push(blockOf(order[i]));
    expect(new Set(runs).size).toBe(runs.length);
    expect(runs.length).toBe(10);
    expect(runs).not.toEqual([...runs].sort((a, b) => a - b));
    // Shuffled within a block, and a different order next epoch.
    const head = [...order.subarray(0, 20)];
    expect(head).not.toEqual([...head].sort((a, b) => a - b));
    const second = new Uint32Array(n);
    plan.fill(rng, second);
    expect([...second]).not.toEqual([...order]);
    // Replaying the RNG replays the order.
    rng.load(state);
    const again = new Uint32Array(n);
    plan.fill(rng, again);
    expect([...again]).toEqual([...order]);
    // In steps smaller than a lane, steps come from the HEAD_BLOCK_LANES lanes in turn, so two
    // threads claiming consecutive steps work on different blocks.
    const dealt = headBlockPlan(triples, n, relabel, 10, 50, false);
    rng.load(state);
    const steps = new Uint32Array(n);
    dealt.fill(rng, steps);
    const lane = n / HEAD_BLOCK_LANES;
    for (let k = 0; k < n / 50; k++) {
      const from = Math.floor(k / HEAD_BLOCK_LANES) * 50 + (k % HEAD_BLOCK_LANES) * lane;
      expect([...steps.subarray(k * 50, k * 50 + 50)]).toEqual([
        ...order.subarray(from, from + 50),
      ]);
    }
    // 'shuffled' keeps the triples as they are.
    const flat = planEpochs(validateTransEConfig({ dim: 4 }), triples, n, N, false);
    expect(flat.triples).toBe(triples);
    expect(flat.relabel).toBeNull();
    expect(flat.blockEntities).toBe(0);
  });

  it("draws fresh head-side negatives from the head's block, tail-side ones from all, filtered", () => {
    const N = 60;
    const B = 8;
    const known = { data: randomTriples(N, 2, 400, 2), count: 400 };
    const index = buildTripleIndex(N, 2, [known]);
    const isKnown = new Set(Array.from({ length: known.count }, (_, i) => key(known.data, i)));
    const cfg = validateTransEConfig({
      negatives: 4,
      sharedNegatives: 1,
      corruption: 'uniform',
      filterNegatives: true,
    }) as KernelConfig;
    const data: TrainData = {
      triples: known.data,
      count: known.count,
      order: new Uint32Array(known.count),
      headProb: Float64Array.from([0.5, 0.5]),
      index,
      blockEntities: B,
    };
    const sampler = new NegativeSampler(4);
    const state = new Rng(9);
    sampler.begin(new FastRng(), state, N, data, cfg);
    let tailOutside = 0;
    let headSide = 0;
    for (let k = 0; k < 400; k++) {
      const [h, r, t] = [known.data[k * 3], known.data[k * 3 + 1], known.data[k * 3 + 2]];
      sampler.draw(k, h, r, t, 4);
      for (let i = 0; i < 4; i++) {
        const e = sampler.ent[i];
        if (sampler.head[i] === 1) {
          headSide++;
          expect(Math.floor(e / B)).toBe(Math.floor(h / B));
          expect(e).not.toBe(h);
          expect(isKnown.has(`${e},${r},${t}`)).toBe(false);
        } else {
          if (Math.floor(e / B) !== Math.floor(h / B)) tailOutside++;
          expect(e).not.toBe(t);
          expect(isKnown.has(`${h},${r},${e}`)).toBe(false);
        }
      }
    }
    sampler.end();
    expect(headSide).toBeGreaterThan(600);
    expect(tailOutside).toBeGreaterThan(600);
  });

  describe('training by head blocks', () => {
    const grid = gridDataset(8, 8);
    const base: Partial<TransEConfig> = {
      dim: 8,
      negatives: 2,
      batchSize: 16,
      epochs: 8,
      learningRate: 0.05,
      margin: 1,
      loss: 'margin',
      optimizer: 'adagrad',
      renorm: 'max',
      seed: 3,
      checkpointEvery: 1,
      epochOrder: 'head-blocks',
      blockBytes: 8 * 4 * 16, // 16 entities a block: 4 blocks
    };
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-order-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('learns, resumes exactly, and matches the calling thread with one worker', async () => {
      const full = await trainTransE(grid, { ...base, workers: 1 });
      const inline = await trainTransE(grid, { ...base, workers: 0 });
      expect(inline.lossHistory).toEqual(full.lossHistory);
      expect(bits(inline.embeddings.entity)).toBe(bits(full.embeddings.entity));
      const shuffled = await trainTransE(grid, { ...base, workers: 0, epochOrder: 'shuffled' });
      expect(shuffled.lossHistory).not.toEqual(full.lossHistory);
      expect(full.lossHistory[7]).toBeLessThan(full.lossHistory[0] * 0.7);

      const ck = path.join(dir, 'ck');
      await trainTransE(grid, { ...base, workers: 1 }, { checkpointDir: ck, epochs: 3 });
      // Checkpoints hold the rows in the dataset's order: the last one is the result's table.
      const last = path.join(dir, 'last');
      const cfgFull = validateTransEConfig({ ...base, workers: 1 });
      await trainTransE(grid, cfgFull, { checkpointDir: last });
      const saved = await openTransECheckpoint(
        last,
        cfgFull,
        fingerprintTriples(grid.train),
        grid.entities.length,
        grid.relations.length,
      );
      const table = new Float32Array(full.embeddings.entity.length);
      await saved?.readInto('entity', table);
      expect(bits(table)).toBe(bits(full.embeddings.entity));
      const resumed = await trainTransE(grid, { ...base, workers: 1 }, { checkpointDir: ck });
      expect(resumed.resumedFromEpoch).toBe(3);
      expect(resumed.lossHistory).toEqual(full.lossHistory);
      expect(bits(resumed.embeddings.entity)).toBe(bits(full.embeddings.entity));

      // Another block size, or one shuffled order, cannot continue this run.
      await expect(
        trainTransE(grid, { ...base, workers: 1, blockBytes: 8 * 4 * 32 }, { checkpointDir: ck }),
      ).rejects.toThrow(
        /epochOrder'\/'blockBytes' give head blocks of 32 entities; the checkpoint was trained with head blocks of 16/,
      );
      await expect(
        trainTransE(grid, { ...base, workers: 1, epochOrder: 'auto' }, { checkpointDir: ck }),
      ).rejects.toThrow(/give one shuffled order/);
      // 'auto' resolves to one shuffled order on this graph: it continues a 'shuffled' run.
      const flat = path.join(dir, 'flat');
      const cfgFlat = { ...base, workers: 1, epochOrder: 'shuffled' as const };
      await trainTransE(grid, cfgFlat, { checkpointDir: flat, epochs: 2 });
      const cont = await trainTransE(
        grid,
        { ...cfgFlat, epochOrder: 'auto' },
        { checkpointDir: flat },
      );
      expect(cont.resumedFromEpoch).toBe(2);
      expect(cont.lossHistory).toEqual(shuffled.lossHistory);
    });

    it('ranks held-out edges about as well as one shuffled order', async () => {
      const cfg: Partial<TransEConfig> = {
        ...base,
        epochs: 100,
        loss: 'logsigmoid',
        margin: 2,
        adversarialTemperature: 1,
        negatives: 8,
        renorm: 'none',
        initRange: 0.2,
        checkpointEvery: 0,
        workers: 0,
      };
      const filter = [grid.train, grid.valid, grid.test];
      const mrr = async (o: Partial<TransEConfig>) => {
        const res = await trainTransE(grid, { ...cfg, evalEvery: 100, ...o });
        const m = await evaluateLinkPrediction(res.embeddings, grid.test, { workers: 0, filter });
        // The validation inside training (renumbered sets) agrees with one in the dataset's ids.
        const v = await evaluateLinkPrediction(res.embeddings, grid.valid, { workers: 0, filter });
        expect(res.validation).toHaveLength(1);
        expect(res.validation[0].mrr).toBeCloseTo(v.realistic.both.mrr, 12);
        return m.realistic.both.mrr;
      };
      const blocks = await mrr({});
      const one = await mrr({ epochOrder: 'shuffled' });
      // 64 candidates: a random ranking gives MRR ~0.07.
      expect(blocks).toBeGreaterThan(0.6);
      expect(Math.abs(blocks - one)).toBeLessThan(0.15);
    });
  });
});
