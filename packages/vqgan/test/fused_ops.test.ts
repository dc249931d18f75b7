import { AdamW, initRuntime } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { upsample, upsampleReference } from '../src/blocks';
import { getConvGradMode, resolvedConvGradMode, setConvGradMode } from '../src/conv';
import { FlatAdam } from '../src/flat_adam';
import { groupNorm, groupNormSwish, swish } from '../src/group_norm';
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

describe('FlatAdam', () => {
  test("follows the runtime's AdamW (weightDecay 0) and round-trips its slots", () => {
    const shapes: [string, number[]][] = [
      ['a', [2, 3]],
      ['b', [4]],
      ['c', [1, 1, 2, 2]],
    ];
    const make = () =>
      Object.fromEntries(
        shapes.map(([n, s], i) => [n, tf.variable(tf.randomNormal(s, 0, 1, 'float32', i + 1))]),
      );
    const cfg = { learningRate: 0.01, beta1: 0.5, beta2: 0.9, epsilon: 1e-8 };
    const va = make();
    const vb = make();
    const ref = new AdamW({ ...cfg, weightDecay: 0 });
    const flat = new FlatAdam(cfg, shapes);
    for (let step = 0; step < 4; step++) {
      const grads = Object.fromEntries(
        shapes.map(([n, s], i) => [n, tf.randomNormal(s, 0, 1, 'float32', 100 * step + i)]),
      );
      ref.applyGradients(va, grads);
      flat.applyGradients(vb, grads);
      tf.dispose(Object.values(grads));
    }
    for (const [n] of shapes) expectArraysClose(vb[n], va[n], { atol: 1e-6, rtol: 1e-5 });
    // slots under AdamW's names; restoring them into a fresh optimizer continues identically
    const slots = flat.getWeights();
    expect(slots.map((s) => s.name).sort()).toEqual(
      ['step', 'm/a', 'm/b', 'm/c', 'v/a', 'v/b', 'v/c'].sort(),
    );
    const refSlots = ref.getWeights();
    for (const s of refSlots) {
      const mine = slots.find((t) => t.name === s.name);
      expect(mine).toBeDefined();
      expectArraysClose(mine?.tensor as tf.Tensor, s.tensor, { atol: 1e-6, rtol: 1e-5 });
    }
    const again = new FlatAdam(cfg, shapes);
    again.setWeights(slots);
    expect(again.step).toBe(4);
    const vc = Object.fromEntries(shapes.map(([n]) => [n, tf.variable(vb[n].clone())]));
    const g = Object.fromEntries(shapes.map(([n, s]) => [n, tf.ones(s)]));
    flat.applyGradients(vb, g);
    again.applyGradients(vc, g);
    for (const [n] of shapes)
      expect(Array.from(vc[n].dataSync())).toEqual(Array.from(vb[n].dataSync()));
    expect(() => flat.applyGradients(vb, { a: g.a, b: g.b })).toThrow(
      /no gradient for parameter 'c'/,
    );
    tf.dispose([...slots, ...refSlots].map((s) => s.tensor));
    tf.dispose([
      ...Object.values(va),
      ...Object.values(vb),
      ...Object.values(vc),
      ...Object.values(g),
    ]);
    ref.dispose();
  });
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
