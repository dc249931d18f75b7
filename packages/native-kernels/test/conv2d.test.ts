import { installKernels, uninstallKernels } from '../src';
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

type Pad =
  | 'same'
  | 'valid'
  | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
  dilations?: [number, number];
}

const CASES: ConvCase[] = [
  { name: 'batch 1, 3x3 same', x: [1, 6, 6, 2], f: [3, 3, 2, 3], strides: [1, 1], pad: 'same' },
  { name: 'odd sizes valid', x: [2, 7, 5, 3], f: [3, 2, 3, 5], strides: [1, 1], pad: 'valid' },
  { name: 'stride 2 same', x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: [2, 2], pad: 'same' },
  {
    name: 'stride 2 valid, 4x4 filter',
    x: [2, 8, 8, 2],
    f: [4, 4, 2, 3],
    strides: [2, 2],
    pad: 'valid',
  },
  {
    name: 'stride (2, 1) same, even filter',
    x: [1, 7, 6, 2],
    f: [2, 4, 2, 3],
    strides: [2, 1],
    pad: 'same',
  },
  {
    name: 'explicit padding',
    x: [2, 5, 6, 2],
    f: [3, 3, 2, 2],
    strides: [1, 2],
    pad: [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  },
  // stride 1 input gradients run as a forward convolution with the rotated filter; padding wider
  // than the filter (3 > fh - 1) makes the rotated padding negative
  {
    name: 'stride 1, explicit asymmetric padding wider than the filter',
    x: [2, 5, 4, 3],
    f: [2, 3, 3, 4],
    strides: [1, 1],
    pad: [
      [0, 0],
      [3, 0],
      [0, 2],
      [0, 0],
    ],
  },
  { name: 'pointwise 1x1', x: [3, 4, 5, 6], f: [1, 1, 6, 4], strides: [1, 1], pad: 'valid' },
  { name: '1x1 stride 2', x: [2, 5, 5, 3], f: [1, 1, 3, 2], strides: [2, 2], pad: 'same' },
  // co <= 4 with ci >= 8 takes the addon's direct (im2col-free) forward and input gradient
  {
    name: 'few output channels, same',
    x: [2, 7, 6, 9],
    f: [3, 3, 9, 3],
    strides: [1, 1],
    pad: 'same',
  },
  {
    name: 'few output channels, ci 20 (16-wide blocks and a tail), co 4',
    x: [2, 5, 6, 20],
    f: [3, 2, 20, 4],
    strides: [1, 1],
    pad: 'same',
  },
  {
    name: 'few input channels (the input gradient takes the direct loops), co 2',
    x: [2, 6, 5, 2],
    f: [3, 3, 2, 12],
    strides: [1, 1],
    pad: 'same',
  },
  {
    name: 'few output channels, stride (2, 1) valid',
    x: [1, 8, 7, 16],
    f: [4, 2, 16, 1],
    strides: [2, 1],
    pad: 'valid',
  },
  // 512 output rows of K = 576 (455 rows a chunk): the column buffer is filled in chunks that cross the image boundary
  {
    name: 'row chunks across images',
    x: [2, 20, 20, 64],
    f: [3, 3, 64, 5],
    strides: [1, 1],
    pad: 'same',
  },
  // 3x3, stride 1, >= 8 channels in and out: the addon's Winograd F(2x2, 3x3) forward (and the
  // input gradient, a forward convolution with the rotated filter); odd output sizes clip the last
  // 2x2 tiles
  {
    name: 'Winograd, odd output size (same)',
    x: [3, 7, 9, 9],
    f: [3, 3, 9, 11],
    strides: [1, 1],
    pad: 'same',
  },
  {
    name: 'Winograd, valid',
    x: [2, 8, 7, 12],
    f: [3, 3, 12, 8],
    strides: [1, 1],
    pad: 'valid',
  },
  {
    name: 'Winograd, explicit asymmetric padding',
    x: [1, 6, 6, 8],
    f: [3, 3, 8, 16],
    strides: [1, 1],
    pad: [
      [0, 0],
      [2, 0],
      [0, 1],
      [0, 0],
    ],
  },
  // padding wider than the filter on Winograd and the direct loops: whole 2x2 tiles and filter rows
  // fall outside the image, and the rotated padding of the input gradient is negative (-2)
  {
    name: 'Winograd, padding wider than the filter',
    x: [1, 5, 6, 8],
    f: [3, 3, 8, 9],
    strides: [1, 1],
    pad: [
      [0, 0],
      [4, 3],
      [3, 5],
      [0, 0],
    ],
  },
  {
    name: 'Winograd on a one-row input (3x3 filter taller than the image)',
    x: [2, 1, 20, 8],
    f: [3, 3, 8, 8],
    strides: [1, 1],
    pad: 'same',
  },
  // 64+ 4x4 output tiles: F(4x4, 3x3) (all tiles transformed at once at this size), with the last
  // tiles clipped on both axes
  {
    name: 'Winograd F(4x4, 3x3), odd output size (same)',
    x: [2, 17, 30, 9],
    f: [3, 3, 9, 11],
    strides: [1, 1],
    pad: 'same',
  },
  {
    name: 'Winograd F(4x4, 3x3), valid',
    x: [3, 20, 22, 8],
    f: [3, 3, 8, 10],
    strides: [1, 1],
    pad: 'valid',
  },
  {
    name: 'few output channels, padding wider than the filter',
    x: [1, 4, 5, 8],
    f: [2, 2, 8, 3],
    strides: [1, 1],
    pad: [
      [0, 0],
      [3, 1],
      [2, 4],
      [0, 0],
    ],
  },
  {
    name: 'stride 2, padding wider than the filter',
    x: [1, 5, 5, 2],
    f: [2, 2, 2, 3],
    strides: [2, 2],
    pad: [
      [0, 0],
      [3, 3],
      [4, 2],
      [0, 0],
    ],
  },
  {
    name: 'filter larger than input (same)',
    x: [1, 2, 3, 2],
    f: [5, 5, 2, 2],
    strides: [1, 1],
    pad: 'same',
  },
];

// gradients of dilated convs are not implemented in tfjs-core: forward only (and the F(4x4, 3x3)
// forward in batches of tiles, 3721 clipped tiles here: the stock cpu filter gradient at this size
// would take minutes)
const FORWARD_ONLY: ConvCase[] = [
  {
    name: 'Winograd F(4x4, 3x3) in tile batches, odd output size',
    x: [1, 243, 242, 16],
    f: [3, 3, 16, 16],
    strides: [1, 1],
    pad: 'same',
  },
  {
    name: 'dilation 2 same',
    x: [2, 9, 8, 2],
    f: [3, 3, 2, 3],
    strides: [1, 1],
    pad: 'same',
    dilations: [2, 2],
  },
  {
    name: 'dilation (2, 3) valid',
    x: [1, 9, 10, 2],
    f: [2, 3, 2, 2],
    strides: [1, 1],
    pad: 'valid',
    dilations: [2, 3],
  },
  {
    name: 'dilation 2, few output channels (direct)',
    x: [1, 9, 9, 8],
    f: [3, 3, 8, 2],
    strides: [1, 1],
    pad: 'same',
    dilations: [2, 2],
  },
];

function outShape(c: ConvCase): number[] {
  return tf.backend_util.computeConv2DInfo(
    c.x,
    c.f,
    c.strides,
    c.dilations ?? 1,
    c.pad,
    undefined,
    false,
    'channelsLast',
  ).outShape;
}

function convAndGrads(
  c: ConvCase,
  xv: Float32Array,
  fv: Float32Array,
  wv: Float32Array,
  grads: boolean,
) {
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, c.x);
    const f = tf.tensor4d(fv, c.f);
    const w = tf.tensor(wv, outShape(c));
    const conv = (a: tf.Tensor, b: tf.Tensor) =>
      tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad, 'NHWC', c.dilations ?? 1);
    const y = conv(x, f);
    if (!grads) return [y];
    const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) => conv(a, b).mul(w).sum())([x, f]);
    return [y, gx!, gf!];
  });
}

