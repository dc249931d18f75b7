/**
 * The FID Inception's feature extraction (resize, 94 convs, pools) calls only kernels, with only
 * attributes, that tfjs-node (the `tensorflow` backend, the GPU path) accepts: run on wasm with the
 * custom kernels off and @artist-ts/runtime's tfjs-node rule check on. Forward only, so the calls
 * do not depend on the backend; stock wasm (XNNPACK convs) is the fast one without the addon.
 */
import { Rng } from '@artist-ts/core/rng';
import { useStockBackend, withKernelRuleCheck } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { FidInceptionV3 } from '../src/fid_inception';

describe('FID Inception under tfjs-node kernel rules on wasm', () => {
  beforeAll(async () => {
    await useStockBackend('wasm');
  });
  afterAll(async () => {
    await useStockBackend('cpu');
  });

  test('pool3 features of an odd-sized image (every conv and pool of the trunk)', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const rng = new Rng('rules');
    const x = tf.tensor4d(rng.fillUniform(new Float32Array(40 * 48 * 3), 0, 1), [1, 40, 48, 3]);
    const net = FidInceptionV3.randomInit(new Rng('fid-rules'), { imageSize: 75 });
    const { result, kernels } = await withKernelRuleCheck(() => net.features(x));
    expect(result.shape).toEqual([1, 2048]);
    expect(kernels.get('Conv2D')).toBe(94);
    expect(kernels.has('AvgPool') && kernels.has('MaxPool')).toBe(true);
    tf.dispose([x, result]);
    net.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore); // no tensor leaked
  });
});
