import { initRuntime } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { upsampleNearest2x } from '../src/blocks';
import { conv2d, type Pad4, setConvGradMode } from '../src/conv';
import { groupNorm } from '../src/group_norm';
import { quantize, stopGradient, straightThrough } from '../src/quantizer';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

describe('groupNorm', () => {
  test('matches PyTorch GroupNorm (values computed with numpy)', () => {
    const [b, h, w, c] = [2, 2, 3, 4];
    const data: number[] = [];
    for (let i = 0; i < b; i++)
      for (let j = 0; j < h; j++)
        for (let k = 0; k < w; k++)
          for (let l = 0; l < c; l++) data.push((((i * 7 + j * 5 + k * 3 + l * 11) % 13) - 6) / 4);
    const x = tf.tensor4d(data, [b, h, w, c]);
    const y = groupNorm(x, tf.tensor1d([1, 2, 0.5, -1]), tf.tensor1d([0, 0.1, -0.2, 0.3]), 2, 1e-6);
    // python3: PyTorch GroupNorm semantics on NCHW with numpy (float64), rounded to 1e-6
    const expected = [
      -1.606663, 3.217405, 0.180574, 0.032569, -0.743381, -2.537805, 0.550863, -0.708008, 0.1199,
      -0.811242, -0.683432, 1.760583, -0.16786, -1.386763, -0.806862, -1.201726, 0.695421, 0.3398,
      -0.436573, 1.266865, 1.558703, 2.066363, -0.066285, 0.526288, 0.226288, -0.434861, -0.691591,
      1.858703, 0.966865, 1.046293, -0.25995, 0.995421, -1.501726, 2.527448, 0.171691, 0.13214,
      1.460583, 2.03373, 0.02781, 0.4199, -1.008008, -2.903453, 0.459451, -0.443381, -0.267431,
      -1.422298, -0.979351, -1.306663,
    ];
    expectArraysClose(y, expected, { atol: 2e-5, rtol: 1e-5 });
    tf.dispose([x, y]);
  });
});

describe('upsampleNearest2x', () => {
  test('duplicates rows and columns, and its gradient sums 2x2 blocks for batch > 1', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1]);
    const y = upsampleNearest2x(x);
    expect(y.shape).toEqual([2, 4, 4, 1]);
    expect(Array.from(y.dataSync()).slice(0, 16)).toEqual([
      1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4,
    ]);
    const w = tf.tensor4d(
      Array.from({ length: 32 }, (_, i) => i),
      [2, 4, 4, 1],
    );
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(upsampleNearest2x(t as tf.Tensor4D), w)))(x);
    // block sums of 0..31 laid out 4x4 per image
    expect(Array.from(g.dataSync())).toEqual([10, 18, 42, 50, 74, 82, 106, 114]);
    tf.dispose([x, y, w, g]);
  });
});

