import { installKernels, uninstallKernels } from '../src';
import { gatherRows } from '../src/kernels/gather';
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

describe('gatherRows', () => {
  it('copies rows of [outer, axisDim, inner] (hand-computed)', () => {
    // x = [[0 1], [2 3], [4 5]] gathered with [2, 0, 2]
    const out = new Float32Array(6);
    gatherRows(Float32Array.of(0, 1, 2, 3, 4, 5), Int32Array.of(2, 0, 2), out, 1, 3, 2);
    expect(Array.from(out)).toEqual([4, 5, 0, 1, 4, 5]);
    // along the last axis of [2, 3]: inner 1
    const out2 = new Int32Array(4);
    gatherRows(Int32Array.of(0, 1, 2, 3, 4, 5), Int32Array.of(1, 1), out2, 2, 3, 1);
    expect(Array.from(out2)).toEqual([1, 1, 4, 4]);
  });
});

describe.each(BACKENDS)('GatherV2 on %s', (backend) => {
  describe.each(MODES)('$label kernels', ({ options }) => {
    beforeAll(async () => {
      await useBackend(backend);
      installKernels(tf, backend, options);
    });
    afterAll(() => uninstallKernels(tf, backend));

    const cases: { name: string; x: number[]; idx: number[]; axis: number }[] = [
      { name: 'embedding rows (inner 32)', x: [13, 32], idx: [4, 5], axis: 0 },
      { name: 'axis 1 of rank 3', x: [3, 6, 5], idx: [7], axis: 1 },
      { name: 'last axis (inner 1)', x: [4, 9], idx: [3], axis: -1 },
      { name: 'one row, one index', x: [1, 3], idx: [1], axis: 0 },
      { name: 'no indices', x: [5, 4], idx: [0], axis: 0 },
    ];

    it.each(cases)('$name: forward and gradient match the stock cpu kernels', async (c) => {
      const rand = seeded(sizeOf(c.x) + c.idx.length);
      const xv = randArray(rand, sizeOf(c.x));
      const ax = c.axis < 0 ? c.axis + c.x.length : c.axis;
      const iv = Int32Array.from({ length: sizeOf(c.idx) }, () => Math.floor(rand() * c.x[ax]!));
      const outShape = [...c.x.slice(0, ax), ...c.idx, ...c.x.slice(ax + 1)];
      const wv = randArray(rand, sizeOf(outShape));
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor(xv, c.x);
          const idx = tf.tensor(iv, c.idx, 'int32');
          const [g] = tf.grads((t: tf.Tensor) =>
            tf.gather(t, idx, c.axis).mul(tf.tensor(wv, outShape)).sum(),
          )([x]);
          return [tf.gather(x, idx, c.axis), g!];
        });
      await useBackend(backend);
      const got = take(run());
      const ref = take(await withStock('cpu', run));
      await useBackend(backend);
      installKernels(tf, backend, options);
      expectClose(got[0]!, ref[0]!, 0);
      expectClose(got[1]!, ref[1]!, 1e-5);
    });

    it('gathers int32 tables exactly', async () => {
      await useBackend(backend);
      const y = tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), [2, 0]);
      expect(y.dtype).toBe('int32');
      expect(Array.from(y.dataSync())).toEqual([5, 6, 1, 2]);
      y.dispose();
    });

    it('leaves out-of-range indices to the stock kernel', async () => {
      await useBackend(backend);
      const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
      const idx = tf.tensor1d([0, 2], 'int32');
      // both stock kernels raise 'GatherV2: the index value 2 is not in [0, 1]'
      expect(() => tf.gather(x, idx)).toThrow(/index value 2 is not in \[0, 1\]/);
      tf.dispose([x, idx]);
    });

    it('does not leak tensors', async () => {
      await useBackend(backend);
      const x = tf.randomNormal([10, 8]);
      const idx = tf.tensor1d([1, 3, 3, 9], 'int32');
      expectNoLeaks(() => {
        const [y, g] = tf.tidy(() => {
          const [gr] = tf.grads((t: tf.Tensor) => tf.gather(t, idx).sum())([x]);
          return [tf.gather(x, idx), gr!];
        });
        tf.dispose([y, g]);
      });
      tf.dispose([x, idx]);
    });
  });
});
