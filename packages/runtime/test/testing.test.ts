import * as tf from '@tensorflow/tfjs';
import { initRuntime } from '../src/backend';
import { expectArraysClose, expectNoLeakedTensors } from '../src/testing';

describe('testing helpers', () => {
  beforeAll(async () => {
    await initRuntime({ backend: 'cpu' });
  });

  it('expectNoLeakedTensors catches a leak and passes clean code', async () => {
    const kept: tf.Tensor[] = [];
    await expect(
      expectNoLeakedTensors(() => {
        kept.push(tf.ones([2]));
      }, 'leaky'),
    ).rejects.toThrow('leaky leaked 1 tensor(s)');
    tf.dispose(kept);
    await expectNoLeakedTensors(() => tf.tidy(() => tf.add(tf.ones([2]), 1)));
  });

  it('expectArraysClose checks shape, length and tolerance', () => {
    expectArraysClose([1, 2, 3], new Float32Array([1, 2, 3.000001]));
    expect(() => expectArraysClose([1, 2], [1, 2.1])).toThrow(/index 1: actual 2, expected 2.1/);
    expect(() => expectArraysClose([1], [1, 2])).toThrow(/lengths differ/);
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([3, 2]);
    expect(() => expectArraysClose(a, b)).toThrow(/shapes differ/);
    tf.dispose([a, b]);
  });
});
