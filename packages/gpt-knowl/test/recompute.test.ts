import { initRuntime } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import { KnowlGpt } from '../src';
import { lossAndGrads, movedLora } from './helpers';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

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
      const plain = lossAndGrads(model);
      expectSame(plain, lossAndGrads(model, { recompute: 2 }));
      expectSame(plain, lossAndGrads(model, { recompute: 3 }));
      expectSame(plain, lossAndGrads(model, { fusedHead: true }));
      expectSame(plain, lossAndGrads(model, { recompute: 3, fusedHead: true }));
    });
    model.dispose();
  });

  test('LoRA: the adapters get the same gradients', async () => {
    const model = new KnowlGpt({ preset: 'nano', nLayer: 2 }, { seed: 4 });
    const lora = movedLora(model);
    await expectNoLeakedTensors(async () => {
      const plain = lossAndGrads(model, { lora });
      expectSame(plain, lossAndGrads(model, { recompute: 2, lora }));
      expectSame(plain, lossAndGrads(model, { recompute: 2, lora, fusedHead: true }));
    });
    lora.dispose();
    model.dispose();
  });
});
