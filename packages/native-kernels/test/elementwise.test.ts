import { installKernels, nativeAvailable, uninstallKernels } from '../src';
import { getNativeAddon } from '../src/addon';
import { broadcastLayout, reductionBlock, transposeLayout } from '../src/kernels/elementwise';
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

describe('broadcastLayout', () => {
  it('merges contiguous dims and zeroes broadcast strides', () => {
    expect(broadcastLayout([2, 3], [2, 3])).toEqual({ out: [2, 3], dims: Int32Array.of(6, 1, 1) });
    // row broadcast: b is [2, 1] -> each row reads one value
    expect(broadcastLayout([2, 3], [2, 1])).toEqual({
      out: [2, 3],
      dims: Int32Array.of(2, 3, 3, 1, 1, 0),
    });
    // column broadcast: b is [3]
    expect(broadcastLayout([2, 3], [3])).toEqual({
      out: [2, 3],
      dims: Int32Array.of(2, 3, 3, 1, 0, 1),
    });
    expect(broadcastLayout([], [4])).toEqual({ out: [4], dims: Int32Array.of(4, 0, 1) });
    expect(broadcastLayout([], [])).toEqual({ out: [], dims: Int32Array.of(1, 1, 1) });
    expect(broadcastLayout([2, 3], [4])).toBeNull();
    // 1 broadcasts to 0: an empty output
    expect(broadcastLayout([1, 1], [0, 4])!.out).toEqual([0, 4]);
    // 7 dims that cannot merge stay 7 (handled in JS on wasm)
    expect(broadcastLayout([2, 1, 2, 1, 2, 1, 2], [1, 2, 1, 2, 1, 2, 1])!.dims.length).toBe(21);
  });
});

const UNARY: { name: string; f: (x: tf.Tensor) => tf.Tensor; lo: number; hi: number }[] = [
  { name: 'exp', f: (x) => tf.exp(x), lo: -20, hi: 20 },
  { name: 'tanh', f: (x) => tf.tanh(x), lo: -6, hi: 6 },
  { name: 'sigmoid', f: (x) => tf.sigmoid(x), lo: -12, hi: 12 },
  { name: 'log', f: (x) => tf.log(x), lo: 1e-3, hi: 50 },
];

// tfjs-core's SquaredDifference gradient does not reduce broadcast dims: forward only there
const BINARY: {
  name: string;
  f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
  gradBroadcast?: false;
}[] = [
  { name: 'add', f: (a, b) => tf.add(a, b) },
  { name: 'sub', f: (a, b) => tf.sub(a, b) },
  { name: 'mul', f: (a, b) => tf.mul(a, b) },
  { name: 'div', f: (a, b) => tf.div(a, b) },
  { name: 'squaredDifference', f: (a, b) => tf.squaredDifference(a, b), gradBroadcast: false },
];

const SHAPES: [number[], number[]][] = [
  [
    [3, 5],
    [3, 5],
  ],
  [[7], []],
  [[], [2, 3]],
  [
    [4, 6],
    [4, 1],
  ],
  [[4, 6], [6]],
  [
    [2, 1, 3],
    [1, 4, 1],
  ],
  [
    [2, 3, 1, 5, 2],
    [3, 4, 1, 1],
  ],
  [
    [1, 1],
    [5, 1],
  ],
];

