/** LoRA: adapters on the projections, base frozen with no optimizer state, merged into plain weights. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initRuntime } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import {
  evaluateLoss,
  GptTrainer,
  KnowlGpt,
  LoraAdapters,
  validateGptConfig,
  validateLoraConfig,
  validateTrainConfig,
} from '../src';
import { makeExamples, makeTable, variableValues } from './helpers';

let tmp: string;
beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt-knowl-lora-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const table = makeTable(10, 8);
const MODEL = { preset: 'nano' as const };
const values = variableValues;

describe('LoRA', () => {
  test('config errors name the field', () => {
    expect(() => validateLoraConfig({ rank: 0 })).toThrow('lora.rank must be a positive integer');
    expect(() => validateLoraConfig({ targets: ['attn.qkv' as never] })).toThrow(
      /lora\.targets must be a non-empty list of attn\.query/,
    );
    expect(() => validateTrainConfig({ lora: { rnak: 4 } as never })).toThrow(
      'TrainConfig.lora.rnak is not a LoRA option',
    );
  });

  test('starts at the base model; trains only the adapters; merges into plain weights', async () => {
    await expectNoLeakedTensors(async () => {
      const model = new KnowlGpt(MODEL, { seed: 6 });
      const data = makeExamples(model.config, 8);
      const opts = { batchSize: 4, entityTable: table };
      const base = values(model.variables);
      const baseLoss = await evaluateLoss(model, data, opts);
      const trainer = new GptTrainer(
        model,
        {
          learningRate: 1e-2,
          totalSteps: 6,
          warmupSteps: 0,
          batchSize: 4,
          lora: { rank: 2, alpha: 4 },
        },
        { entityTable: table },
      );
      const lora = trainer.lora!;
      // B = 0: the adapted model is the base model, to the bit.
      expect(await lora.runAsync(() => evaluateLoss(model, data, opts))).toBe(baseLoss);
      // 6 projections x 2 blocks, A [in, 2] + B [2, out]
      expect(lora.targets).toHaveLength(12);
      const d = model.config.nEmbd;
      expect(lora.numParameters()).toBe(2 * (4 * (2 * d + 2 * d) + 2 * (2 * d + 2 * 4 * d)));
      const r = await trainer.fit(data);
      expect(r.history.at(-1)!.loss).toBeLessThan(r.history[0].loss);
      expect(values(model.variables)).toEqual(base); // the base is frozen
      const slots = trainer.optimizer.getWeights();
      const names = slots.filter((s) => s.name.startsWith('m/')).map((s) => s.name.slice(2));
      tf.dispose(slots.map((s) => s.tensor));
      expect(names.sort()).toEqual(Object.keys(lora.variables).sort());
      const adaptedLoss = await lora.runAsync(() => evaluateLoss(model, data, opts));
      expect(adaptedLoss).toBeLessThan(baseLoss);
      trainer.mergeAdapters();
      const merged = await evaluateLoss(model, data, opts); // a plain model now
      expect(merged).toBeCloseTo(adaptedLoss, 4);
      for (const name of lora.targets)
        expect(values(model.variables)[name]).not.toEqual(base[name]);
      expect(values(model.variables)['tok_emb.weight']).toEqual(base['tok_emb.weight']);
      trainer.dispose();
      model.dispose();
    });
  });

  test('exact resume: 2 + 2 LoRA updates through a checkpoint equal 4', async () => {
    await expectNoLeakedTensors(async () => {
      const cfg = {
        learningRate: 1e-2,
        totalSteps: 4,
        warmupSteps: 1,
        batchSize: 3,
        lora: { rank: 2, targets: ['attn.query' as const, 'mlp.2' as const] },
      };
      const data = makeExamples(validateGptConfig(MODEL), 7);
      const straight = new KnowlGpt(MODEL, { seed: 5 });
      const t1 = new GptTrainer(straight, cfg, { entityTable: table });
      const all = (await t1.fit(data)).history.map((m) => m.loss);
      const root = fs.mkdtempSync(path.join(tmp, 'resume-'));
      const first = new KnowlGpt(MODEL, { seed: 5 });
      const t2 = new GptTrainer(first, cfg, { entityTable: table });
      const part1 = await t2.fit(data, { steps: 2, checkpointDir: root });
      const resumed = new KnowlGpt(MODEL, { seed: 5 });
      const t3 = new GptTrainer(resumed, cfg, { entityTable: table });
      const part2 = await t3.fit(data, { checkpointDir: root });
      expect([...part1.history, ...part2.history].map((m) => m.loss)).toEqual(all);
      expect(values(t3.lora!.variables)).toEqual(values(t1.lora!.variables));
      for (const x of [t1, t2, t3, straight, first, resumed]) x.dispose();
    });
  });

  test('adapters of two models coexist', () => {
    const a = new KnowlGpt(MODEL, { seed: 1 });
    const b = new KnowlGpt(MODEL, { seed: 1 });
    const la = new LoraAdapters(a, { rank: 1 });
    const lb = new LoraAdapters(b, { rank: 1 });
    expect(values(la.variables)).toEqual(values(lb.variables));
    for (const x of [la, lb, a, b]) x.dispose();
  });
});
