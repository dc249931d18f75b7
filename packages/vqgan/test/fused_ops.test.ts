import { GROUP_NORM_KERNEL, initRuntime } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { upsample, upsampleReference } from '../src/blocks';
import { getConvGradMode, resolvedConvGradMode, setConvGradMode } from '../src/conv';
import { groupNorm, groupNormInference, groupNormSwish, swish } from '../src/group_norm';
import { oneHotFloat } from '../src/quantizer';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

/** GroupNorm written with autodiff-able ops (tf.moments), the reference for the fused gradient. */
function groupNormAutodiff(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, groups: number): tf.Tensor {
  const [n, h, w, c] = x.shape;
  const xg = tf.reshape(x, [n, h * w, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 3], true);
  const xn = tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, 1e-6)));
  return tf.add(tf.mul(tf.reshape(xn, [n, h, w, c]), g), b);
}

describe('fused GroupNorm (+ swish) gradient', () => {
  test.each([
    ['groupNorm', false],
    ['groupNormSwish', true],
  ] as const)('%s: values and gradients match autodiff of the plain formula', (_n, withSwish) => {
    const x = tf.randomNormal([2, 3, 4, 6], 0.5, 2, 'float32', 1);
    const gamma = tf.randomNormal([6], 1, 0.3, 'float32', 2);
    const beta = tf.randomNormal([6], 0, 0.3, 'float32', 3);
    const r = tf.randomNormal([2, 3, 4, 6], 0, 1, 'float32', 4);
    const ref = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const y = groupNormAutodiff(a, g, b, 3);
      return withSwish ? swish(y) : y;
    };
    const fused = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      (withSwish ? groupNormSwish : groupNorm)(
        a as tf.Tensor4D,
        g as tf.Tensor1D,
        b as tf.Tensor1D,
        3,
        1e-6,
      );
    const yRef = ref(x, gamma, beta);
    const y = fused(x, gamma, beta);
    expectArraysClose(y, yRef, { atol: 1e-5 });
    const gRef = tf.grads((a, g, b) => tf.sum(tf.mul(ref(a, g, b), r)))([x, gamma, beta]);
    const gGot = tf.grads((a, g, b) => tf.sum(tf.mul(fused(a, g, b), r)))([x, gamma, beta]);
    for (let i = 0; i < 3; i++) expectArraysClose(gGot[i], gRef[i], { atol: 1e-5, rtol: 1e-4 });
    tf.dispose([x, gamma, beta, r, yRef, y, ...gRef, ...gGot]);
  });

  test('does not leak', async () => {
    const x = tf.randomNormal([1, 2, 2, 4]);
    const g = tf.ones([4]);
    const b = tf.zeros([4]);
    await expectNoLeakedTensors(
      () =>
        tf.grads((a, c, d) =>
          tf.sum(groupNormSwish(a as tf.Tensor4D, c as tf.Tensor1D, d as tf.Tensor1D, 2, 1e-6)),
        )([x, g, b]),
      'groupNormSwish grads',
    );
    tf.dispose([x, g, b]);
  });
});

describe('GroupNorm (+ swish) for inference', () => {
  test.each([false, true])(
    'swish %s: equals the training op, with the native kernel and without it',
    async (withSwish) => {
      const x = tf.randomNormal([2, 5, 6, 8], 1.5, 2, 'float32', 5) as tf.Tensor4D;
      const gamma = tf.randomNormal([8], 1, 0.3, 'float32', 6) as tf.Tensor1D;
      const beta = tf.randomNormal([8], 0, 0.3, 'float32', 7) as tf.Tensor1D;
      const ref = (withSwish ? groupNormSwish : groupNorm)(x, gamma, beta, 4, 1e-6);
      // the native kernel is registered on cpu when the addon is built (initRuntime above)
      const native = tf.getKernel(GROUP_NORM_KERNEL, 'cpu') !== undefined;
      const got = groupNormInference(x, gamma, beta, 4, 1e-6, withSwish);
      expectArraysClose(got, ref, { atol: 1e-5 });
      await expectNoLeakedTensors(
        () => groupNormInference(x, gamma, beta, 4, 1e-6, withSwish).dispose(),
        'groupNormInference',
      );
      expect(() => groupNormInference(x, gamma, beta, 3, 1e-6, withSwish)).toThrow(
        /channels 8 are not divisible by groups 3/,
      );
      // without the kernel: the training op itself
      await initRuntime({ backend: 'cpu', native: false });
      expect(tf.getKernel(GROUP_NORM_KERNEL, 'cpu')).toBeUndefined();
      const stock = groupNormInference(x, gamma, beta, 4, 1e-6, withSwish);
      expectArraysClose(stock, ref, { atol: 1e-6 });
      await initRuntime({ backend: 'cpu' });
      expect(tf.getKernel(GROUP_NORM_KERNEL, 'cpu') !== undefined).toBe(native);
      tf.dispose([x, gamma, beta, ref, got, stock]);
    },
  );
});

