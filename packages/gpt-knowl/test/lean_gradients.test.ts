import { initRuntime, leanVariableGrads } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { KnowlGpt } from '../src';
import type { LoraAdapters } from '../src/lora';
import { type GradsFn, lossAndGrads, movedLora } from './helpers';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

/** Loss and gradients of one training batch through `grads`, and the peak bytes it held. */
async function run(model: KnowlGpt, grads: GradsFn, recompute: number, lora?: LoraAdapters) {
  let values: Record<string, number[]> = {};
  const profile = await tf.profile(() => {
    values = lossAndGrads(model, { recompute, lora, fusedHead: true, grads });
  });
  return { values, peakBytes: profile.peakBytes };
}

const plain: GradsFn = (f, vars) => tf.variableGrads(f, vars);

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
    const lora = movedLora(model);
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