describe('conv2d: PyTorch-style pads on valid/same kernels, and the fast weight gradient', () => {
  const cases: [string, number, number, Pad4, number][] = [
    ['3x3 s1 p1', 3, 1, [1, 1, 1, 1], 6],
    ['3x3 s2 pad right/bottom (Downsample)', 3, 2, [0, 1, 0, 1], 6],
    ['3x3 s2 pad right/bottom, odd input', 3, 2, [0, 1, 0, 1], 7],
    ['4x4 s2 p1 (PatchGAN)', 4, 2, [1, 1, 1, 1], 8],
    ['4x4 s2 p1, odd input', 4, 2, [1, 1, 1, 1], 7],
    ['4x4 s1 p1 (PatchGAN)', 4, 1, [1, 1, 1, 1], 5],
    ['1x1 s1', 1, 1, [0, 0, 0, 0], 5],
  ];
  test.each(cases)(
    '%s: values and gradients equal the stock explicit-pad conv in both modes',
    (_name, k, stride, pad, size) => {
      const x = tf.randomNormal([2, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      // a trainable variable takes the fast path (constant kernels use tfjs's gradient)
      const w = tf.variable(
        tf.randomNormal([k, k, 3, 4], 0, 1, 'float32', 2),
      ) as tf.Variable<tf.Rank.R4>;
      const b = tf.randomNormal([4], 0, 1, 'float32', 3) as tf.Tensor1D;
      const explicit: [[number, number], [number, number], [number, number], [number, number]] = [
        [0, 0],
        [pad[0], pad[1]],
        [pad[2], pad[3]],
        [0, 0],
      ];
      // the reference: tfjs's own conv with numeric pads (what conv2d used to call)
      const stock = (xi: tf.Tensor4D, wi: tf.Tensor4D, bi: tf.Tensor1D) =>
        tf.add(tf.conv2d(xi, wi, stride, explicit), bi) as tf.Tensor4D;
      const loss =
        (conv: (xi: tf.Tensor4D, wi: tf.Tensor4D, bi: tf.Tensor1D) => tf.Tensor4D) =>
        (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
          tf.sum(tf.square(conv(xi as tf.Tensor4D, wi as tf.Tensor4D, bi as tf.Tensor1D)));
      const ours = (xi: tf.Tensor4D, wi: tf.Tensor4D, bi: tf.Tensor1D) =>
        conv2d(xi, wi, bi, stride, pad);
      const yRef = stock(x, w, b);
      const ref = tf.grads(loss(stock))([x, w, b]);
      try {
        for (const mode of ['kernel', 'conv'] as const) {
          setConvGradMode(mode);
          const y = ours(x, w, b);
          const got = tf.grads(loss(ours))([x, w, b]);
          expectArraysClose(y, yRef, { atol: 1e-5 });
          for (let i = 0; i < 3; i++) expectArraysClose(got[i], ref[i], { rtol: 1e-4, atol: 1e-3 });
          tf.dispose([y, ...got]);
        }
      } finally {
        setConvGradMode('auto');
        tf.dispose([x, w, b, yRef, ...ref]);
      }
    },
  );

  test('does not leak', async () => {
    const x = tf.randomNormal([1, 4, 4, 2]) as tf.Tensor4D;
    const w = tf.variable(tf.randomNormal([3, 3, 2, 2])) as tf.Variable<tf.Rank.R4>;
    await expectNoLeakedTensors(
      () =>
        tf.grads((a: tf.Tensor, c: tf.Tensor) =>
          tf.sum(conv2d(a as tf.Tensor4D, c as tf.Tensor4D, null, 2, [0, 1, 0, 1])),
        )([x, w]),
      'conv2d grads',
    );
    tf.dispose([x, w]);
  });
});

describe('quantizer', () => {
  const z = () => tf.tensor4d([0.1, 0.9, -0.5, 0.2, 0.3, -0.4, 1.2, 1.0], [1, 2, 2, 2]);
  const E = () => tf.tensor2d([0, 1, -0.6, 0, 0.5, -0.5], [3, 2]);

  test('nearest codes and taming legacy loss (numpy: idx [0,1,2,0], mse 0.195, loss 1.25 * mse)', () => {
    const zz = z();
    const e = E();
    const q = quantize(zz, e, 0.25, true);
    expect(Array.from(q.indices.dataSync())).toEqual([0, 1, 2, 0]);
    expect(q.loss.dataSync()[0]).toBeCloseTo(0.24375, 6);
    expect(q.commitLoss.dataSync()[0]).toBeCloseTo(0.195, 6);
    expectArraysClose(q.zq, [0, 1, -0.6, 0, 0.5, -0.5, 0, 1]);
    tf.dispose([zz, e, q.zq, q.indices, q.loss, q.codebookLoss, q.commitLoss]);
  });

  test('straight-through: gradient of z_q w.r.t. z is the identity; sg blocks gradients', () => {
    const zz = z();
    const e = E();
    const w = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    // d/dz sum(w * zq_st) = w (straight-through), the codebook gets nothing through this path
    const [gz, ge] = tf.grads((a: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(quantize(a as tf.Tensor4D, c as tf.Tensor2D, 0.25, true).zq, w)),
    )([zz, e]);
    expectArraysClose(gz, [1, 2, 3, 4, 5, 6, 7, 8]);
    expectArraysClose(ge, [0, 0, 0, 0, 0, 0]);
    // codebook gradient of the quantizer loss: legacy beta on the codebook term:
    // d/dE 0.25 * mean((E[idx] - z)^2) = 0.25 * 2/8 * sum over assigned (E_k - z)
    const gE = tf.grad((c: tf.Tensor) => quantize(zz, c as tf.Tensor2D, 0.25, true).loss)(e);
    const exp = [
      0.0625 * (0 - 0.1 + (0 - 1.2)),
      0.0625 * (1 - 0.9 + (1 - 1.0)),
      0.0625 * (-0.6 + 0.5),
      0.0625 * (0 - 0.2),
      0.0625 * (0.5 - 0.3),
      0.0625 * (-0.5 + 0.4),
    ];
    expectArraysClose(gE, exp, { atol: 1e-6 });
    const gsg = tf.grad((a: tf.Tensor) => tf.sum(stopGradient(a)))(zz);
    expectArraysClose(gsg, [0, 0, 0, 0, 0, 0, 0, 0]);
    const other = tf.onesLike(zz);
    const gst = tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(straightThrough(a, c), 3)))([
      zz,
      other,
    ]);
    expectArraysClose(gst[0], [3, 3, 3, 3, 3, 3, 3, 3]);
    expectArraysClose(gst[1], [0, 0, 0, 0, 0, 0, 0, 0]);
    tf.dispose([zz, e, w, gz, ge, gE, gsg, other, ...gst]);
  });
});
