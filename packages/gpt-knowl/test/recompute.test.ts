import { initRuntime } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { KnowlGpt, knowledgeTensors } from '../src';
import { makeTrainBatch } from '../src/batch';
import { LoraAdapters } from '../src/lora';
import { makeExamples, makeTable } from './helpers';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

/**
 * Loss and gradients of one batch with the first `recompute` blocks checkpointed (and the head's
 * loss in chunks with `fusedHead`).
 */
function lossAndGrads(model: KnowlGpt, recompute: number, lora?: LoraAdapters, fusedHead = false) {
  const c = model.config;
  const table = makeTable(10, c.entityDim);
  const batch = makeTrainBatch(c, makeExamples(c, 3), table);
  const L = c.textLen + c.imageLen - 1;
  return tf.tidy(() => {
    const tokens = tf.tensor2d(batch.tokens, [batch.batch, L], 'int32');
    const targets = tf.tensor2d(batch.targets, [batch.batch, c.imageLen], 'int32');
    const knowledge = batch.knowledge ? knowledgeTensors(batch.knowledge, c) : null;
    const loss = () =>
      model.loss(tokens, targets, {
        knowledge,
        training: true,
        dropoutSeed: 5,
        recomputeBlocks: recompute,
        fusedHead,
      });
    const vars = lora ? Object.values(lora.variables) : Object.values(model.variables);
    const { value, grads } = tf.variableGrads(() => (lora ? lora.run(loss) : loss()), vars);
    const out: Record<string, number[]> = { loss: Array.from(value.dataSync()) };
    for (const [k, g] of Object.entries(grads)) out[k] = Array.from(g.dataSync());
    return out;
  });
}

function expectSame(a: Record<string, number[]>, b: Record<string, number[]>) {
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  for (const k of Object.keys(a)) {
    const scale = Math.max(1e-6, ...a[k].map(Math.abs));
    const diff = Math.max(...a[k].map((x, i) => Math.abs(x - b[k][i])));
    expect([k, diff / scale < 1e-5]).toEqual([k, true]);
  }
}

describe('recomputeBlocks (activation checkpointing) and fusedHead', () => {
  test.each([
    ['lattice', { fusion: 'lattice' }],
    ['easynlp', { fusion: 'easynlp' }],
    ['dropout', { fusion: 'none', attnPdrop: 0.1, residPdrop: 0.2, embdPdrop: 0.1 }],
  ] as const)('%s: same loss and gradients as the plain pass, no tensor leaked', async (_, cfg) => {
    const model = new KnowlGpt({ preset: 'nano', nLayer: 3, ...cfg }, { seed: 3 });
    await expectNoLeakedTensors(async () => {
      const plain = lossAndGrads(model, 0);
      expectSame(plain, lossAndGrads(model, 2));
      expectSame(plain, lossAndGrads(model, 3));
      expectSame(plain, lossAndGrads(model, 0, undefined, true));
      expectSame(plain, lossAndGrads(model, 3, undefined, true));
    });
    model.dispose();
  });

  test('LoRA: the adapters get the same gradients', async () => {
    const model = new KnowlGpt({ preset: 'nano', nLayer: 2 }, { seed: 4 });
    const lora = new LoraAdapters(model, { rank: 2 }, 'r');
    // B starts at 0: move it so that A's gradient is not zero too
    for (const [k, v] of Object.entries(lora.variables)) {
      if (k.endsWith('lora_b'))
        tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', 7)));
    }
    await expectNoLeakedTensors(async () => {
      const plain = lossAndGrads(model, 0, lora);
      expectSame(plain, lossAndGrads(model, 2, lora));
      expectSame(plain, lossAndGrads(model, 2, lora, true));
    });
    lora.dispose();
    model.dispose();
  });
});
