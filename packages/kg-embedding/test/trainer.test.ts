import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listCheckpoints } from '@artist-ts/core/checkpoint-files';
import { Rng } from '@artist-ts/core/rng';
import type { TransEConfig } from '../src/config';
import { evaluateLinkPrediction } from '../src/evaluate';
import { fitTransE, subsetTriples, type TrainResult, trainTransE } from '../src/trainer';
import { gridDataset } from './helpers';

const grid = gridDataset(6, 6);
const base: Partial<TransEConfig> = {
  dim: 8,
  negatives: 4,
  batchSize: 16,
  epochs: 12,
  learningRate: 0.05,
  margin: 1,
  loss: 'margin',
  optimizer: 'adagrad',
  renorm: 'max',
  seed: 3,
  checkpointEvery: 0,
};

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-train-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const bits = (a: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

describe('trainTransE', () => {
  it('recovers a planted grid: held-out edges are ranked near the top', async () => {
    const res = await trainTransE(grid, {
      ...base,
      epochs: 100,
      loss: 'logsigmoid',
      margin: 2,
      adversarialTemperature: 1,
      negatives: 8,
      renorm: 'none',
      initRange: 0.2,
      workers: 0,
    });
    const m = await evaluateLinkPrediction(res.embeddings, grid.test, {
      workers: 0,
      filter: [grid.train, grid.valid, grid.test],
    });
    // 36 candidates: a random ranking gives MRR ~0.12.
    expect(m.realistic.both.mrr).toBeGreaterThan(0.7);
    expect(m.realistic.both.hits10).toBeGreaterThan(0.9);
    expect(res.lossHistory[res.lossHistory.length - 1]).toBeLessThan(res.lossHistory[0]);
  });

  it('is bit-for-bit reproducible with one worker, and identical to the calling thread', async () => {
    const a = await trainTransE(grid, { ...base, workers: 1 });
    const b = await trainTransE(grid, { ...base, workers: 1 });
    const c = await trainTransE(grid, { ...base, workers: 0 });
    expect(a.lossHistory).toEqual(b.lossHistory);
    expect(bits(a.embeddings.entity)).toBe(bits(b.embeddings.entity));
    expect(a.lossHistory).toEqual(c.lossHistory);
    expect(bits(a.embeddings.entity)).toBe(bits(c.embeddings.entity));
    expect(bits(a.embeddings.relation)).toBe(bits(c.embeddings.relation));
    const d = await trainTransE(grid, { ...base, workers: 0, seed: 4 });
    expect(d.lossHistory).not.toEqual(c.lossHistory);
  });

  it('trains hogwild on two workers', async () => {
    const res = await trainTransE(grid, { ...base, workers: 2, epochs: 20 });
    expect(res.lossHistory).toHaveLength(20);
    expect(res.lossHistory.every(Number.isFinite)).toBe(true);
    expect(res.lossHistory[19]).toBeLessThan(res.lossHistory[0]);
  });

  it('resumes after a crash with exactly the loss sequence of an uninterrupted run', async () => {
    const cfg = { ...base, workers: 1, checkpointEvery: 1, evalEvery: 3, evalMaxTriples: 5 };
    const full = await trainTransE(grid, cfg, { checkpointDir: path.join(dir, 'full') });
    const ck = path.join(dir, 'crash');
    await expect(
      trainTransE(grid, cfg, {
        checkpointDir: ck,
        callbacks: {
          onEpoch: (r) => {
            if (r.epoch === 7) throw new Error('simulated kill');
          },
        },
      }),
    ).rejects.toThrow('simulated kill');
    // The newest checkpoint is epoch 6's (step = 6 epochs x steps per epoch).
    const stepsPerEpoch = Math.ceil(grid.train.count / 16);
    expect(listCheckpoints(ck).pop()).toBe(`step-${String(6 * stepsPerEpoch).padStart(9, '0')}`);
    const seen: number[] = [];
    const resumed = await trainTransE(grid, cfg, {
      checkpointDir: ck,
      callbacks: { onEpoch: (r) => void seen.push(r.epoch) },
    });
    expect(resumed.resumedFromEpoch).toBe(6);
    expect(seen).toEqual([7, 8, 9, 10, 11, 12]);
    expect(resumed.lossHistory).toEqual(full.lossHistory);
    expect(resumed.validation).toEqual(full.validation);
    expect(bits(resumed.embeddings.entity)).toBe(bits(full.embeddings.entity));
    // A finished run resumes to the same result without training.
    const again = await trainTransE(grid, cfg, { checkpointDir: ck });
    expect(again.lossHistory).toEqual(full.lossHistory);
  });

  it('refuses to resume with a different config or different data', async () => {
    const ck = path.join(dir, 'ck');
    await trainTransE(grid, { ...base, epochs: 2, workers: 0 }, { checkpointDir: ck });
    await expect(
      trainTransE(grid, { ...base, epochs: 2, workers: 0, margin: 3 }, { checkpointDir: ck }),
    ).rejects.toThrow(/config field 'margin' was 1, now 3/);
    const other = gridDataset(6, 5);
    await expect(
      trainTransE(other, { ...base, epochs: 2, workers: 0 }, { checkpointDir: ck }),
    ).rejects.toThrow(/cannot resume: checkpoint was trained on/);
    // resume: false starts over
    const fresh = await trainTransE(
      grid,
      { ...base, epochs: 2, workers: 0, margin: 3 },
      { checkpointDir: ck, resume: false },
    );
    expect(fresh.resumedFromEpoch).toBeNull();
  });

  it('validates, stops early and returns the best epoch tables', async () => {
    const reports: { epoch: number; mrr: number }[] = [];
    const cfg = { ...base, workers: 0, epochs: 40, evalEvery: 2, patience: 2, learningRate: 0.5 };
    let res: TrainResult | null = null;
    res = await trainTransE(grid, cfg, {
      callbacks: { onValidation: (v) => void reports.push(v) },
    });
    expect(reports.length).toBeGreaterThan(0);
    const best = Math.max(...reports.map((r) => r.mrr));
    expect(res.bestMrr).toBe(best);
    expect(reports.find((r) => r.mrr === best)?.epoch).toBe(res.bestEpoch);
    if (res.stoppedEarly) expect(res.epochs).toBeLessThan(40);
    // The returned tables are the best epoch's: re-evaluating them gives the best MRR.
    const m = await evaluateLinkPrediction(res.embeddings, grid.valid, {
      workers: 0,
      filter: [grid.train, grid.valid, grid.test],
    });
    expect(m.realistic.both.mrr).toBeCloseTo(best, 12);
  });

  it('stops after the current epoch on abort, with a checkpoint to resume from', async () => {
    const ac = new AbortController();
    const ck = path.join(dir, 'abort');
    const res = await trainTransE(
      grid,
      { ...base, workers: 0 },
      {
        checkpointDir: ck,
        signal: ac.signal,
        callbacks: { onEpoch: (r) => (r.epoch === 4 ? ac.abort() : undefined) },
      },
    );
    expect(res.interrupted).toBe(true);
    expect(res.epochs).toBe(4);
    const rest = await trainTransE(grid, { ...base, workers: 0 }, { checkpointDir: ck });
    const full = await trainTransE(grid, { ...base, workers: 0 });
    expect(rest.lossHistory).toEqual(full.lossHistory);
  });

  it('rejects bad input', async () => {
    await expect(trainTransE(grid, { dim: 0 })).rejects.toThrow(
      /TransEConfig.dim must be an integer >= 1/,
    );
    const bad = { ...grid, train: { data: Int32Array.from([0, 5, 1]), count: 1 } };
    await expect(trainTransE(bad, { ...base, workers: 0 })).rejects.toThrow(/train: triple 0/);
  });

  it('takes a seeded validation subset', () => {
    const s = subsetTriples(grid.valid, 3, new Rng(1));
    expect(s.count).toBe(3);
    expect(subsetTriples(grid.valid, 0, new Rng(1))).toBe(grid.valid);
  });
});

describe('the shared training-loop surface (fitTransE)', () => {
  it('stops at epochs / steps limits, checkpoints by steps, and continues exactly', async () => {
    const cfg = { ...base, epochs: 6, workers: 0 };
    const stepsPerEpoch = Math.ceil(grid.train.count / 16);
    const ck = path.join(dir, 'fit');
    const events: { dir: string; step: number; epoch: number }[] = [];
    const reports: number[] = [];
    const first = await fitTransE(grid, cfg, {
      checkpointDir: ck,
      epochs: 2,
      checkpointEvery: stepsPerEpoch,
      onStep: (r) => {
        reports.push(r.epoch);
      },
      onCheckpoint: (e) => {
        events.push(e);
      },
    });
    expect(reports).toEqual([1, 2]);
    expect(first).toMatchObject({ step: 2 * stepsPerEpoch, aborted: false, epochs: 2 });
    expect(first.last?.epoch).toBe(2);
    expect(events.map((e) => [e.step, e.epoch])).toEqual([
      [stepsPerEpoch, 1],
      [2 * stepsPerEpoch, 2],
    ]);
    expect(first.checkpoint).toBe(events[1].dir);
    // `steps` counts all steps, including those before the resume: stop after epoch 4.
    const second = await fitTransE(grid, cfg, { checkpointDir: ck, steps: 4 * stepsPerEpoch - 1 });
    expect(second.resumedFromEpoch).toBe(2);
    expect(second.epochs).toBe(4);
    const rest = await fitTransE(grid, cfg, { checkpointDir: ck });
    const full = await fitTransE(grid, cfg);
    expect(rest.lossHistory).toEqual(full.lossHistory);
    expect(bits(rest.embeddings.entity)).toBe(bits(full.embeddings.entity));
    expect(rest.checkpoint).not.toBeNull();
    expect(full.checkpoint).toBeNull();
  });

  it('rejects bad loop options naming the field', async () => {
    await expect(fitTransE(grid, { ...base, workers: 0 }, { epochs: -1 })).rejects.toThrow(
      /trainTransE: 'epochs' must be an integer >= 0/,
    );
    await expect(fitTransE(grid, { ...base, workers: 0 }, { checkpointEvery: 3 })).rejects.toThrow(
      /'checkpointEvery' needs 'checkpointDir'/,
    );
  });
});
