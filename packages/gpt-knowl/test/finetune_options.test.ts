/**
 * Options fine-tuners expect: gradient accumulation (the update of one big batch, exact resume)
 * and freezing by parameter group (no gradient, no optimizer state).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initRuntime } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import {
  frozenParameters,
  GptTrainer,
  KnowlGpt,
  type TrainConfig,
  validateGptConfig,
  validateTrainConfig,
} from '../src';
import { makeExamples, makeTable, variableValues } from './helpers';

let tmp: string;
beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt-knowl-ft-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const table = makeTable(10, 8);
const values = (m: KnowlGpt) => variableValues(m.variables);
const MODEL = { preset: 'nano' as const };

/** Trains a fresh seed-3 nano model for `steps` updates; its losses and final weights. */
async function train(cfg: Partial<TrainConfig>, steps = 3) {
  const model = new KnowlGpt(MODEL, { seed: 3 });
  const trainer = new GptTrainer(
    model,
    { totalSteps: 5, warmupSteps: 1, ...cfg },
    { entityTable: table },
  );
  try {
    const r = await trainer.fit(makeExamples(validateGptConfig(MODEL), 9), { steps });
    return { losses: r.history.map((m) => m.loss), weights: values(model) };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

function maxAbsDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
  let d = 0;
  for (const [k, xs] of Object.entries(a))
    for (const [i, x] of xs.entries()) d = Math.max(d, Math.abs(x - b[k][i]));
  return d;
}

describe('gradient accumulation', () => {
  test('micro-batches 2 x 2 and 1 x 4 make the update of one batch of 4', async () => {
    await expectNoLeakedTensors(async () => {
      const common = { learningRate: 5e-3, textDropout: 0.3 };
      const big = await train({ ...common, batchSize: 4 });
      const twoByTwo = await train({ ...common, batchSize: 2, gradAccumSteps: 2 });
      const oneByFour = await train({ ...common, batchSize: 1, gradAccumSteps: 4 });
      for (const other of [twoByTwo, oneByFour]) {
        for (const [i, l] of big.losses.entries()) expect(other.losses[i]).toBeCloseTo(l, 5);
        expect(maxAbsDiff(big.weights, other.weights)).toBeLessThan(2e-5);
      }
      // and it is not the update of a batch of 2
      const small = await train({ ...common, batchSize: 2 });
      expect(maxAbsDiff(big.weights, small.weights)).toBeGreaterThan(1e-4);
    });
  });

  test('exact resume: 2 + 2 accumulated updates through a checkpoint equal 4', async () => {
    await expectNoLeakedTensors(async () => {
      const cfg = {
        learningRate: 5e-3,
        totalSteps: 4,
        warmupSteps: 1,
        batchSize: 2,
        gradAccumSteps: 2,
        textDropout: 0.3,
      };
      const mcfg = { ...MODEL, embdPdrop: 0.1, residPdrop: 0.1, attnPdrop: 0.1 };
      const data = makeExamples(validateGptConfig(mcfg), 7);
      const straight = new KnowlGpt(mcfg, { seed: 5 });
      const t1 = new GptTrainer(straight, cfg, { entityTable: table });
      const all = (await t1.fit(data)).history.map((m) => m.loss);
      const root = fs.mkdtempSync(path.join(tmp, 'resume-'));
      const first = new KnowlGpt(mcfg, { seed: 5 });
      const t2 = new GptTrainer(first, cfg, { entityTable: table });
      const part1 = await t2.fit(data, { steps: 2, checkpointDir: root });
      const resumed = new KnowlGpt(mcfg, { seed: 99 });
      const t3 = new GptTrainer(resumed, cfg, { entityTable: table });
      const part2 = await t3.fit(data, { checkpointDir: root });
      expect([...part1.history, ...part2.history].map((m) => m.loss)).toEqual(all);
      expect(values(resumed)).toEqual(values(straight));
      for (const x of [t1, t2, t3, straight, first, resumed]) x.dispose();
    });
  });

  test('validateTrainConfig names a bad gradAccumSteps or freeze', () => {
    expect(() => validateTrainConfig({ gradAccumSteps: 0 })).toThrow(
      'TrainConfig.gradAccumSteps must be a positive integer, got 0',
    );
    expect(() => validateTrainConfig({ freeze: 'embeddings' as never })).toThrow(
      /TrainConfig\.freeze must be an array/,
    );
  });
});

describe('freezing by parameter group', () => {
  test('groups resolve to parameter names; a group matching nothing is named', () => {
    const c = validateGptConfig(MODEL); // 2 blocks
    const f = frozenParameters(c, ['embeddings', 'blocks.0-0', 'head']);
    expect(f.has('tok_emb.weight') && f.has('pos_emb') && f.has('head.weight')).toBe(true);
    expect(f.has('blocks.0.attn.query.weight') || f.has('blocks.0.mlp.0.weight')).toBe(true);
    expect([...f].some((n) => n.startsWith('blocks.1.'))).toBe(false);
    expect(frozenParameters(c, ['blocks.1.mlp']).size).toBe(4);
    expect(() => frozenParameters(c, ['embeddings', 'block.0'], 'TrainConfig.freeze')).toThrow(
      "TrainConfig.freeze[1] 'block.0' names no parameter",
    );
    expect(() => frozenParameters(c, ['blocks.1-2'])).toThrow(
      "freeze[0] 'blocks.1-2': blocks 1-2 are not within 0-1",
    );
    expect(() => frozenParameters(c, ['embeddings', 'blocks', 'ln_f', 'head', 'ent_emb'])).toThrow(
      'freezes every parameter',
    );
  });

  test('frozen parameters keep their values and get no optimizer state', async () => {
    await expectNoLeakedTensors(async () => {
      const model = new KnowlGpt(MODEL, { seed: 4 });
      const before = values(model);
      const trainer = new GptTrainer(
        model,
        {
          learningRate: 5e-3,
          totalSteps: 2,
          warmupSteps: 0,
          batchSize: 3,
          freeze: ['embeddings', 'blocks.0'],
        },
        { entityTable: table },
      );
      await trainer.fit(makeExamples(model.config, 6));
      const after = values(model);
      for (const name of Object.keys(before)) {
        const frozen = trainer.frozen.has(name);
        expect([name, frozen, after[name]].join() === [name, frozen, before[name]].join()).toBe(
          frozen,
        );
      }
      const slots = trainer.optimizer.getWeights();
      const slotNames = slots.map((s) => s.name);
      tf.dispose(slots.map((s) => s.tensor));
      expect(slotNames.filter((n) => n.startsWith('m/')).length).toBe(
        Object.keys(before).length - trainer.frozen.size,
      );
      for (const n of trainer.frozen) expect(slotNames).not.toContain(`m/${n}`);
      trainer.dispose();
      model.dispose();
    });
  });
});