describe.each(BACKENDS)('element-wise kernels on %s', (backend) => {
  describe.each(MODES)('$label kernels', ({ options }) => {
    beforeAll(async () => {
      await useBackend(backend);
      installKernels(tf, backend, options);
    });
    afterAll(() => uninstallKernels(tf, backend));

    const compare = async (run: () => tf.Tensor[], rtol = 1e-4) => {
      await useBackend(backend);
      const got = take(run());
      const ref = take(await withStock('cpu', run));
      await useBackend(backend);
      installKernels(tf, backend, options);
      expect(got.length).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) expectClose(got[i]!, ref[i]!, rtol);
    };

    it.each(UNARY)('$name: forward and gradient match the stock kernel', async ({ f, lo, hi }) => {
      const rand = seeded(lo * 100 + hi);
      const xv = randArray(rand, 257, lo, hi);
      const dv = randArray(rand, 257);
      await compare(() =>
        tf.tidy(() => {
          const x = tf.tensor1d(xv);
          const [g] = tf.grads((t: tf.Tensor) => f(t).mul(tf.tensor1d(dv)).sum())([x]);
          return [f(x), g!];
        }),
      );
    });

    it.each(BINARY)(
      '$name with broadcasting: forward and gradients match the stock kernel',
      async ({ f, gradBroadcast }) => {
        const rand = seeded(42);
        for (const [sa, sb] of SHAPES) {
          const av = randArray(rand, sizeOf(sa), 0.5, 2);
          const bv = randArray(rand, sizeOf(sb), 0.5, 2);
          const out = tf.broadcast_util.assertAndGetBroadcastShape(sa, sb);
          const wv = randArray(rand, sizeOf(out));
          await compare(() =>
            tf.tidy(() => {
              const a = tf.tensor(av, sa);
              const b = tf.tensor(bv, sb);
              if (gradBroadcast === false && sizeOf(sa) !== sizeOf(sb)) return [f(a, b)];
              const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
                f(x, y).mul(tf.tensor(wv, out)).sum(),
              )([a, b]);
              return [f(a, b), ga!, gb!];
            }),
          );
        }
      },
    );

    it('int32 binary ops fall back to the stock kernels', async () => {
      await useBackend(backend);
      const y = tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.scalar(4, 'int32'));
      expect(y.dtype).toBe('int32');
      expect(Array.from(y.dataSync())).toEqual([5, 6, 7]);
      y.dispose();
    });

    it('does not leak tensors', async () => {
      await useBackend(backend);
      expectNoLeaks(() =>
        tf.dispose(
          tf.tidy(() => {
            const a = tf.ones([4, 3]);
            return [
              tf.exp(a),
              tf.tanh(a),
              tf.sub(a, tf.ones([3])),
              tf.mul(a, tf.ones([4, 1])),
              tf.clone(a),
            ];
          }),
        ),
      );
    });
  });

  it('Identity shares the buffer on wasm and survives disposing the source', async () => {
    await useBackend(backend);
    installKernels(tf, backend);
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    a.dispose();
    expect(Array.from(await b.data())).toEqual([1, 2, 3]);
    b.dispose();
    uninstallKernels(tf, backend);
  });
});

describe('reductionBlock', () => {
  it('views contiguous reductions as [A, R, B]', () => {
    expect(reductionBlock([4, 5, 6], 1)).toEqual({ a: 4, r: 5, b: 6, axes: [1] });
    expect(reductionBlock([4, 5, 6], [-1, 1])).toEqual({ a: 4, r: 30, b: 1, axes: [1, 2] });
    expect(reductionBlock([4, 5, 6], undefined)).toEqual({ a: 1, r: 120, b: 1, axes: [0, 1, 2] });
    expect(reductionBlock([4, 5, 6], [0, 2])).toBeNull();
  });
});

describe.each(BACKENDS)('Sum and Mean on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    installKernels(tf, backend);
  });
  afterAll(() => uninstallKernels(tf, backend));

  const cases: { shape: number[]; axis?: number | number[]; keepDims: boolean }[] = [
    { shape: [7, 9], axis: 0, keepDims: false },
    { shape: [7, 9], axis: 1, keepDims: true },
    { shape: [7, 9], axis: -1, keepDims: false },
    { shape: [3, 4, 5], axis: [1, 2], keepDims: false },
    { shape: [3, 4, 5], axis: 1, keepDims: true },
    { shape: [3, 4, 5], axis: [0, 2], keepDims: false },
    { shape: [2, 3, 4], keepDims: false },
    { shape: [1000, 3], axis: 0, keepDims: false },
  ];

  it.each(cases)(
    'sum/mean of $shape over $axis (keepDims $keepDims) match the stock kernels',
    async (c) => {
      const rand = seeded(sizeOf(c.shape));
      const xv = randArray(rand, sizeOf(c.shape));
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor(xv, c.shape);
          const [g] = tf.grads((t: tf.Tensor) => tf.mean(t, c.axis, c.keepDims).sum())([x]);
          return [tf.sum(x, c.axis, c.keepDims), tf.mean(x, c.axis, c.keepDims), g!];
        });
      await useBackend(backend);
      const got = run();
      const shapes = got.map((t) => t.shape);
      const gotV = take(got);
      const refT = await withStock('cpu', run);
      expect(refT.map((t) => t.shape)).toEqual(shapes);
      const ref = take(refT);
      await useBackend(backend);
      installKernels(tf, backend);
      for (let i = 0; i < ref.length; i++) expectClose(gotV[i]!, ref[i]!);
    },
  );
});

