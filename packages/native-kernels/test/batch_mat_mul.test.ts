import { installKernels, nativeAvailable, uninstallKernels } from '../src';
import { broadcastOffsets } from '../src/kernels/batch_mat_mul';
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

interface Case {
  name: string;
  a: number[];
  b: number[];
  ta: boolean;
  tb: boolean;
  /** tfjs-core's BatchMatMul gradient does not reduce broadcast batch dims: forward only there. */
  forwardOnly?: boolean;
}

const CASES: Case[] = [
  { name: 'batch 1', a: [1, 3, 5], b: [1, 5, 4], ta: false, tb: false },
  { name: 'odd sizes', a: [3, 7, 5], b: [3, 5, 9], ta: false, tb: false },
  { name: 'transposeA', a: [2, 5, 7], b: [2, 5, 3], ta: true, tb: false },
  { name: 'transposeB', a: [2, 7, 5], b: [2, 3, 5], ta: false, tb: true },
  { name: 'both transposes', a: [2, 5, 7], b: [2, 3, 5], ta: true, tb: true },
  { name: 'rank 2', a: [6, 4], b: [4, 3], ta: false, tb: false },
  { name: 'K = 1', a: [2, 4, 1], b: [2, 1, 3], ta: false, tb: false },
  {
    name: 'broadcast b batch 1',
    a: [4, 3, 5],
    b: [1, 5, 2],
    ta: false,
    tb: false,
    forwardOnly: true,
  },
  { name: 'broadcast a rank 2', a: [3, 5], b: [4, 5, 6], ta: false, tb: false, forwardOnly: true },
  {
    name: 'broadcast both ways',
    a: [2, 1, 3, 4],
    b: [1, 3, 4, 5],
    ta: false,
    tb: false,
    forwardOnly: true,
  },
  {
    name: 'broadcast rank 4 + transposes',
    a: [2, 3, 4, 3],
    b: [3, 5, 4],
    ta: true,
    tb: true,
    forwardOnly: true,
  },
];

function outShape(c: Case): number[] {
  const ra = c.a.length;
  const rb = c.b.length;
  const m = c.ta ? c.a[ra - 1]! : c.a[ra - 2]!;
  const n = c.tb ? c.b[rb - 2]! : c.b[rb - 1]!;
  const batch = tf.broadcast_util.assertAndGetBroadcastShape(c.a.slice(0, -2), c.b.slice(0, -2));
  return [...batch, m, n];
}

/** matMul and its two gradients under a random cotangent. */
function matMulAndGrads(
  c: Case,
  av: Float32Array,
  bv: Float32Array,
  wv: Float32Array,
  reference: boolean,
) {
  return tf.tidy(() => {
    const a = tf.tensor(av, c.a);
    const b = tf.tensor(bv, c.b);
    const w = tf.tensor(wv, outShape(c));
    const f = (x: tf.Tensor, y: tf.Tensor) => {
      if (!reference) return tf.matMul(x, y, c.ta, c.tb);
      // stock kernels index broadcast batches modulo their size; broadcast explicitly instead
      const batch = outShape(c).slice(0, -2);
      const xb = tf.broadcastTo(x, [...batch, ...x.shape.slice(-2)]);
      const yb = tf.broadcastTo(y, [...batch, ...y.shape.slice(-2)]);
      return tf.matMul(xb, yb, c.ta, c.tb);
    };
    const y = f(a, b);
    if (c.forwardOnly) return [y];
    const [ga, gb] = tf.grads((x: tf.Tensor, z: tf.Tensor) => f(x, z).mul(w).sum())([a, b]);
    return [y, ga!, gb!];
  });
}

describe('broadcastOffsets', () => {
  it('returns null for plain batches and offsets for broadcast ones', () => {
    expect(broadcastOffsets([3, 2, 2], [3])).toBeNull();
    expect(Array.from(broadcastOffsets([1, 2, 3], [4])!)).toEqual([0, 0, 0, 0]);
    // [2, 1] broadcast to [2, 3], matrices of 6 elements
    expect(Array.from(broadcastOffsets([2, 1, 2, 3], [2, 3])!)).toEqual([0, 0, 0, 6, 6, 6]);
    expect(Array.from(broadcastOffsets([3, 2, 3], [2, 3])!)).toEqual([0, 6, 12, 0, 6, 12]);
  });
});

describe.each(BACKENDS)('BatchMatMul on %s', (backend) => {
  describe.each(MODES)('$label kernels', ({ options }) => {
    beforeAll(async () => {
      await useBackend(backend);
      installKernels(tf, backend, options);
    });
    afterAll(() => uninstallKernels(tf, backend));

    it.each(CASES)('$name: forward and gradients match the stock kernel', async (c) => {
      const rand = seeded(sizeOf(c.a) * 31 + sizeOf(c.b));
      const av = randArray(rand, sizeOf(c.a));
      const bv = randArray(rand, sizeOf(c.b));
      const wv = randArray(rand, sizeOf(outShape(c)));
      await useBackend(backend);
      const got = take(matMulAndGrads(c, av, bv, wv, false));
      const ref = take(
        await withStock('cpu', () => matMulAndGrads(c, av, bv, wv, true), undefined),
      );
      await useBackend(backend);
      installKernels(tf, backend, options);
      expect(got.length).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) expectClose(got[i]!, ref[i]!);
    });

    it('random shapes match the stock kernel', async () => {
      const rand = seeded(7);
      for (let trial = 0; trial < 6; trial++) {
        const r = (n: number) => 1 + Math.floor(rand() * n);
        const c: Case = { name: 'random', a: [], b: [], ta: rand() < 0.5, tb: rand() < 0.5 };
        const [bt, m, k, n] = [r(3), r(9), r(9), r(9)];
        c.a = [bt, ...(c.ta ? [k, m] : [m, k])];
        c.b = [rand() < 0.3 ? 1 : bt, ...(c.tb ? [n, k] : [k, n])];
        c.forwardOnly = c.b[0] !== c.a[0];
        const av = randArray(rand, sizeOf(c.a));
        const bv = randArray(rand, sizeOf(c.b));
        const wv = randArray(rand, sizeOf(outShape(c)));
        await useBackend(backend);
        const got = take(matMulAndGrads(c, av, bv, wv, false));
        const ref = take(await withStock('cpu', () => matMulAndGrads(c, av, bv, wv, true)));
        await useBackend(backend);
        installKernels(tf, backend, options);
        expect(got.length).toBe(ref.length);
        for (let i = 0; i < ref.length; i++) expectClose(got[i]!, ref[i]!);
      }
    });

    it('does not leak tensors', async () => {
      await useBackend(backend);
      const c = CASES[4]!;
      const rand = seeded(3);
      const av = randArray(rand, sizeOf(c.a));
      const bv = randArray(rand, sizeOf(c.b));
      const wv = randArray(rand, sizeOf(outShape(c)));
      expectNoLeaks(() => tf.dispose(matMulAndGrads(c, av, bv, wv, false)));
    });
  });

  it('falls back to the stock kernel for int32 (cpu) and reports native state', async () => {
    await useBackend(backend);
    const report = installKernels(tf, backend);
    expect(report.native).toBe(nativeAvailable().ok);
    if (backend === 'cpu') {
      const y = tf.matMul(
        tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'),
        tf.tensor2d([1, 0, 0, 1], [2, 2], 'int32'),
      );
      expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
      y.dispose();
    }
    uninstallKernels(tf, backend);
  });
});
