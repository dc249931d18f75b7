// The addon's pool: GEMMs split by batch, rows or columns, and convolutions split by rows or
// images (with per-chunk filter-gradient sums) give the single-thread results, with every job
// forced through the split path (parallelThreshold 0).
import {
  ADAMW_UPDATE_KERNEL,
  installKernels,
  nativeAvailable,
  sparseSoftmaxCrossEntropy,
  uninstallKernels,
} from '../src';
import { BACKENDS, expectClose, randArray, seeded, sizeOf, tf, useBackend } from './helpers';

const native = nativeAvailable().ok;
const maybe = native ? describe : describe.skip;

type Run = () => tf.Tensor[];

/** Values of `run` with one thread and with `threads` threads splitting every job. */
function oneVsMany(
  backend: 'cpu' | 'wasm',
  run: Run,
  threads = 2,
): [Float32Array[], Float32Array[]] {
  const values = (t: number): Float32Array[] => {
    installKernels(tf, backend, { threads: t, parallelThreshold: 0 });
    const outs = tf.tidy(run);
    const v = outs.map((o) => o.dataSync() as Float32Array);
    tf.dispose(outs);
    return v;
  };
  return [values(1), values(threads)];
}

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(randArray(seeded(seed), sizeOf(shape)), shape);
}

maybe.each(BACKENDS)('pool-split kernels on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  afterAll(() => {
    installKernels(tf, backend, { threads: 1 });
    uninstallKernels(tf, backend);
  });

  const matmuls: [string, number[], number[], boolean, boolean][] = [
    ['rows (M >= N)', [67, 9], [9, 5], false, false],
    ['columns (N > M)', [3, 9], [9, 70], false, false],
    ['rows, transposed A', [9, 67], [9, 5], true, false],
    ['columns, transposed B', [3, 9], [70, 9], false, true],
    ['batch', [5, 17, 8], [5, 8, 19], false, false],
    ['broadcast batch', [4, 1, 6, 8], [1, 3, 7, 8], false, true],
  ];
  it.each(matmuls)('BatchMatMul split by %s', (_, sa, sb, ta, tb) => {
    const a = rand(sa, 1);
    const b = rand(sb, 2);
    for (const threads of [2, 3]) {
      const [one, many] = oneVsMany(backend, () => [tf.matMul(a, b, ta, tb)], threads);
      expectClose(many[0]!, one[0]!, 1e-6);
    }
    tf.dispose([a, b]);
  });

  const convs: [string, number[], number[], number, 'same' | 'valid'][] = [
    ['im2col, batch 3', [3, 9, 7, 5], [3, 3, 5, 6], 1, 'same'],
    ['im2col, batch 1 (filter gradient split by rows)', [1, 11, 9, 4], [3, 3, 4, 7], 2, 'valid'],
    ['pointwise', [2, 5, 6, 8], [1, 1, 8, 9], 1, 'same'],
    ['Winograd (3x3, stride 1, 8+ channels)', [3, 9, 11, 10], [3, 3, 10, 12], 1, 'same'],
    ['direct (3 output channels)', [3, 8, 8, 16], [3, 3, 16, 3], 1, 'same'],
  ];
  it.each(convs)('Conv2D and gradients split: %s', (_, xs, fs, stride, pad) => {
    const x = rand(xs, 3);
    const f = rand(fs, 4);
    const run: Run = () => {
      const loss = (xx: tf.Tensor, ff: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, stride, pad)));
      const [dx, df] = tf.grads(loss)([x, f]);
      return [tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad), dx!, df!];
    };
    for (const threads of [2, 3]) {
      const [one, many] = oneVsMany(backend, run, threads);
      for (let i = 0; i < one.length; i++) expectClose(many[i]!, one[i]!, 1e-5);
    }
    tf.dispose([x, f]);
  });

  const elementwise: [string, Run][] = [
    ['Add over rows with a broadcast row', () => [tf.add(rand([33, 17], 7), rand([17], 8))]],
    ['Multiply of one long row', () => [tf.mul(rand([4099], 9), rand([4099], 10))]],
    ['Sub with a broadcast column', () => [tf.sub(rand([5, 6, 7], 11), rand([5, 6, 1], 12))]],
    ['RealDiv by a scalar', () => [tf.div(rand([3, 4, 5, 6], 13), tf.scalar(1.5))]],
    [
      'Exp, Tanh, Sigmoid, Log',
      () => {
        const x = rand([37, 29], 14);
        return [tf.exp(x), tf.tanh(x), tf.sigmoid(x), tf.log(tf.abs(x))];
      },
    ],
    ['Transpose (4-D permutation)', () => [tf.transpose(rand([3, 5, 4, 6], 15), [0, 2, 1, 3])]],
    [
      'Sum over the last axis, a middle axis, the first axis',
      () => {
        const x = rand([6, 7, 9], 16);
        return [tf.sum(x, -1), tf.sum(x, 1), tf.sum(x, 0), tf.mean(x, 1)];
      },
    ],
    [
      'sparse softmax cross-entropy and its gradient',
      () => {
        const logits = rand([19, 23], 17);
        const labels = tf.tensor1d(
          Array.from({ length: 19 }, (_, i) => (i * 7) % 23),
          'int32',
        );
        const loss = (l: tf.Tensor) => sparseSoftmaxCrossEntropy(tf, l, labels, 'sum');
        return [loss(logits), tf.grad(loss)(logits)];
      },
    ],
    [
      'AdamW update',
      () => {
        const [x, m, v, g] = [18, 19, 20, 21].map((s) => rand([1031], s));
        const outs = tf.engine().runKernel(
          ADAMW_UPDATE_KERNEL,
          { x: x!, m: m!, v: tf.abs(v!), g: g! },
          {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            decayFactor: 0.999,
            sqrtBc2: Math.sqrt(0.001),
            stepSize: 0.01 / 0.1,
          },
        ) as unknown as tf.Tensor[];
        return outs;
      },
    ],
  ];
  it.each(elementwise)('%s split across the pool', (_, run) => {
    for (const threads of [2, 3]) {
      const [one, many] = oneVsMany(backend, run, threads);
      for (let i = 0; i < one.length; i++)
        expect(Array.from(many[i]!)).toEqual(Array.from(one[i]!));
    }
  });

  it('gives the same results on every run with the same thread count', () => {
    const x = rand([4, 12, 12, 8], 5);
    const f = rand([3, 3, 8, 8], 6);
    installKernels(tf, backend, { threads: 2, parallelThreshold: 0 });
    const grad = () =>
      tf.tidy(() =>
        tf
          .grad((ff: tf.Tensor) =>
            tf.sum(tf.conv2d(x as tf.Tensor4D, ff as tf.Tensor4D, 1, 'same')),
          )(f)
          .dataSync(),
      );
    const first = grad();
    for (let r = 0; r < 5; r++) expect(Array.from(grad())).toEqual(Array.from(first));
    tf.dispose([x, f]);
  });
});