describe('transposeLayout', () => {
  it('merges dims that stay adjacent', () => {
    // [2, 3, 4] with perm [0, 2, 1]: x strides 12, 4, 1
    expect(transposeLayout([2, 3, 4], [0, 2, 1])).toEqual({
      out: [2, 4, 3],
      dims: Int32Array.of(2, 4, 3, 12, 1, 4),
    });
    // [a, b, c, d] -> [a, c, b, d]: d stays innermost
    expect(transposeLayout([2, 3, 4, 5], [0, 2, 1, 3])).toEqual({
      out: [2, 4, 3, 5],
      dims: Int32Array.of(2, 4, 3, 5, 60, 5, 20, 1),
    });
    expect(transposeLayout([2, 3], [0, 1])).toEqual({ out: [2, 3], dims: Int32Array.of(6, 1) });
  });
});

describe.each(BACKENDS)('Transpose on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    installKernels(tf, backend);
  });
  afterAll(() => uninstallKernels(tf, backend));

  const cases: { shape: number[]; perm: number[] }[] = [
    { shape: [5, 7], perm: [1, 0] },
    { shape: [2, 6, 4, 3], perm: [0, 2, 1, 3] },
    { shape: [2, 5, 3, 4, 3], perm: [2, 0, 3, 1, 4] },
    { shape: [3, 1, 4, 2, 1, 5], perm: [5, 3, 1, 0, 2, 4] },
    { shape: [2, 3, 2, 3, 2, 2, 2], perm: [6, 5, 4, 3, 2, 1, 0] },
  ];

  it.each(cases)('$shape by $perm: forward and gradient match the stock kernel', async (c) => {
    const rand = seeded(sizeOf(c.shape));
    const xv = randArray(rand, sizeOf(c.shape));
    const wv = randArray(rand, sizeOf(c.shape));
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor(xv, c.shape);
        const y = tf.transpose(x, c.perm);
        const [g] = tf.grads((t: tf.Tensor) =>
          tf.transpose(t, c.perm).mul(tf.tensor(wv, y.shape)).sum(),
        )([x]);
        return [y, g!];
      });
    await useBackend(backend);
    const got = take(run());
    const ref = take(await withStock('cpu', run));
    await useBackend(backend);
    installKernels(tf, backend);
    for (let i = 0; i < 2; i++) expectClose(got[i]!, ref[i]!, 0);
  });
});

describe('cpu tensors whose storage is a cast source (Int32Array / Uint8Array)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
    installKernels(tf, 'cpu');
  });
  afterAll(() => uninstallKernels(tf, 'cpu'));

  // on cpu, cast int32 -> float32 and bool -> float32 share the source's typed array
  const castInputs = () => [
    tf.cast(tf.tensor2d([1, -2, 3, 4, 5, -6], [2, 3], 'int32'), 'float32'),
    tf.cast(tf.tensor2d([1, 0, 1, 1, 0, 0], [2, 3], 'bool'), 'float32'),
  ];

  it('the storage really is not a Float32Array (the case under test exists)', () => {
    const [a, b] = castInputs();
    const backend = tf.backend() as unknown as { data: { get(id: unknown): { values: unknown } } };
    expect(backend.data.get(a!.dataId).values).toBeInstanceOf(Int32Array);
    expect(backend.data.get(b!.dataId).values).toBeInstanceOf(Uint8Array);
    tf.dispose([a!, b!]);
  });

  it('element-wise, reduction and transpose overrides fall back to the stock kernels', () => {
    for (const x of castInputs()) {
      const v = Array.from(x.dataSync());
      const checks: [tf.Tensor, number[]][] = [
        [tf.add(x, tf.ones([2, 3])), v.map((e) => e + 1)],
        [tf.sub(tf.ones([3]), x), v.map((e) => 1 - e)],
        [tf.mul(x, x), v.map((e) => e * e)],
        [tf.div(x, tf.scalar(2)), v.map((e) => e / 2)],
        [tf.squaredDifference(x, tf.zeros([2, 3])), v.map((e) => e * e)],
        [tf.exp(x), v.map(Math.exp)],
        [tf.tanh(x), v.map(Math.tanh)],
        [tf.sigmoid(x), v.map((e) => 1 / (1 + Math.exp(-e)))],
        [tf.sum(x, 1), [v[0]! + v[1]! + v[2]!, v[3]! + v[4]! + v[5]!]],
        [tf.mean(x, 0), [0, 1, 2].map((j) => (v[j]! + v[j + 3]!) / 2)],
        [tf.transpose(x), [v[0]!, v[3]!, v[1]!, v[4]!, v[2]!, v[5]!]],
      ];
      for (const [got, want] of checks) {
        expectClose(got.dataSync(), want, 1e-6);
        got.dispose();
      }
      x.dispose();
    }
  });

  it('matmul and conv overrides use a float32 copy instead of rejecting the input', () => {
    for (const x of castInputs()) {
      const v = Array.from(x.dataSync());
      const y = tf.matMul(x, tf.ones([3, 1]));
      expectClose(y.dataSync(), [v[0]! + v[1]! + v[2]!, v[3]! + v[4]! + v[5]!], 1e-6);
      const c = tf.conv2d(x.reshape([1, 2, 3, 1]) as tf.Tensor4D, tf.ones([1, 1, 1, 1]), 1, 'same');
      expectClose(c.dataSync(), v, 1e-6);
      tf.dispose([x, y, c]);
    }
  });

  it('does not leak the copies', () => {
    const [a, b] = castInputs();
    expectNoLeaks(() =>
      tf.dispose(tf.tidy(() => [tf.matMul(a!, tf.ones([3, 2])), tf.add(b!, b!), tf.exp(a!)])),
    );
    tf.dispose([a!, b!]);
  });
});

