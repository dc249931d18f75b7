/**
 * Regressions on the default training backend (wasm, with the native kernels when built). The
 * wasm OneHot kernel of tfjs 4.22.0 writes int32 bit patterns into float32 outputs, which made the
 * quantizer return ~0 latents and freeze the codebook there while every cpu test passed.
 */
import { initRuntime, WasmHeapExhaustedError } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { InMemoryImageDataset } from '../src/dataset';
import { psnr, toModelInput } from '../src/images';
import { quantize } from '../src/quantizer';
import { generateShapeImages } from '../src/synthetic';
import { VqganTrainer } from '../src/trainer';
import { Vqgan } from '../src/vqgan';
import { kmeansOnSeparatedClusters, MICRO } from './helpers';

beforeAll(async () => {
  await initRuntime({ backend: 'wasm' });
});

test('runs on the wasm backend', () => {
  expect(tf.getBackend()).toBe('wasm');
});

test('quantize returns codebook rows and moves the codebook (wasm)', () => {
  const z = tf.tensor4d([0.1, 0.9, -0.5, 0.2, 0.3, -0.4, 1.2, 1.0], [1, 2, 2, 2]);
  const e = tf.tensor2d([0, 1, -0.6, 0, 0.5, -0.5], [3, 2]);
  const q = quantize(z, e, 0.25, true);
  expect(Array.from(q.indices.dataSync())).toEqual([0, 1, 2, 0]);
  expectArraysClose(q.zq, [0, 1, -0.6, 0, 0.5, -0.5, 0, 1]);
  // same expected codebook gradient as the cpu test (legacy beta on the codebook term)
  const gE = tf.grad((c: tf.Tensor) => quantize(z, c as tf.Tensor2D, 0.25, true).loss)(e);
  expectArraysClose(gE, [-0.08125, 0.00625, -0.00625, -0.0125, 0.0125, -0.00625], { atol: 1e-6 });
  tf.dispose([z, e, q.zq, q.indices, q.loss, q.codebookLoss, q.commitLoss, gE]);
});

test('k-means finds separated clusters (wasm)', () => {
  const [found, expected] = kmeansOnSeparatedClusters();
  expect(found).toEqual(expected);
});

test('a small VQGAN overfits 4 images through the quantizer (wasm)', () => {
  const images = new InMemoryImageDataset(generateShapeImages(4, 16, 'wasm-overfit'), 16, 16);
  const model = Vqgan.create(
    {
      resolution: 16,
      ch: 16,
      chMult: [1, 2],
      numResBlocks: 1,
      attnResolutions: [],
      zChannels: 16,
      embedDim: 16,
      nEmbed: 64,
      numGroups: 4,
      legacyBeta: false,
    },
    { seed: 1 },
  );
  const trainer = new VqganTrainer(model, images, {
    batchSize: 4,
    learningRate: 2e-3,
    kmeansInit: true,
    kmeansBatches: 1,
    restartEvery: 0,
    seed: 'wasm-overfit',
  });
  const x = toModelInput(images.batch([0, 1, 2, 3]), 3);
  const before = tf.tidy(() => psnr(x, model.reconstruct(x)));
  for (let i = 0; i < STEPS; i++) trainer.trainStep();
  const rec = model.reconstruct(x);
  const after = psnr(x, rec);
  // The old wasm quantizer fed ~0 to the decoder: the reconstruction could not depend on the
  // image and stayed near the mean-image PSNR (11.4 dB here).
  expect(after).toBeGreaterThan(THRESHOLD_DB);
  expect(after).toBeGreaterThan(before + 5);
  tf.dispose([x, rec]);
  trainer.dispose();
  model.dispose();
});

test('a training step leaks no tensors (wasm)', async () => {
  const model = Vqgan.create(MICRO, { seed: 2 });
  const trainer = new VqganTrainer(
    model,
    new InMemoryImageDataset(generateShapeImages(4, 8, 'leak'), 8, 8),
    { batchSize: 2, restartEvery: 1, seed: 'leak' },
  );
  await expectNoLeakedTensors(() => {
    trainer.trainStep();
  }, 'trainStep (wasm)');
  trainer.dispose();
  model.dispose();
});

const STEPS = 60;
// Measured 23.0 dB after 60 steps (mean-image PSNR of this set: 11.4 dB).
const THRESHOLD_DB = 16;

test("the wasm backend's abort in a training step becomes an error that says what to change", async () => {
  const model = Vqgan.create(MICRO, { seed: 2 });
  const data = new InMemoryImageDataset(generateShapeImages(2, 8, 'test-shapes'), 8, 8, 3);
  // what tfjs-backend-wasm throws when its heap cannot grow (not reachable at test sizes)
  const abort = Object.assign(new Error('Aborted(). Build with -sASSERTIONS for more info.'), {
    name: 'RuntimeError',
  });
  data.batch = () => {
    throw abort;
  };
  const trainer = new VqganTrainer(model, data, { batchSize: 2, restartEvery: 0, seed: 1 });
  let thrown: unknown;
  await expectNoLeakedTensors(() => {
    try {
      trainer.trainStep();
    } catch (e) {
      thrown = e;
    }
  }, 'failed trainStep');
  expect(thrown).toBeInstanceOf(WasmHeapExhaustedError);
  expect((thrown as Error).message).toMatch(
    /^VQGAN training step at batch 2 of 8x8 images: the wasm backend aborted, .* past 4\.00 GiB \(.* GiB of tensors still allocated .*\); .* Use a smaller batchSize or image size/,
  );
  expect((thrown as Error).cause).toBe(abort);
  // any other error passes through untouched
  const other = new Error('bad batch');
  data.batch = () => {
    throw other;
  };
  expect(() => trainer.trainStep()).toThrow(other);
  trainer.dispose();
  model.dispose();
});
