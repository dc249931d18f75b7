import { initRuntime } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { KnowlGpt, knowledgeTensors } from '../src';
import { makeTrainBatch } from '../src/batch';
import { leanVariableGrads } from '../src/lean_gradients';
import { LoraAdapters } from '../src/lora';
import { makeExamples, makeTable } from './helpers';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

type Grads = (
  f: () => tf.Scalar,
  vars: tf.Variable[],
) => { value: tf.Scalar; grads: Record<string, tf.Tensor | null> };

/** Loss and gradients of one training batch through `grads`, and the peak bytes it held. */
async function run(model: KnowlGpt, grads: Grads, recompute: number, lora?: LoraAdapters) {
  const c = model.config;
  const batch = makeTrainBatch(c, makeExamples(c, 3), makeTable(10, c.entityDim));
  const L = c.textLen + c.imageLen - 1;
  let out: Record<string, number[]> = {};
  const profile = await tf.profile(() => {
    out = tf.tidy(() => {
      const tokens = tf.tensor2d(batch.tokens, [batch.batch, L], 'int32');
      const targets = tf.tensor2d(batch.targets, [batch.batch, c.imageLen], 'int32');
      const knowledge = batch.knowledge ? knowledgeTensors(batch.knowledge, c) : null;
      const loss = () =>
        model.loss(tokens, targets, {
          knowledge,
          training: true,
          dropoutSeed: 5,
          recomputeBlocks: recompute,
          fusedHead: true,
        });
      const vars = Object.values(lora ? lora.variables : model.variables);
      const r = grads(() => (lora ? lora.run(loss) : loss()), vars);
      const values: Record<string, number[]> = { loss: Array.from(r.value.dataSync()) };
      for (const [k, g] of Object.entries(r.grads)) values[k] = Array.from(g!.dataSync());
      return values;
    });
  });
  return { values: out, peakBytes: profile.peakBytes };
}

const plain: Grads = (f, vars) => tf.variableGrads(f, vars);

describe('leanVariableGrads', () => {
  test.each([
    ['lattice', { fusion: 'lattice' }, 0],
    ['easynlp, 2 blocks recomputed', { fusion: 'easynlp' }, 2],
    ['dropout', { fusion: 'none', attnPdrop: 0.1, residPdrop: 0.2, embdPdrop: 0.1 }, 0],
  ] as const)(
    '%s: the same loss and gradients, bit for bit, at a lower peak, no tensor leaked',
    async (_, cfg, recompute) => {
      const model = new KnowlGpt({ preset: 'nano', nLayer: 3, ...cfg }, { seed: 3 });
      await expectNoLeakedTensors(async () => {
        const a = await run(model, plain, recompute);
        const b = await run(model, leanVariableGrads, recompute);
        expect(Object.keys(b.values).sort()).toEqual(Object.keys(a.values).sort());
        for (const k of Object.keys(a.values)) expect([k, b.values[k]]).toEqual([k, a.values[k]]);
        expect(b.peakBytes).toBeLessThan(0.8 * a.peakBytes);
      });
      model.dispose();
    },
  );

  test('LoRA adapters: the same gradients', async () => {
    const model = new KnowlGpt({ preset: 'nano', nLayer: 2 }, { seed: 4 });
    const lora = new LoraAdapters(model, { rank: 2 }, 'r');
    for (const [k, v] of Object.entries(lora.variables)) {
      if (k.endsWith('lora_b'))
        tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', 7)));
    }
    await expectNoLeakedTensors(async () => {
      const a = await run(model, plain, 0, lora);
      const b = await run(model, leanVariableGrads, 0, lora);
      expect(b.values).toEqual(a.values);
    });
    lora.dispose();
    model.dispose();
  });

  test('a value that is no scalar, and a value no variable reaches, throw without leaking', async () => {
    const w = tf.variable(tf.ones([3]));
    const u = tf.variable(tf.ones([3]));
    await expectNoLeakedTensors(async () => {
      expect(() => leanVariableGrads(() => tf.mul(w, 2) as unknown as tf.Scalar, [w])).toThrow(
        'scalar',
      );
      expect(() => leanVariableGrads(() => tf.sum(tf.mul(u, 2)), [w])).toThrow('no variable');
      // a tensor used twice by one kernel, and gradients accumulated over two paths
      const r = leanVariableGrads(() => tf.sum(tf.add(tf.mul(w, w), tf.mul(w, 3))), [w, u]);
      expect(Object.keys(r.grads)).toEqual([w.name]);
      expect(Array.from(r.grads[w.name].dataSync())).toEqual([5, 5, 5]);
      expect(r.value.dataSync()[0]).toBe(12);
      tf.dispose([r.value, r.grads[w.name]]);
    });
    tf.dispose([w, u]);
  });
});
