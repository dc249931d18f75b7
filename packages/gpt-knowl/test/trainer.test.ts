import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { learningRateAt } from '@artist-ts/core/lr-schedule';
import { initRuntime, listCheckpoints } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import {
  evaluateLoss,
  GptTrainer,
  KnowlGpt,
  loadGpt,
  type StepMetrics,
  saveGpt,
  trainSchedule,
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
  test('linear warm-up then linear decay to 0 (EasyNLP / HF linear schedule)', () => {
    const c = validateTrainConfig({ learningRate: 1, totalSteps: 100, warmupProportion: 0.1 });
    const s = trainSchedule(c);
    expect(s).toEqual({ peak: 1, kind: 'linear', warmupSteps: 10, totalSteps: 100, minRatio: 0 });
    expect(learningRateAt(s, 1)).toBeCloseTo(0.1);
    expect(learningRateAt(s, 10)).toBeCloseTo(1);
    expect(learningRateAt(s, 55)).toBeCloseTo(0.5);
    expect(learningRateAt(s, 100)).toBe(0);
    const noWarmup = trainSchedule(
      validateTrainConfig({ learningRate: 1, totalSteps: 10, warmupSteps: 0 }),
    );
    expect(learningRateAt(noWarmup, 1)).toBeCloseTo(0.9);
    // HF get_linear_schedule_with_warmup, written out: the same float32 rate at every update
    const lr = 3e-4;
    const hf = (u: number, w: number, total: number) =>
      u <= w ? (lr * u) / w : lr * Math.max(0, (total - u) / (total - w));
    for (const [w, total] of [
      [0, 7],
      [3, 1000],
      [100, 1000],
    ]) {
      const sched = trainSchedule(
        validateTrainConfig({ learningRate: lr, totalSteps: total, warmupSteps: w }),
      );
      for (let u = 1; u <= total; u++) {
        expect(Math.fround(learningRateAt(sched, u))).toBe(Math.fround(hf(u, w, total)));
      }
    }
  });

  test('validateTrainConfig names the bad field', () => {
    expect(() => validateTrainConfig({ totalSteps: 0 })).toThrow(
      /totalSteps must be a positive integer/,
    );
    expect(() => validateTrainConfig({ textDropout: 1 })).toThrow(
      /textDropout must be in \[0, 1\)/,
    );
    expect(() => validateTrainConfig({ knowledgeDropout: -0.1 })).toThrow(
      /knowledgeDropout must be in \[0, 1\) or null/,
    );
    expect(validateTrainConfig({}).knowledgeDropout).toBeNull();
    expect(() => validateTrainConfig({ attributeDropout: 1 })).toThrow(
      /attributeDropout must be in \[0, 1\)/,
    );
    expect(validateTrainConfig({}).attributeDropout).toBe(0);
    expect(() => validateTrainConfig({ factDropout: -0.1 })).toThrow(
      /factDropout must be in \[0, 1\)/,
    );
    expect(validateTrainConfig({}).factDropout).toBe(0);
    expect(() => validateTrainConfig({ lr: 1 } as never)).toThrow(/lr is not a training option/);
    expect(() => validateTrainConfig({ recomputeBlocks: -1 })).toThrow(
      /recomputeBlocks must be 'auto' or an integer >= 0/,
    );
    expect(() => validateTrainConfig({ recomputeBlocks: 'all' as never })).toThrow(
      /recomputeBlocks must be 'auto' or an integer >= 0, got "all"/,
    );
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
    const result = await trainer.fit(data, {
      onStep: (m) => {
        seen.push(m);
      },
      evalData: data,
      evalEvery: 5,
      onEval: (e) => {
        evals.push(e);
      },
    });
    expect(result).toMatchObject({ step: 10, aborted: false, checkpoint: null });
    expect(result.last).toEqual(seen[9]);
    expect(result.history).toEqual(seen);
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
    expect(seen[9].learningRate).toBe(learningRateAt(trainer.schedule, 10));
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

  test.each([0, 2])(
    'exact resume: 2 + 2 steps through a checkpoint equal 4 steps (%i recomputed blocks)',
    async (recomputeBlocks) => {
      const cfg = {
        learningRate: 5e-3,
        totalSteps: 4,
        warmupSteps: 1,
        batchSize: 3,
        textDropout: 0.3,
        knowledgeDropout: 0.4,
        attributeDropout: 0.3,
        factDropout: 0.4,
        recomputeBlocks,
      };
      const mcfg = { preset: 'nano' as const, embdPdrop: 0.1, residPdrop: 0.1, attnPdrop: 0.1 };
      // the first lattice entry matched, the second attached to it (what factDropout reads)
      const data = makeExamples(validateGptConfig(mcfg), 7).map((e) => ({
        ...e,
        matchedEntities: 1,
      }));

      const straight = new KnowlGpt(mcfg, { seed: 5 });
      const t1 = new GptTrainer(straight, cfg, { entityTable: table });
      const losses1 = (await t1.fit(data)).history.map((m) => m.loss);

      const first = new KnowlGpt(mcfg, { seed: 5 });
      const t2 = new GptTrainer(first, cfg, { entityTable: table });
      const root = path.join(tmp, `resume-${recomputeBlocks}`);
      const dirs: string[] = [];
      const part1 = await t2.fit(data, {
        steps: 2,
        checkpointDir: root,
        onCheckpoint: (e) => {
          dirs.push(e.dir);
        },
      });
      expect(dirs.length).toBe(1);
      t2.dispose();
      first.dispose();

      const resumed = new KnowlGpt(mcfg, { seed: 999 }); // different init: everything must come from disk
      const t3 = new GptTrainer(resumed, cfg, { entityTable: table });
      await t3.restore(root);
      expect(t3.step).toBe(2);
      const part2 = await t3.fit(data);
      expect([...part1.history, ...part2.history].map((m) => m.loss)).toEqual(losses1);
      expect(values(resumed)).toEqual(values(straight));
      t1.dispose();
      t3.dispose();
      straight.dispose();
      resumed.dispose();
    },
  );

  test('abort writes a checkpoint and resolves aborted; fit on that checkpointDir resumes exactly', async () => {
    const cfg = { learningRate: 5e-3, totalSteps: 5, warmupSteps: 1, batchSize: 3 };
    const mcfg = { preset: 'nano' as const, embdPdrop: 0.1, residPdrop: 0.1, attnPdrop: 0.1 };
    const data = makeExamples(validateGptConfig(mcfg), 7);
    const straight = new KnowlGpt(mcfg, { seed: 8 });
    const t1 = new GptTrainer(straight, cfg, { entityTable: table });
    const all = (await t1.fit(data)).history.map((m) => m.loss);

    const root = path.join(tmp, 'abort');
    const stop = new AbortController();
    const first = new KnowlGpt(mcfg, { seed: 8 });
    const t2 = new GptTrainer(first, cfg, { entityTable: table });
    const events: { dir: string; step: number }[] = [];
    const r2 = await t2.fit(data, {
      checkpointDir: root,
      signal: stop.signal,
      onStep: (m) => {
        if (m.step === 3) stop.abort();
      },
      onCheckpoint: (e) => {
        events.push(e);
      },
    });
    expect(r2).toMatchObject({ step: 3, aborted: true });
    expect(events).toEqual([{ dir: r2.checkpoint, step: 3 }]);

    const resumed = new KnowlGpt(mcfg, { seed: 999 });
    const t3 = new GptTrainer(resumed, cfg, { entityTable: table });
    const r3 = await t3.fit(data, { checkpointDir: root });
    expect(r3).toMatchObject({ step: 5, aborted: false });
    expect([...r2.history, ...r3.history].map((m) => m.loss)).toEqual(all);
    expect(values(resumed)).toEqual(values(straight));

    // resume: false ignores the checkpoints and starts from this trainer's own state
    const fresh = new KnowlGpt(mcfg, { seed: 8 });
    const t4 = new GptTrainer(fresh, cfg, { entityTable: table });
    const r4 = await t4.fit(data, { checkpointDir: root, resume: false, steps: 1 });
    expect(r4.history[0].loss).toBe(all[0]);
    for (const x of [t1, t2, t3, t4, straight, first, resumed, fresh]) x.dispose();
  });

  test('fit rejects bad options, naming the field', async () => {
    const model = new KnowlGpt({ preset: 'nano' });
    const trainer = new GptTrainer(model, { totalSteps: 4 }, { entityTable: table });
    const data = makeExamples(model.config, 2);
    await expect(trainer.fit(data, { steps: 5 })).rejects.toThrow(
      /'steps' \(5\) is past the schedule's totalSteps \(4\)/,
    );
    await expect(trainer.fit(data, { epochs: 1 })).rejects.toThrow(/'epochs' is not supported/);
    await expect(trainer.fit(data, { evalEvery: -1 })).rejects.toThrow(/'evalEvery' must be/);
    await expect(trainer.fit(data, { checkpointEvery: 2 })).rejects.toThrow(
      /'checkpointEvery' needs 'checkpointDir'/,
    );
    expect(trainer.step).toBe(0);
    trainer.dispose();
    model.dispose();
  });

  test('checkpoints every N steps with keepLast; saveGpt/loadGpt round trip', async () => {
    const model = new KnowlGpt({ preset: 'nano', fusion: 'easynlp' }, { seed: 6 });
    const trainer = new GptTrainer(model, { totalSteps: 4, batchSize: 2 }, { entityTable: table });
    const root = path.join(tmp, 'every');
    await trainer.fit(makeExamples(model.config, 4), {
      checkpointDir: root,
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

  test('loadGpt shares the loaded tensors (no leak) and names a checkpoint of another shape', async () => {
    const model = new KnowlGpt({ preset: 'nano' }, { seed: 12 });
    const saved = await saveGpt(model, path.join(tmp, 'share'));
    await expectNoLeakedTensors(async () => {
      const loaded = await loadGpt(saved);
      expect(values(loaded)).toEqual(values(model));
      loaded.dispose();
    }, 'loadGpt');
    await expectNoLeakedTensors(async () => {
      await expect(loadGpt(saved, { nLayer: 3 })).rejects.toThrow(
        new RegExp(`^${saved}: [\\s\\S]*missing[^\\n]*blocks\\.2\\.ln1\\.weight`),
      );
    }, 'loadGpt of another shape');
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

  test.each([0, 2])(
    'a training step leaks no tensors (%i recomputed blocks)',
    async (recomputeBlocks) => {
      const model = new KnowlGpt({ preset: 'nano' });
      const trainer = new GptTrainer(
        model,
        { batchSize: 2, recomputeBlocks },
        { entityTable: table },
      );
      const batch = makeExamples(model.config, 2);
      await expectNoLeakedTensors(() => trainer.trainStep(batch).then(() => null), 'trainStep');
      const before = tf.memory().numTensors;
      trainer.dispose();
      model.dispose();
      expect(tf.memory().numTensors).toBeLessThan(before);
    },
  );
});
