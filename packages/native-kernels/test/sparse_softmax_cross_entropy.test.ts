import {
  installKernels,
  SPARSE_XENT_KERNEL,
  sparseSoftmaxCrossEntropy,
  uninstallKernels,
} from '../src';
import {
  sparseXentBackwardJs,
  sparseXentForwardJs,
} from '../src/kernels/sparse_softmax_cross_entropy';
import {
  BACKENDS,
  expectClose,
  expectNoLeaks,
  MODES,
  randArray,
  seeded,
  sizeOf,
  take,
  tf,
  useBackend,
  withStock,
} from './helpers';

describe('sparse softmax cross-entropy reference', () => {
  it('matches a hand-computed row', () => {
    // logits [0, ln 2, ln 3]: softmax [1/6, 2/6, 3/6]; label 2 -> loss ln 2, lse ln 6
    const logits = Float32Array.of(0, Math.log(2), Math.log(3));
    const loss = new Float32Array(1);
    const lse = new Float32Array(1);
    sparseXentForwardJs(logits, Int32Array.of(2), loss, lse, 1, 3);
    expect(loss[0]).toBeCloseTo(Math.log(2), 6);
    expect(lse[0]).toBeCloseTo(Math.log(6), 6);
    const d = new Float32Array(3);
    sparseXentBackwardJs(logits, Int32Array.of(2), lse, Float32Array.of(2), d, 1, 3);
    expectClose(d, Float32Array.of(2 / 6, 4 / 6, 2 * (3 / 6 - 1)), 1e-6);
  });

  it('names the bad label', () => {
    const out = new Float32Array(2);
    expect(() =>
      sparseXentForwardJs(new Float32Array(6), Int32Array.of(0, 3), out, out, 2, 3),
    ).toThrow(/labels\[1\] = 3 is outside \[0, 3\)/);
  });
});

/** tf.losses.softmaxCrossEntropy over one-hot labels: the stock reference. */
function stockLoss(logits: tf.Tensor, labels: tf.Tensor, classes: number): tf.Tensor {
  const l2 = logits.reshape([-1, classes]);
  const y = tf.oneHot(labels.reshape([-1]) as tf.Tensor1D, classes);
  return tf.losses.softmaxCrossEntropy(y, l2);
}

describe.each(BACKENDS)('sparseSoftmaxCrossEntropy on %s', (backend) => {
  describe.each(MODES)('$label kernels', ({ options }) => {
    beforeAll(async () => {
      await useBackend(backend);
      installKernels(tf, backend, options);
    });
    afterAll(() => uninstallKernels(tf, backend));

    const cases: { name: string; shape: number[]; scale: number }[] = [
      { name: 'one row, two classes', shape: [1, 2], scale: 1 },
      { name: '[5, 7]', shape: [5, 7], scale: 3 },
      { name: 'rank 3 [2, 3, 11]', shape: [2, 3, 11], scale: 2 },
      { name: 'wide rows [4, 515]', shape: [4, 515], scale: 1 },
      { name: 'large logits (no overflow)', shape: [3, 9], scale: 80 },
    ];

    it.each(cases)('$name: value and gradient match tf.losses.softmaxCrossEntropy', async (c) => {
      const classes = c.shape[c.shape.length - 1]!;
      const batch = c.shape.slice(0, -1);
      const rand = seeded(sizeOf(c.shape));
      const lv = randArray(rand, sizeOf(c.shape), -c.scale, c.scale);
      const yv = Int32Array.from({ length: sizeOf(batch) }, () => Math.floor(rand() * classes));
      const grads = (f: (l: tf.Tensor, y: tf.Tensor) => tf.Tensor) =>
        tf.tidy(() => {
          const logits = tf.tensor(lv, c.shape);
          const labels = tf.tensor(yv, batch, 'int32');
          const { value, grads: g } = tf.valueAndGrads((t: tf.Tensor) => f(t, labels))([logits]);
          return [value, g[0]!];
        });
      await useBackend(backend);
      expect(tf.getKernel(SPARSE_XENT_KERNEL, backend)).toBeDefined();
      const got = take(grads((l, y) => sparseSoftmaxCrossEntropy(tf, l, y)));
      const ref = take(await withStock('cpu', () => grads((l, y) => stockLoss(l, y, classes))));
      await useBackend(backend);
      installKernels(tf, backend, options);
      expectClose(got[0]!, ref[0]!, 1e-5);
      expectClose(got[1]!, ref[1]!, 1e-4);
    });

    it("reductions 'sum' and 'none'", async () => {
      await useBackend(backend);
      const logits = tf.tensor2d([0, Math.log(2), Math.log(3), 1, 1, 1], [2, 3]);
      const none = sparseSoftmaxCrossEntropy(tf, logits, [2, 0], 'none');
      expect(none.shape).toEqual([2]);
      expectClose(await none.data(), [Math.log(2), Math.log(3)], 1e-6);
      const sum = sparseSoftmaxCrossEntropy(tf, logits, [2, 0], 'sum');
      expectClose(await sum.data(), [Math.log(6)], 1e-6);
      expect(() => sparseSoftmaxCrossEntropy(tf, logits, [2, 0], 'avg' as 'sum')).toThrow(
        /reduction must be/,
      );
      expect(() => sparseSoftmaxCrossEntropy(tf, logits, [2, 0, 1])).toThrow(/labels has 3 values/);
      expect(() => sparseSoftmaxCrossEntropy(tf, logits, tf.tensor1d([1], 'int32'))).toThrow(
        /labels shape \[1\] must equal/,
      );
      expect(() => sparseSoftmaxCrossEntropy(tf, logits, [2, 3])).toThrow(
        /labels\[1\] = 3 is outside \[0, 3\)/,
      );
      tf.dispose([logits, none, sum]);
    });

    it('does not leak tensors (forward and backward)', async () => {
      await useBackend(backend);
      const logits = tf.variable(tf.randomNormal([6, 10]));
      const labels = tf.tensor1d([0, 1, 2, 3, 9, 5], 'int32');
      expectNoLeaks(() => {
        const { value, grads } = tf.variableGrads(
          () => sparseSoftmaxCrossEntropy(tf, logits, labels) as tf.Scalar,
          [logits],
        );
        tf.dispose([value, ...Object.values(grads)]);
      });
      tf.dispose([logits, labels]);
    });
  });

  it('falls back to stock ops where the kernels are not registered', async () => {
    await useBackend(backend);
    uninstallKernels(tf, backend);
    expect(tf.getKernel(SPARSE_XENT_KERNEL, backend)).toBeUndefined();
    const rand = seeded(5);
    const lv = randArray(rand, 4 * 6, -2, 2);
    const run = (f: (l: tf.Tensor, y: tf.Tensor) => tf.Tensor) =>
      tf.tidy(() => {
        const l = tf.tensor2d(lv, [4, 6]);
        const y = tf.tensor1d([5, 0, 2, 2], 'int32');
        const [g] = tf.grads((t: tf.Tensor) => f(t, y))([l]);
        return [f(l, y), g!];
      });
    const got = take(run((l, y) => sparseSoftmaxCrossEntropy(tf, l, y)));
    const ref = take(run((l, y) => stockLoss(l, y, 6)));
    expectClose(got[0]!, ref[0]!, 1e-5);
    expectClose(got[1]!, ref[1]!, 1e-5);
  });
});
