import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initRuntime, listCheckpoints } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import {
  evaluateLoss,
  GptTrainer,
  KnowlGpt,
  learningRateAt,
  loadGpt,
  type StepMetrics,
  saveGpt,
  validateGptConfig,
  validateTrainConfig,
} from '../src';
import { makeExamples, makeTable } from './helpers';

let tmp: string;
beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt-knowl-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const values = (m: KnowlGpt) =>
  Object.fromEntries(Object.entries(m.variables).map(([k, v]) => [k, Array.from(v.dataSync())]));

describe('schedule and config', () => {
  test('linear warm-up then linear decay to 0', () => {
    const c = validateTrainConfig({ learningRate: 1, totalSteps: 100, warmupProportion: 0.1 });
    expect(learningRateAt(c, 1)).toBeCloseTo(0.1);
    expect(learningRateAt(c, 10)).toBeCloseTo(1);
    expect(learningRateAt(c, 55)).toBeCloseTo(0.5);
    expect(learningRateAt(c, 100)).toBe(0);
    expect(
      learningRateAt(validateTrainConfig({ learningRate: 1, totalSteps: 10, warmupSteps: 0 }), 1),
    ).toBeCloseTo(0.9);
  });

  test('validateTrainConfig names the bad field', () => {
    expect(() => validateTrainConfig({ totalSteps: 0 })).toThrow(
      /totalSteps must be a positive integer/,
    );
    expect(() => validateTrainConfig({ textDropout: 1 })).toThrow(
      /textDropout must be in \[0, 1\)/,
    );
    expect(() => validateTrainConfig({ lr: 1 } as never)).toThrow(/lr is not a training option/);
  });
});

