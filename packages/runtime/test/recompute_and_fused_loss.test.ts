import * as tf from '@tensorflow/tfjs';
import { initRuntime } from '../src/backend';
import { useStockBackend } from '../src/kernel_rule_check';
import { linearSoftmaxCrossEntropy, sparseSoftmaxCrossEntropy } from '../src/losses';
import { AdamW, clipByGlobalNorm, clipScale, globalNorm } from '../src/optim';
import { recomputed } from '../src/recompute';
import { expectArraysClose, expectNoLeakedTensors } from '../src/testing';

const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

/** Value and gradients of `f` with respect to `xs`, as plain arrays. */
function valueAndGrads(f: () => tf.Scalar, xs: tf.Variable[]) {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(f, xs);
    return [Array.from(value.dataSync()), ...xs.map((x) => Array.from(grads[x.name].dataSync()))];
  });
}

describe.each(['native', 'stock'] as const)('%s kernels', (kind) => {
  beforeAll(async () => {
    if (kind === 'native') await initRuntime({ backend: 'cpu' });
    else await useStockBackend('cpu');
  });

  test('recomputed: the same gradients as the plain function, nothing kept, nothing leaked', async () => {
    const x = tf.variable(rand([6, 4], 1));
    const w = tf.variable(rand([4, 4], 2));
    const b = tf.variable(rand([4], 3));
    const block = (input: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) =>
      tf.add(input, tf.tanh(tf.add(tf.matMul(input as tf.Tensor2D, weight as tf.Tensor2D), bias)));
    // two blocks in a row, the second one twice (its input gets two gradients)
    const loss = (wrap: boolean) => () => {
      const f = (i: tf.Tensor) => (wrap ? recomputed(block, [i, w, b]) : block(i, w, b));
      const h = f(x);
      return tf.sum(tf.mul(f(h), tf.add(h, 1))) as tf.Scalar;
    };
    const plain = valueAndGrads(loss(false), [x, w, b]);
    const again = valueAndGrads(loss(true), [x, w, b]);
    for (const [i, p] of plain.entries())
      expectArraysClose(again[i], p, { rtol: 1e-6, atol: 1e-6 });
    // no tape: it is the plain function
    expectArraysClose(
      tf.tidy(() => recomputed(block, [x, w, b])),
      tf.tidy(() => block(x, w, b)),
      { rtol: 0, atol: 0 },
    );
    await expectNoLeakedTensors(() => valueAndGrads(loss(true), [x, w, b]) && undefined);
    tf.dispose([x, w, b]);
  });

  test.each([1, 3, 5, 64])(
    'linearSoftmaxCrossEntropy in chunks of %i rows: the loss and gradients of the logits path',
    async (chunk) => {
      const x = tf.variable(rand([5, 3], 4));
      const w = tf.variable(rand([3, 7], 5));
      const labels = tf.tensor1d([0, 6, 3, 3, 1], 'int32');
      const plain = valueAndGrads(
        () => sparseSoftmaxCrossEntropy(tf.matMul(x, w), labels) as tf.Scalar,
        [x, w],
      );
      const fused = valueAndGrads(() => linearSoftmaxCrossEntropy(x, w, labels, chunk), [x, w]);
      for (const [i, p] of plain.entries()) {
        expectArraysClose(fused[i], p, { rtol: 1e-5, atol: 1e-6 });
      }
      // scaled upstream gradient
      const scaled = valueAndGrads(
        () => tf.mul(linearSoftmaxCrossEntropy(x, w, labels, chunk), 3) as tf.Scalar,
        [x, w],
      );
      expectArraysClose(
        scaled[1],
        plain[1].map((g) => 3 * g),
        { rtol: 1e-5, atol: 1e-6 },
      );
      // outside a tape: only the value, nothing kept
      await expectNoLeakedTensors(() => linearSoftmaxCrossEntropy(x, w, labels, chunk));
      await expectNoLeakedTensors(
        () =>
          valueAndGrads(() => linearSoftmaxCrossEntropy(x, w, labels, chunk), [x, w]) && undefined,
      );
      tf.dispose([x, w, labels]);
    },
  );
});

describe('linearSoftmaxCrossEntropy arguments', () => {
  test('shapes, label dtype and chunk size are checked', () => {
    const x = tf.zeros([2, 3]) as tf.Tensor2D;
    const w = tf.zeros([3, 4]) as tf.Tensor2D;
    expect(() => linearSoftmaxCrossEntropy(x, w, tf.tensor1d([0, 1]))).toThrow(/int32 labels/);
    expect(() => linearSoftmaxCrossEntropy(x, w, tf.tensor1d([0], 'int32'))).toThrow(
      /labels \[1\]/,
    );
    expect(() => linearSoftmaxCrossEntropy(x, w, tf.tensor1d([0, 1], 'int32'), 0)).toThrow(
      /chunkRows must be a positive integer/,
    );
  });
});

describe('gradient clipping inside the update', () => {
  beforeAll(async () => {
    await initRuntime({ backend: 'cpu' });
  });

  test('applyGradients with gradScale equals applying the clipped gradients', () => {
    const grads = { a: tf.tensor1d([3, -4]), b: tf.tensor2d([[12]]) }; // norm 13
    expect(globalNorm(grads)).toBeCloseTo(13, 5);
    expect(clipScale(13, 1)).toBeCloseTo(1 / (13 + 1e-6), 12);
    expect(clipScale(0.5, 1)).toBe(1);
    const run = (scaleInside: boolean) => {
      const vars = tf.tidy(() => ({
        a: tf.variable(tf.tensor1d([1, 2])),
        b: tf.variable(tf.tensor2d([[-1]])),
      }));
      const opt = new AdamW({ learningRate: 0.1 });
      for (let i = 0; i < 3; i++) {
        if (scaleInside) {
          opt.applyGradients(vars, grads, { gradScale: clipScale(globalNorm(grads), 1) });
        } else {
          const { grads: clipped } = clipByGlobalNorm(grads, 1);
          opt.applyGradients(vars, clipped);
          tf.dispose(Object.values(clipped));
        }
      }
      const out = [...vars.a.dataSync(), ...vars.b.dataSync()];
      tf.dispose(Object.values(vars));
      opt.dispose();
      return out;
    };
    const before = tf.memory().numTensors;
    expect(run(true)).toEqual(run(false));
    expect(tf.memory().numTensors).toBe(before);
    const opt = new AdamW();
    expect(() => opt.applyGradients({}, {}, { gradScale: Number.NaN })).toThrow(/gradScale/);
    tf.dispose(Object.values(grads));
  });
});
