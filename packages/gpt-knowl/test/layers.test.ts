import { initRuntime } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { gelu, geluLinear, linear, residualAdd } from '../src/layers';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

/** Value and gradients of sum(f(x, w, b) * r) for fixed random x [5, 3], w [3, 4], b [4], r. */
function valueAndGrads(f: (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor) {
  return tf.tidy(() => {
    const x = tf.randomNormal([5, 3], 0, 1, 'float32', 1) as tf.Tensor2D;
    const w = tf.randomNormal([3, 4], 0, 1, 'float32', 2) as tf.Tensor2D;
    const b = tf.randomNormal([4], 0, 1, 'float32', 3) as tf.Tensor1D;
    const r = tf.randomNormal([5, 4], 0, 1, 'float32', 4);
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) =>
      tf.sum(tf.mul(f(xs[0] as tf.Tensor2D, xs[1] as tf.Tensor2D, xs[2] as tf.Tensor1D), r)),
    )([x, w, b]);
    return [value, ...grads].map((t) => Array.from(t.dataSync()));
  });
}

describe('linear and residualAdd: the stock ops without their saved outputs', () => {
  test('linear: the value and gradients of tf.fused.matMul, bit for bit, no tensor leaked', async () => {
    await expectNoLeakedTensors(async () => {
      const stock = valueAndGrads((x, w, b) => tf.fused.matMul({ a: x, b: w, bias: b }));
      expect(valueAndGrads((x, w, b) => linear(x, w, b))).toEqual(stock);
    });
  });

  test('geluLinear: the value and gradients of linear(gelu(z)), bit for bit, under tf.grads too', async () => {
    await expectNoLeakedTensors(async () => {
      const stock = valueAndGrads((x, w, b) => linear(gelu(x) as tf.Tensor2D, w, b));
      expect(valueAndGrads((x, w, b) => geluLinear(x, w, b))).toEqual(stock);
    });
  });

  test('residualAdd: the value and gradients of tf.add, bit for bit; unequal shapes throw', async () => {
    await expectNoLeakedTensors(async () => {
      const stock = valueAndGrads((x, w, b) => tf.add(tf.matMul(x, w), tf.mul(b, 2)));
      const ours = valueAndGrads((x, w, b) =>
        residualAdd(tf.matMul(x, w), tf.tile(tf.reshape(tf.mul(b, 2), [1, 4]), [5, 1])),
      );
      expect(ours).toEqual(stock);
      expect(() => tf.tidy(() => residualAdd(tf.ones([2, 3]), tf.ones([3])))).toThrow(
        'residualAdd: shapes [2,3] and [3] differ',
      );
    });
  });

  test('a gradient tape keeps neither output alive', () => {
    const x = tf.ones([64, 32]) as tf.Tensor2D;
    const w = tf.variable(tf.ones([32, 32]));
    const b = tf.variable(tf.zeros([32]));
    // bytes held once the forward pass is done: the stock ops keep each layer's output
    const held = (step: (h: tf.Tensor2D) => tf.Tensor2D) => {
      let bytes = 0;
      const { value, grads } = tf.variableGrads(() => {
        let h = x;
        for (let i = 0; i < 4; i++) h = tf.tidy(() => step(h));
        bytes = tf.memory().numBytes;
        return tf.sum(h);
      }, [w, b]);
      tf.dispose([value, ...Object.values(grads)]);
      return bytes;
    };
    const stock = held((h) => tf.add(h, tf.fused.matMul({ a: h, b: w, bias: b })) as tf.Tensor2D);
    const ours = held((h) => residualAdd(h, linear(h, w, b)) as tf.Tensor2D);
    // at least one [64, 32] output per layer fewer
    expect(stock - ours).toBeGreaterThanOrEqual(4 * 64 * 32 * 4);
    tf.dispose([x, w, b]);
  });
});