describe('vectorised exp, tanh and sigmoid in the addon', () => {
  const native = nativeAvailable().ok ? getNativeAddon() : null;
  const maybe = native ? it : it.skip;
  const cases: [number, string, number, number, (x: number) => number][] = [
    [0, 'exp', -87, 88.7, Math.exp],
    [1, 'tanh', -10, 10, Math.tanh],
    [2, 'sigmoid', -30, 30, (x) => 1 / (1 + Math.exp(-x))],
  ];
  maybe.each(cases)(
    '%s (%s) is within 1e-6 relative of float64 over its range',
    (op, _name, lo, hi, f) => {
      const n = 200_003;
      const x = Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
      const y = new Float32Array(n);
      native!.unary(op, x, y);
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const want = f(x[i]!);
        if (Math.abs(want) < 1e-30) continue;
        worst = Math.max(worst, Math.abs(y[i]! - want) / Math.abs(want));
      }
      expect(worst).toBeLessThan(1e-6);
    },
  );

  maybe('handles NaN, infinities, overflow and underflow like float32 exp/tanh', () => {
    const x = Float32Array.of(Number.NaN, Infinity, -Infinity, 0, 89, -104, 9.5, -0.0001);
    const e = new Float32Array(x.length);
    const t = new Float32Array(x.length);
    native!.unary(0, x, e);
    native!.unary(1, x, t);
    expect(Array.from(e.slice(0, 6))).toEqual([Number.NaN, Infinity, 0, 1, Infinity, 0]);
    expect(Array.from(t.slice(0, 4))).toEqual([Number.NaN, 1, -1, 0]);
    expect(t[6]).toBe(1);
    expect(t[7]).toBeCloseTo(-0.0001, 10);
  });
});

describe('Cast on wasm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    installKernels(tf, 'wasm');
  });
  afterAll(() => uninstallKernels(tf, 'wasm'));

  it('shares the buffer for a same-dtype cast and converts otherwise', async () => {
    const a = tf.tensor1d([1.5, -2, 3]);
    const b = tf.cast(a, 'float32');
    const c = tf.cast(a, 'int32');
    a.dispose();
    expect(Array.from(await b.data())).toEqual([1.5, -2, 3]);
    expect(c.dtype).toBe('int32');
    expect(Array.from(await c.data())).toEqual([1, -2, 3]);
    tf.dispose([b, c]);
  });

  it('does not leak', () => {
    const a = tf.ones([5, 3]);
    expectNoLeaks(() =>
      tf.dispose([tf.cast(a, 'float32'), tf.cast(a, 'int32'), tf.cast(a, 'bool')]),
    );
    a.dispose();
  });
});
