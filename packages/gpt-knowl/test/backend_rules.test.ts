/**
 * The GPT's training step and sampling call only kernels, with only attributes, that tfjs-node
 * (the `tensorflow` backend, the GPU path) accepts: run on cpu and wasm with the custom kernels
 * off (the stock paths tfjs-node takes) and @artist-ts/runtime's tfjs-node rule check on.
 */
import {
  expectNoLeakedTensors,
  useStockBackend,
  withKernelRuleCheck,
} from '@artist-ts/runtime/testing';
import { GptTrainer, KnowlGpt, sampleCodes } from '../src';
import { makeExamples, makeTable } from './helpers';

const texts = [
  [5, 6, 7],
  [9, 10, 11, 12, 13],
];
const lattices = [{ lexIds: [1, 2], posS: [0, 1], posE: [1, 2] }, null];

describe.each(['cpu', 'wasm'] as const)('GPT under tfjs-node kernel rules on %s', (backend) => {
  beforeAll(async () => {
    await useStockBackend(backend);
  });
  afterAll(async () => {
    await useStockBackend('cpu');
  });

  for (const fusion of ['lattice', 'easynlp'] as const) {
    test(`${fusion}: a training step (forward, backward, AdamW, clipping)`, async () => {
      const model = new KnowlGpt({ preset: 'nano', fusion }, { seed: 1 });
      const table = makeTable(10, model.config.entityDim);
      const trainer = new GptTrainer(
        model,
        { learningRate: 1e-2, totalSteps: 4, batchSize: 2, warmupSteps: 0, gradClip: 1e-3 },
        { entityTable: table },
      );
      const examples = makeExamples(model.config, 2);
      const { result, kernels } = await withKernelRuleCheck(() => trainer.trainStep(examples));
      expect(Number.isFinite(result.loss)).toBe(true);
      expect(result.gradNorm).toBeGreaterThan(1e-3); // clipping ran
      // the stock paths really ran: a matmul gradient and the optimizer's element-wise update
      expect(kernels.has('BatchMatMul') || kernels.has('_FusedMatMul')).toBe(true);
      expect(kernels.has('Sqrt')).toBe(true);
      await expectNoLeakedTensors(() => withKernelRuleCheck(() => trainer.trainStep(examples)));
      trainer.dispose();
      model.dispose();
    });
  }

  for (const useCache of [true, false]) {
    test(`sampling (cache ${useCache ? 'on' : 'off'}, top-k, guidance)`, async () => {
      const model = new KnowlGpt({ preset: 'nano' }, { seed: 2 });
      const entityTable = makeTable(10, model.config.entityDim);
      const req = { texts, lattices, entityTable };
      const cfg = { topK: 8, guidanceScale: 2, seed: 3, batchSize: 2, useCache };
      const { result } = await withKernelRuleCheck(() => sampleCodes(model, req, cfg));
      expect(result.codes.length).toBe(2);
      for (const row of result.codes) {
        expect(row.every((x) => x >= 0 && x < model.config.imageVocabSize)).toBe(true);
      }
      model.dispose();
    });
  }
});