describe('GptTrainer', () => {
  const table = makeTable(10, 8);

  test('loss falls when fitting a tiny data set; progress callback per step', async () => {
    const model = new KnowlGpt({ preset: 'nano' }, { seed: 1 });
    const data = makeExamples(model.config, 8);
    const trainer = new GptTrainer(
      model,
      { learningRate: 2e-2, totalSteps: 10, batchSize: 4, warmupSteps: 2 },
      { entityTable: table },
    );
    const seen: StepMetrics[] = [];
    const evals: { step: number; loss: number; best: number }[] = [];
    await trainer.fit(data, {
      onStep: (m) => seen.push(m),
      evalData: data,
      evalEvery: 5,
      onEval: (e) => evals.push(e),
    });
    expect(evals.map((e) => e.step)).toEqual([5, 10]);
    expect(evals[1].best).toBe(Math.min(evals[0].loss, evals[1].loss));
    expect(trainer.bestMetric).toBe(evals[1].best);
    // evaluateLoss is the example-weighted mean, whatever the batch size
    const a = await evaluateLoss(model, data, { batchSize: 3, entityTable: table });
    const b = await evaluateLoss(model, data, { batchSize: 8, entityTable: table });
    expect(Math.abs(a - b)).toBeLessThan(1e-5);
    expect(Math.abs(b - evals[1].loss)).toBeLessThan(1e-6);
    expect(seen.length).toBe(10);
    expect(seen.map((m) => m.step)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(seen[0].loss).toBeGreaterThan(3);
    expect(seen[9].loss).toBeLessThan(seen[0].loss * 0.7);
    expect(seen.every((m) => m.gradNorm > 0 && Number.isFinite(m.loss))).toBe(true);
    expect(seen[9].learningRate).toBeCloseTo(learningRateAt(trainer.config, 10));
    trainer.dispose();
    model.dispose();
  });

  test('weight decay touches matrices only (not LayerNorm, biases, pos_emb)', async () => {
    const run = async (weightDecay: number) => {
      const model = new KnowlGpt({ preset: 'nano' }, { seed: 2 });
      const trainer = new GptTrainer(
        model,
        { learningRate: 0.1, totalSteps: 10, warmupSteps: 0, weightDecay, batchSize: 2 },
        { entityTable: table },
      );
      await trainer.trainStep(makeExamples(model.config, 2));
      const v = values(model);
      trainer.dispose();
      model.dispose();
      return v;
    };
    const a = await run(0);
    const b = await run(0.5);
    for (const name of [
      'blocks.0.ln1.weight',
      'blocks.1.attn.key.bias',
      'ln_f.weight',
      'pos_emb',
      'ent_emb.bias',
    ]) {
      expect(b[name]).toEqual(a[name]);
    }
    for (const name of [
      'tok_emb.weight',
      'blocks.0.attn.query.weight',
      'head.weight',
      'ent_emb.weight',
    ]) {
      expect(b[name]).not.toEqual(a[name]);
    }
  });

  test('exact resume: 2 + 2 steps through a checkpoint equal 4 steps', async () => {
    const cfg = {
      learningRate: 5e-3,
      totalSteps: 4,
      warmupSteps: 1,
      batchSize: 3,
      textDropout: 0.3,
    };
    const mcfg = { preset: 'nano' as const, embdPdrop: 0.1, residPdrop: 0.1, attnPdrop: 0.1 };
    const data = makeExamples(validateGptConfig(mcfg), 7);

    const straight = new KnowlGpt(mcfg, { seed: 5 });
    const t1 = new GptTrainer(straight, cfg, { entityTable: table });
    const losses1 = (await t1.fit(data)).map((m) => m.loss);

    const first = new KnowlGpt(mcfg, { seed: 5 });
    const t2 = new GptTrainer(first, cfg, { entityTable: table });
    const root = path.join(tmp, 'resume');
    const dirs: string[] = [];
    const part1 = await t2.fit(data, {
      steps: 2,
      checkpointRoot: root,
      onCheckpoint: (d) => dirs.push(d),
    });
    expect(dirs.length).toBe(1);
    t2.dispose();
    first.dispose();

    const resumed = new KnowlGpt(mcfg, { seed: 999 }); // different init: everything must come from disk
    const t3 = new GptTrainer(resumed, cfg, { entityTable: table });
    await t3.restore(root);
    expect(t3.step).toBe(2);
    const part2 = await t3.fit(data);
    expect([...part1, ...part2].map((m) => m.loss)).toEqual(losses1);
    expect(values(resumed)).toEqual(values(straight));
    t1.dispose();
    t3.dispose();
    straight.dispose();
    resumed.dispose();
  });

  test('checkpoints every N steps with keepLast; saveGpt/loadGpt round trip', async () => {
    const model = new KnowlGpt({ preset: 'nano', fusion: 'easynlp' }, { seed: 6 });
    const trainer = new GptTrainer(model, { totalSteps: 4, batchSize: 2 }, { entityTable: table });
    const root = path.join(tmp, 'every');
    await trainer.fit(makeExamples(model.config, 4), {
      checkpointRoot: root,
      checkpointEvery: 1,
      keepLast: 2,
    });
    expect(listCheckpoints(root).map((d) => path.basename(d))).toEqual([
      'step-000000003',
      'step-000000004',
    ]);

    const saved = await saveGpt(model, path.join(tmp, 'release'));
    const loaded = await loadGpt(saved);
    expect(loaded.config).toEqual(model.config);
    expect(values(loaded)).toEqual(values(model));
    // and from a trainer checkpoint
    const fromTrainer = await loadGpt(root);
    expect(values(fromTrainer)).toEqual(values(model));
    loaded.dispose();
    fromTrainer.dispose();
    trainer.dispose();
    model.dispose();
  });

  test('restore rejects a checkpoint of another shape, naming the tensors', async () => {
    const model = new KnowlGpt({ preset: 'nano' });
    const saved = await saveGpt(model, path.join(tmp, 'shape'));
    const other = new KnowlGpt({ preset: 'nano', nLayer: 3 });
    const trainer = new GptTrainer(other, {});
    await expect(trainer.restore(saved)).rejects.toThrow(/missing .*blocks\.2\.ln1\.weight/);
    trainer.dispose();
    other.dispose();
    model.dispose();
  });

  test('a training step leaks no tensors', async () => {
    const model = new KnowlGpt({ preset: 'nano' });
    const trainer = new GptTrainer(model, { batchSize: 2 }, { entityTable: table });
    const batch = makeExamples(model.config, 2);
    await expectNoLeakedTensors(() => trainer.trainStep(batch).then(() => null), 'trainStep');
    const before = tf.memory().numTensors;
    trainer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });
});