function data(c: ConvCase, seed: number) {
  const rand = seeded(seed);
  return {
    xv: randArray(rand, sizeOf(c.x)),
    fv: randArray(rand, sizeOf(c.f)),
    wv: randArray(rand, sizeOf(outShape(c))),
  };
}

describe.each(BACKENDS)('Conv2D and its gradients on %s', (backend) => {
  describe.each(MODES)('$label kernels', ({ options }) => {
    beforeAll(async () => {
      await useBackend(backend);
      installKernels(tf, backend, options);
    });
    afterAll(() => uninstallKernels(tf, backend));

    const check = async (c: ConvCase, seed: number, grads: boolean) => {
      const { xv, fv, wv } = data(c, seed);
      await useBackend(backend);
      const got = take(convAndGrads(c, xv, fv, wv, grads));
      const ref = take(await withStock('cpu', () => convAndGrads(c, xv, fv, wv, grads)));
      await useBackend(backend);
      installKernels(tf, backend, options);
      expect(got.length).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) expectClose(got[i]!, ref[i]!);
    };

    it.each(CASES)(
      '$name: forward, input and filter gradients match the stock kernels',
      async (c) => {
        await check(c, sizeOf(c.x) + sizeOf(c.f), true);
      },
    );

    it.each(FORWARD_ONLY)('$name: forward matches the stock kernel', async (c) => {
      await check(c, sizeOf(c.x), false);
    });

    it('random shapes match the stock kernels', async () => {
      const rand = seeded(11);
      for (let trial = 0; trial < 5; trial++) {
        const r = (n: number) => 1 + Math.floor(rand() * n);
        const fh = r(4);
        const fw = r(4);
        const c: ConvCase = {
          name: 'random',
          x: [r(3), fh + r(6), fw + r(6), r(4)],
          f: [fh, fw, 0, r(5)],
          strides: [r(2), r(2)],
          pad: rand() < 0.5 ? 'same' : 'valid',
        };
        c.f[2] = c.x[3];
        await check(c, trial + 100, true);
      }
    });

    it('conv2dTranspose (Conv2DBackpropInput as a forward op) matches the stock kernel', async () => {
      const rand = seeded(5);
      const dyv = randArray(rand, 2 * 4 * 4 * 3);
      const fv = randArray(rand, 3 * 3 * 2 * 3);
      const run = () =>
        tf.tidy(() => [
          tf.conv2dTranspose(
            tf.tensor4d(dyv, [2, 4, 4, 3]),
            tf.tensor4d(fv, [3, 3, 2, 3]),
            [2, 7, 7, 2],
            2,
            'same',
          ),
        ]);
      await useBackend(backend);
      const got = take(run());
      const ref = take(await withStock('cpu', run));
      await useBackend(backend);
      installKernels(tf, backend, options);
      expectClose(got[0]!, ref[0]!);
    });

    it('does not leak tensors', async () => {
      await useBackend(backend);
      const c = CASES[2]!;
      const { xv, fv, wv } = data(c, 1);
      expectNoLeaks(() => tf.dispose(convAndGrads(c, xv, fv, wv, true)));
    });
  });

  it('falls back to the stock kernel for NCHW (cpu)', async () => {
    if (backend !== 'cpu') return; // wasm has no NCHW conv at all
    const rand = seeded(9);
    const xv = randArray(rand, 2 * 3 * 5 * 5);
    const fv = randArray(rand, 3 * 3 * 3 * 2);
    const run = () =>
      tf.tidy(() => [
        tf.conv2d(tf.tensor4d(xv, [2, 3, 5, 5]), tf.tensor4d(fv, [3, 3, 3, 2]), 1, 'same', 'NCHW'),
      ]);
    await useBackend(backend);
    installKernels(tf, backend);
    const got = take(run());
    const ref = take(await withStock('cpu', run));
    expectClose(got[0]!, ref[0]!);
  });
});

