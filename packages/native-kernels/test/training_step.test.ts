// End to end: a tiny GPT step (embedding gather, attention, layer norm, Adam) and a tiny conv
// autoencoder step (strided convs, nearest upsampling, vector quantiser) train on wasm with the
// installed kernels, with the same losses as the cpu backend.

import { makeAutoencoder, makeGpt, type TrainStep } from '../bench/models';
import { installKernels, uninstallKernels } from '../src';
import { tf, useBackend } from './helpers';

const GPT = { layers: 1, heads: 2, dModel: 8, seqLen: 6, batch: 2, vocab: 13, lr: 1e-2 };
const AE = { batch: 2, size: 8, channels: 4, codebook: 8, lr: 1e-2 };

async function losses(make: () => TrainStep, steps: number): Promise<number[]> {
  const net = make();
  const out: number[] = [];
  try {
    for (let i = 0; i < steps; i++) out.push(await net.step());
  } finally {
    net.dispose();
  }
  return out;
}

describe.each([
  ['tiny GPT', (t: typeof tf) => makeGpt(t, GPT)],
  ['tiny conv autoencoder', (t: typeof tf) => makeAutoencoder(t, AE)],
  [
    'tiny GPT, sparse loss and AdamW kernel',
    (t: typeof tf) => makeGpt(t, { ...GPT, loss: 'sparse', optimizer: 'adamw-kernel' }),
  ],
  [
    'tiny conv autoencoder, AdamW kernel and fused conv',
    (t: typeof tf) => makeAutoencoder(t, { ...AE, optimizer: 'adamw-kernel', fusedConv: true }),
  ],
] as const)('%s', (_name, make) => {
  afterAll(() => {
    uninstallKernels(tf, 'cpu');
    uninstallKernels(tf, 'wasm');
  });

  it('trains on wasm (native and JS kernels) with the losses of cpu, without leaking', async () => {
    await useBackend('cpu');
    installKernels(tf, 'cpu', { native: false });
    const ref = await losses(() => make(tf), 3);
    expect(ref[2]!).toBeLessThan(ref[0]!);

    await useBackend('wasm');
    for (const native of [true, false]) {
      installKernels(tf, 'wasm', { native });
      const before = tf.memory().numTensors;
      const got = await losses(() => make(tf), 3);
      expect(tf.memory().numTensors).toBe(before);
      for (let i = 0; i < 3; i++)
        expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(1e-4 * Math.abs(ref[i]!));
    }
  });
});
