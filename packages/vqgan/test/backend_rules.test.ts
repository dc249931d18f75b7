/**
 * The VQGAN's training step (autoencoder and PatchGAN discriminator), encoding and decoding call
 * only kernels, with only attributes, that tfjs-node (the `tensorflow` backend, the GPU path)
 * accepts: run on cpu and wasm with the custom kernels off and @artist-ts/runtime's tfjs-node
 * rule check on, in both weight-gradient modes ('kernel' is what `auto` picks on tensorflow).
 */
import {
  expectNoLeakedTensors,
  useStockBackend,
  withKernelRuleCheck,
} from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { setConvGradMode } from '../src/conv';
import { InMemoryImageDataset } from '../src/dataset';
import { toModelInput } from '../src/images';
import { generateShapeImages } from '../src/synthetic';
import { VqganTrainer } from '../src/trainer';
import { Vqgan } from '../src/vqgan';
import { MICRO } from './helpers';

const data = () => new InMemoryImageDataset(generateShapeImages(4, 8, 'rules'), 8, 8, 3);

describe.each(['cpu', 'wasm'] as const)('VQGAN under tfjs-node kernel rules on %s', (backend) => {
  beforeAll(async () => {
    await useStockBackend(backend);
  });
  afterAll(async () => {
    setConvGradMode('auto');
    await useStockBackend('cpu');
  });

  for (const mode of ['kernel', 'conv'] as const) {
    test(`a training step with the discriminator (conv grad mode '${mode}')`, async () => {
      setConvGradMode(mode);
      const model = Vqgan.create(MICRO, { seed: 1 });
      const trainer = new VqganTrainer(model, data(), {
        batchSize: 2,
        learningRate: 1e-3,
        restartEvery: 0,
        seed: 'rules',
        disc: true,
        discStart: 0,
        discriminator: { nLayers: 1, ndf: 8, inChannels: 3 },
      });
      const { result, kernels } = await withKernelRuleCheck(() => trainer.trainStep());
      expect(Number.isFinite(result.metrics.nll)).toBe(true);
      expect(result.metrics.dLoss).not.toBeNull();
      expect(kernels.has('Conv2D')).toBe(true);
      await expectNoLeakedTensors(() => withKernelRuleCheck(() => trainer.trainStep()));
      trainer.dispose();
      model.dispose();
    });
  }

  test('encode and decode', async () => {
    const model = Vqgan.create(MICRO, { seed: 2 });
    const x = toModelInput(data().batch([0, 1]), 3);
    const { result } = await withKernelRuleCheck(() => {
      const codes = model.encode(x);
      const rec = model.decode(codes);
      codes.dispose();
      return rec;
    });
    expect(result.shape).toEqual([2, 8, 8, 3]);
    tf.dispose([x, result]);
    model.dispose();
  });
});