describe.each(BACKENDS)('FusedConv2D on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    installKernels(tf, backend);
  });
  afterAll(() => uninstallKernels(tf, backend));

  const acts = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;

  it.each(acts)('%s with bias matches conv2d + bias + activation on stock cpu', async (act) => {
    const rand = seeded(act.length * 13);
    const xv = randArray(rand, 2 * 6 * 5 * 3);
    const fv = randArray(rand, 3 * 3 * 3 * 4);
    const bv = randArray(rand, 4);
    const pv = randArray(rand, 4, 0, 0.5);
    const run = (fused: boolean) => () =>
      tf.tidy(() => {
        const x = tf.tensor4d(xv, [2, 6, 5, 3]);
        const f = tf.tensor4d(fv, [3, 3, 3, 4]);
        const bias = tf.tensor1d(bv);
        const alpha = tf.tensor1d(pv);
        if (fused) {
          return [
            tf.fused.conv2d({
              x,
              filter: f,
              strides: 2,
              pad: 'same',
              bias,
              activation: act,
              preluActivationWeights: act === 'prelu' ? alpha : undefined,
              leakyreluAlpha: 0.1,
            }),
          ];
        }
        const y = tf.conv2d(x, f, 2, 'same').add(bias);
        const out = {
          linear: () => y,
          relu: () => tf.relu(y),
          relu6: () => tf.relu6(y),
          elu: () => tf.elu(y),
          sigmoid: () => tf.sigmoid(y),
          leakyrelu: () => tf.leakyRelu(y, 0.1),
          prelu: () => tf.prelu(y, alpha),
        }[act]();
        return [out];
      });
    await useBackend(backend);
    const got = take(run(true)());
    const ref = take(await withStock('cpu', run(false)));
    await useBackend(backend);
    installKernels(tf, backend);
    expectClose(got[0]!, ref[0]!);
  });
});

