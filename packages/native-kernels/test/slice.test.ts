// Native Slice, SplitV and Concat (strided copies on the addon) against the stock kernels, on cpu
// and wasm.
import { installKernels, nativeAvailable, uninstallKernels } from '../src';
import { sliceLayout } from '../src/kernels/slice';
import {
  BACKENDS,
  expectNoLeaks,
  randArray,
  seeded,
  sizeOf,
  take,
  tf,
  useBackend,
  withStock,
} from './helpers';

const NATIVE = nativeAvailable().ok;

describe('sliceLayout', () => {
  it('merges contiguous dims and drops unit dims', () => {
    // last-axis slice of [8, 128, 384]: 1024 rows of 128, stride 384
    expect(sliceLayout([8, 128, 384], [0, 0, 128], [8, 128, 128])).toEqual({
      offset: 128,
      dims: Int32Array.of(1024, 128, 384, 1),
    });
    // a contiguous block is one dim
    expect(sliceLayout([4, 3, 5], [1, 0, 0], [2, 3, 5])).toEqual({
      offset: 15,
      dims: Int32Array.of(30, 1),
    });
    // a middle-axis slice keeps three dims; unit dims vanish
    expect(sliceLayout([2, 6, 1, 4], [0, 2, 0, 1], [2, 3, 1, 2])).toEqual({
      offset: 9,
      dims: Int32Array.of(2, 3, 2, 24, 4, 1),
    });
    expect(sliceLayout([3, 3], [2, 1], [1, 1])).toEqual({ offset: 7, dims: Int32Array.of(1, 1) });
  });
});

const SLICES: { shape: number[]; begin: number[]; size: number[] }[] = [
  { shape: [7], begin: [2], size: [4] },
  { shape: [5, 9], begin: [1, 3], size: [3, -1] },
  { shape: [2, 5, 12], begin: [0, 0, 4], size: [2, 5, 4] },
  { shape: [3, 4, 5, 6], begin: [1, 1, 0, 2], size: [2, 2, 5, 3] },
  { shape: [2, 3, 4, 5, 6], begin: [0, 1, 1, 0, 1], size: [-1, 2, 2, 5, 4] },
  { shape: [4, 6], begin: [1, 0], size: [2, 6] }, // contiguous rows
  { shape: [3, 0, 4], begin: [0, 0, 0], size: [3, 0, 2] }, // empty
];

const SPLITS: { shape: number[]; split: number | number[]; axis: number }[] = [
  { shape: [2, 5, 12], split: 3, axis: 2 },
  { shape: [2, 5, 12], split: 3, axis: -1 },
  { shape: [6, 4, 3], split: [1, 3, 2], axis: 0 },
  { shape: [3, 7, 2], split: [2, -1, 1], axis: 1 },
  { shape: [9], split: 3, axis: 0 },
];

const CONCATS: { shapes: number[][]; axis: number }[] = [
  {
    shapes: [
      [8, 3, 4],
      [8, 3, 4],
      [8, 3, 4],
    ],
    axis: 2,
  },
  {
    shapes: [
      [2, 3],
      [2, 5],
    ],
    axis: -1,
  },
  {
    shapes: [
      [1, 4, 2],
      [3, 4, 2],
    ],
    axis: 0,
  },
  {
    shapes: [
      [2, 1, 3],
      [2, 4, 3],
      [2, 2, 3],
    ],
    axis: 1,
  },
  { shapes: [[5], [7]], axis: 0 },
];

describe.each(BACKENDS)('Slice, SplitV and Concat on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    installKernels(tf, backend);
  });
  afterAll(() => uninstallKernels(tf, backend));

  it(`are overridden exactly when the addon is available (${NATIVE})`, () => {
    const report = installKernels(tf, backend);
    for (const k of ['Slice', 'SplitV', 'Concat']) expect(report.kernels.includes(k)).toBe(NATIVE);
  });

  it.each(SLICES)('slice $shape from $begin size $size equals the stock kernel', async (c) => {
    const x = randArray(seeded(sizeOf(c.shape) + 1), sizeOf(c.shape));
    const run = () =>
      take(
        tf.tidy(() => {
          const t = tf.tensor(x, c.shape);
          const [g] = tf.grads((u: tf.Tensor) => tf.sum(tf.mul(tf.slice(u, c.begin, c.size), 2)))([
            t,
          ]);
          return [tf.slice(t, c.begin, c.size), g!];
        }),
      );
    await useBackend(backend);
    const got = run();
    const ref = await withStock(backend, run, {});
    for (let i = 0; i < 2; i++) expect(Array.from(got[i]!)).toEqual(Array.from(ref[i]!));
  });

  it.each(SPLITS)('split $shape by $split along $axis equals the stock kernel', async (c) => {
    const x = randArray(seeded(sizeOf(c.shape) + 2), sizeOf(c.shape));
    const run = () =>
      take(
        tf.tidy(() => {
          const t = tf.tensor(x, c.shape);
          const parts = tf.split(t, c.split, c.axis);
          const [g] = tf.grads((u: tf.Tensor) =>
            tf.addN(tf.split(u, c.split, c.axis).map((p, i) => tf.sum(tf.mul(p, i + 1)))),
          )([t]);
          return [...parts.map((p) => tf.reshape(p, [-1])), g!];
        }),
      );
    await useBackend(backend);
    const got = run();
    const ref = await withStock(backend, run, {});
    expect(got.length).toBe(ref.length);
    for (let i = 0; i < got.length; i++) expect(Array.from(got[i]!)).toEqual(Array.from(ref[i]!));
  });

  it.each(CONCATS)('concat $shapes along $axis equals the stock kernel', async (c) => {
    const xs = c.shapes.map((sh, i) => randArray(seeded(sizeOf(sh) + 3 + i), sizeOf(sh)));
    const total = c.shapes.reduce((p, sh) => p + sizeOf(sh), 0);
    const run = () =>
      take(
        tf.tidy(() => {
          const ts = xs.map((x, i) => tf.tensor(x, c.shapes[i]!));
          const y = tf.concat(ts, c.axis);
          const w = tf.reshape(tf.range(1, total + 1), y.shape); // distinct weights per element
          const grads = tf.grads((...us: tf.Tensor[]) => tf.sum(tf.mul(tf.concat(us, c.axis), w)))(
            ts,
          );
          return [tf.reshape(y, [-1]), ...grads];
        }),
      );
    await useBackend(backend);
    const got = run();
    const ref = await withStock(backend, run, {});
    expect(got.length).toBe(ref.length);
    for (let i = 0; i < got.length; i++) expect(Array.from(got[i]!)).toEqual(Array.from(ref[i]!));
  });

  it('leaves int32 to the stock kernel and does not leak', async () => {
    await useBackend(backend);
    const i = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    const s = tf.slice(i, [0, 1], [2, 2]);
    expect(s.dtype).toBe('int32');
    expect(Array.from(await s.data())).toEqual([2, 3, 5, 6]);
    const ci = tf.concat([i, i], 1);
    expect(ci.dtype).toBe('int32');
    expect(Array.from(await ci.data())).toEqual([1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
    ci.dispose();
    const x = tf.randomNormal([4, 6, 9]);
    expectNoLeaks(() => {
      tf.dispose(tf.split(x, 3, 2));
      tf.dispose(tf.slice(x, [1, 2, 3], [2, 2, 2]));
      tf.dispose(tf.concat([x, x], 1));
    });
    tf.dispose([i, s, x]);
  });
});
