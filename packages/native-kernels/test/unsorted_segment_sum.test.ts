import { installKernels, uninstallKernels } from '../src';
import { unsortedSegmentSumJs } from '../src/kernels/unsorted_segment_sum';
import {
  BACKENDS,
  expectClose,
  expectNoLeaks,
  randArray,
  seeded,
  take,
  tf,
  useBackend,
  withStock,
} from './helpers';

describe('unsortedSegmentSumJs', () => {
  it('scatter-adds rows and drops out-of-range ids (hand-computed)', () => {
    // x rows r0..r3 = [1, 2], [3, 4], [5, 6], [7, 8]; ids [2, 0, 2, 5] with 3 segments
    const out = new Float32Array(6);
    unsortedSegmentSumJs(
      Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8),
      Int32Array.of(2, 0, 2, 5),
      3,
      2,
      out,
    );
    expect(Array.from(out)).toEqual([3, 4, 0, 0, 6, 8]);
  });
});

describe.each(BACKENDS)('UnsortedSegmentSum on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    installKernels(tf, backend);
  });
  afterAll(() => uninstallKernels(tf, backend));

  const cases = [
    { name: '1-D ids, float32', x: [7, 5], ids: [7], segments: 4, dtype: 'float32' as const },
    { name: '2-D ids, float32', x: [3, 2, 4], ids: [3, 2], segments: 5, dtype: 'float32' as const },
    { name: 'scalar rows', x: [9], ids: [9], segments: 3, dtype: 'float32' as const },
    { name: 'int32 values', x: [6, 3], ids: [6], segments: 4, dtype: 'int32' as const },
    { name: 'one segment', x: [4, 3], ids: [4], segments: 1, dtype: 'float32' as const },
  ];

  it.each(cases)('$name matches the stock cpu kernel', async (c) => {
    const rand = seeded(c.x.reduce((a, b) => a * b, 1));
    const n = c.x.reduce((a, b) => a * b, 1);
    const xv =
      c.dtype === 'int32'
        ? Int32Array.from({ length: n }, () => Math.floor(rand() * 20 - 10))
        : randArray(rand, n);
    const m = c.ids.reduce((a, b) => a * b, 1);
    // include an id past the end and a negative one: both are dropped
    const idv = Int32Array.from({ length: m }, (_, i) =>
      i === 0 ? c.segments : i === 1 ? -1 : Math.floor(rand() * c.segments),
    );
    // the stock kernel mis-broadcasts ids of rank > 1: its reference uses the flattened problem
    const flat = [m, ...c.x.slice(c.ids.length)];
    const refRun = () =>
      tf.tidy(() => [
        tf.unsortedSegmentSum(tf.tensor(xv, flat, c.dtype), tf.tensor1d(idv, 'int32'), c.segments),
      ]);
    const run = () =>
      tf.tidy(() => [
        tf.unsortedSegmentSum(
          tf.tensor(xv, c.x, c.dtype),
          // ids of rank > 1 are accepted by the kernel although the op is typed for rank 1
          tf.tensor(idv, c.ids as number[], 'int32') as tf.Tensor as tf.Tensor1D,
          c.segments,
        ),
      ]);
    await useBackend(backend);
    const got = take(run());
    const ref = take(await withStock('cpu', refRun));
    await useBackend(backend);
    installKernels(tf, backend);
    expectClose(got[0]!, ref[0]!, 1e-6);
  });

  it('embedding gradient (gather) matches the stock cpu kernel', async () => {
    const rand = seeded(21);
    const table = randArray(rand, 50 * 6);
    const idx = Int32Array.from({ length: 24 }, () => Math.floor(rand() * 50));
    const w = randArray(rand, 4 * 6 * 6);
    const run = () =>
      tf.tidy(() => {
        const [g] = tf.grads((t: tf.Tensor) =>
          tf
            .gather(t, tf.tensor2d(idx, [4, 6], 'int32'))
            .mul(tf.tensor(w, [4, 6, 6]))
            .sum(),
        )([tf.tensor2d(table, [50, 6])]);
        return [g!];
      });
    await useBackend(backend);
    const got = take(run());
    const ref = take(await withStock('cpu', run));
    await useBackend(backend);
    installKernels(tf, backend);
    expectClose(got[0]!, ref[0]!);
  });

  it('does not leak tensors', async () => {
    await useBackend(backend);
    expectNoLeaks(() => {
      const y = tf.tidy(() =>
        tf.unsortedSegmentSum(tf.ones([5, 3]), tf.tensor1d([0, 1, 1, 0, 2], 'int32'), 3),
      );
      y.dispose();
    });
  });
});