describe.each(BACKENDS)('FusedConv2D with a linear bias (added by the addon) on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    installKernels(tf, backend);
  });
  afterAll(() => uninstallKernels(tf, backend));

  // one case per forward path: im2col, pointwise GEMM, direct loops (co <= 4), Winograd F(2x2, 3x3),
  // F(4x4, 3x3) with all tiles at once and in tile batches (clipped tiles)
  const cases: [string, number[], number[], number][] = [
    ['im2col', [2, 9, 8, 5], [3, 2, 5, 7], 2],
    ['pointwise', [2, 5, 6, 8], [1, 1, 8, 6], 1],
    ['direct', [2, 7, 6, 9], [3, 3, 9, 3], 1],
    ['Winograd F(2x2, 3x3)', [2, 7, 9, 9], [3, 3, 9, 11], 1],
    ['Winograd F(4x4, 3x3)', [2, 17, 30, 9], [3, 3, 9, 11], 1],
    ['Winograd F(4x4, 3x3) in tile batches', [1, 243, 242, 16], [3, 3, 16, 16], 1],
  ];

  it.each(cases)('%s: x %j filter %j stride %i', async (_name, xs, fs, stride) => {
    const rand = seeded(sizeOf(xs));
    const xv = randArray(rand, sizeOf(xs));
    const fv = randArray(rand, sizeOf(fs));
    const bv = randArray(rand, fs[3]!, -2, 2);
    const run = (fused: boolean) => () =>
      tf.tidy(() => {
        const x = tf.tensor4d(xv, xs as [number, number, number, number]);
        const f = tf.tensor4d(fv, fs as [number, number, number, number]);
        const bias = tf.tensor1d(bv);
        return [
          fused
            ? tf.fused.conv2d({ x, filter: f, strides: stride, pad: 'same', bias })
            : tf.conv2d(x, f, stride, 'same').add(bias),
        ];
      });
    await useBackend(backend);
    const got = take(run(true)());
    const ref = take(await withStock('cpu', run(false)));
    await useBackend(backend);
    installKernels(tf, backend);
    expectClose(got[0]!, ref[0]!);
    expectNoLeaks(() => tf.dispose(run(true)()));
  });
});

describe('depthwise conv gradients on wasm (missing from stock wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    installKernels(tf, 'wasm');
  });
  afterAll(() => uninstallKernels(tf, 'wasm'));

  const cases = [
    { x: [2, 7, 6, 3], f: [3, 3, 3, 2], strides: 1, pad: 'same' as const },
    { x: [1, 8, 8, 2], f: [3, 2, 2, 1], strides: 2, pad: 'valid' as const },
    { x: [2, 5, 5, 2], f: [2, 2, 2, 3], strides: 2, pad: 'same' as const },
  ];

  it.each(cases)('x $x filter $f stride $strides $pad matches the stock cpu kernels', async (c) => {
    const rand = seeded(sizeOf(c.x));
    const xv = randArray(rand, sizeOf(c.x));
    const fv = randArray(rand, sizeOf(c.f));
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(xv, c.x as [number, number, number, number]);
        const f = tf.tensor4d(fv, c.f as [number, number, number, number]);
        const conv = (a: tf.Tensor, b: tf.Tensor) =>
          tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
        const y = conv(x, f);
        const w = tf.tensor(randArray(seeded(3), y.size), y.shape);
        const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) => conv(a, b).mul(w).sum())([x, f]);
        return [y, gx!, gf!];
      });
    await useBackend('wasm');
    const got = take(run());
    const ref = take(await withStock('cpu', run));
    await useBackend('wasm');
    installKernels(tf, 'wasm');
    for (let i = 0; i < 3; i++) expectClose(got[i]!, ref[i]!);
  });
});
