import { initRuntime } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import type { FeatureExtractor } from '../src/extractor';
import { loadNsfwjsInceptionV3, validateNsfwjsInceptionConfig } from '../src/nsfwjs_inception';

// The real pretrained InceptionV3 (22M parameters). The stock cpu backend needs ~15 s per small
// image on this class of machine, so this file runs on wasm (also what the runtime's 'auto' picks).
let ex: FeatureExtractor;
beforeAll(async () => {
  await initRuntime({ backend: 'wasm' });
  ex = await loadNsfwjsInceptionV3({ imageSize: 107 });
});
afterAll(() => ex?.dispose());

/** Two small deterministic images: a gradient and a checkerboard, uint8 -> [0, 1]. */
function twoImages(): tf.Tensor4D {
  const h = 48;
  const data = new Float32Array(2 * h * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < h; x++)
      for (let c = 0; c < 3; c++) {
        data[(y * h + x) * 3 + c] = Math.round((255 * (x + y * c)) / (3 * h)) / 255;
        data[h * h * 3 + (y * h + x) * 3 + c] = ((x >> 3) + (y >> 3)) % 2 === c % 2 ? 1 : 0.2;
      }
  return tf.tensor4d(data, [2, h, h, 3]);
}

test('loads offline from the installed nsfwjs package with its fingerprint', () => {
  expect(ex.protocol).toMatchObject({
    extractor: 'nsfwjs-4.4.0-inception-v3-mixed10-avg',
    featureDim: 2048,
    imageSize: 107,
    comparableWithPublished: false,
  });
  // sha256 of the 22,360,869 bytes of uint8 weights shipped in nsfwjs 4.4.0 (identical in 4.3.0).
  expect(ex.protocol.weightsHash).toBe(
    'sha256:8a457f3fdec7db18b16e44323454db0eaeb8f314eda0046b2e293e58a5bfabf4',
  );
});

test('features: [2, 2048], non-negative, distinct per image, deterministic, no leaks', async () => {
  const x = twoImages();
  const f = ex.features(x);
  expect(f.shape).toEqual([2, 2048]);
  const a = f.dataSync() as Float32Array;
  f.dispose();
  expect(a.every((v) => Number.isFinite(v) && v >= 0)).toBe(true); // averaged ReLU outputs
  let diff = 0;
  for (let i = 0; i < 2048; i++) diff += Math.abs(a[i]! - a[2048 + i]!);
  expect(diff).toBeGreaterThan(1);
  let again: Float32Array | null = null;
  await expectNoLeakedTensors(() => {
    const g = ex.features(x);
    again = g.dataSync() as Float32Array;
    return g;
  });
  expectArraysClose(again!, a, { rtol: 0, atol: 0 });
  x.dispose();
});

test('config validation names the field', () => {
  expect(() => validateNsfwjsInceptionConfig({ imageSize: 50 })).toThrow(
    /NsfwjsInceptionConfig\.imageSize/,
  );
});