test('Upsample for inference (nearest x2 copy + 3x3 conv) equals the reference', async () => {
  const x = tf.randomNormal([2, 5, 4, 9], 0, 1, 'float32', 1) as tf.Tensor4D;
  const p = {
    weight: tf.variable(
      tf.randomNormal([3, 3, 9, 10], 0, 0.3, 'float32', 2),
    ) as tf.Variable<tf.Rank.R4>,
    bias: tf.variable(tf.randomNormal([10], 0, 1, 'float32', 3)) as tf.Variable<tf.Rank.R1>,
  };
  const y = upsample(p, x, true);
  const yRef = upsampleReference(p, x);
  expect(y.shape).toEqual([2, 10, 8, 10]);
  expectArraysClose(y, yRef, { atol: 1e-4 });
  await expectNoLeakedTensors(() => upsample(p, x, true).dispose(), 'upsample for inference');
  tf.dispose([x, p.weight, p.bias, y, yRef]);
});

describe('Upsample as a folded transposed conv', () => {
  test.each(['conv', 'kernel'] as const)(
    "'%s' gradient mode: equals nearest x2 + conv3x3 in values and gradients",
    (mode) => {
      const x = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.variable(
        tf.randomNormal([3, 3, 5, 6], 0, 1, 'float32', 2),
      ) as tf.Variable<tf.Rank.R4>;
      const b = tf.variable(tf.randomNormal([6], 0, 1, 'float32', 3)) as tf.Variable<tf.Rank.R1>;
      const r = tf.randomNormal([2, 6, 8, 6], 0, 1, 'float32', 4);
      setConvGradMode(mode);
      try {
        const f =
          (up: typeof upsample) =>
          (...a: tf.Tensor[]) =>
            tf.sum(
              tf.mul(
                up(
                  {
                    weight: a[1] as tf.Variable<tf.Rank.R4>,
                    bias: a[2] as tf.Variable<tf.Rank.R1>,
                  },
                  a[0] as tf.Tensor4D,
                ),
                r,
              ),
            );
        const y = upsample({ weight: w, bias: b }, x);
        const yRef = upsampleReference({ weight: w, bias: b }, x);
        expect(y.shape).toEqual([2, 6, 8, 6]);
        expectArraysClose(y, yRef, { atol: 1e-4 });
        const g = tf.grads(f(upsample))([x, w, b]);
        const gRef = tf.grads(f(upsampleReference))([x, w, b]);
        for (let i = 0; i < 3; i++) expectArraysClose(g[i], gRef[i], { atol: 1e-4, rtol: 1e-4 });
        tf.dispose([y, yRef, ...g, ...gRef]);
      } finally {
        setConvGradMode('auto');
        tf.dispose([x, w, b, r]);
      }
    },
  );
});

test("conv gradient modes: explicit modes resolve to themselves, 'auto' to one of them", () => {
  setConvGradMode('kernel');
  expect(resolvedConvGradMode()).toBe('kernel');
  setConvGradMode('conv');
  expect(resolvedConvGradMode()).toBe('conv');
  setConvGradMode('auto');
  expect(getConvGradMode()).toBe('auto');
  expect(['conv', 'kernel']).toContain(resolvedConvGradMode());
  expect(() => setConvGradMode('fast' as 'auto')).toThrow(/'auto', 'conv' or 'kernel'/);
});

describe('oneHotFloat', () => {
  test('exact 0/1 float32 rows; out-of-range indices are named', () => {
    const idx = tf.tensor1d([2, 0, 1], 'int32');
    const oh = oneHotFloat(idx, 3);
    expect(oh.dtype).toBe('float32');
    expect(Array.from(oh.dataSync())).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
    const bad = tf.tensor1d([0, 3], 'int32');
    expect(() => oneHotFloat(bad, 3)).toThrow(/index 3 at row 1/);
    tf.dispose([idx, oh, bad]);
  });
});
