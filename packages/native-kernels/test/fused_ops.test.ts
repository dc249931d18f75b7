// The fused transformer ops (fusedGelu, fusedLayerNorm, causalSelfAttention): forward and
// gradients against the composite formulas on stock cpu kernels, on cpu and wasm, with the addon's
// kernels (when built) and with the composite fallback; causality; thread-count independence;
// argument errors; no leaks; a tiny GPT step with the fused blocks against the stock-op model.
import { makeGpt } from '../bench/models';
import {
  CAUSAL_ATTENTION_KERNEL,
  causalSelfAttention,
  FUSED_OP_KERNELS,
  fusedGelu,
  fusedLayerNorm,
  GELU_KERNEL,
  type GeluApproximate,
  type InstallKernelsOptions,
  installKernels,
  LAYER_NORM_KERNEL,
  nativeAvailable,
  uninstallKernels,
} from '../src';
import { getNativeAddon } from '../src/addon';
import { causalAttentionComposite } from '../src/kernels/causal_attention';
import { geluComposite } from '../src/kernels/gelu';
import { layerNormComposite } from '../src/kernels/layer_norm';
import {
  BACKENDS,
  expectClose,
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

/** Value and gradients of sum(f(inputs) * w) for a fixed random weighting w. */
function valueAndGrads(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  values: { data: Float32Array; shape: number[] }[],
  seed: number,
): Float32Array[] {
  return take(
    tf.tidy(() => {
      const xs = values.map((v) => tf.tensor(v.data, v.shape));
      const y = f(...xs);
      const w = tf.tensor(randArray(seeded(seed), y.size), y.shape);
      const g = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(f(...ts), w)))(xs);
      return [y, ...g];
    }),
  );
}

/** The same, with the composite formula on the stock cpu backend (this package's kernels removed). */
async function reference(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  values: { data: Float32Array; shape: number[] }[],
  seed: number,
  backend: 'cpu' | 'wasm',
  restore: InstallKernelsOptions,
): Promise<Float32Array[]> {
  const out = await withStock('cpu', () => valueAndGrads(f, values, seed), restore);
  await useBackend(backend);
  if (backend !== 'cpu') installKernels(tf, backend, restore);
  return out;
}

function rand(shape: number[], seed: number, lo = -1, hi = 1) {
  return { data: randArray(seeded(seed), sizeOf(shape), lo, hi), shape };
}

const GELU_CASES: { shape: number[]; lo: number; hi: number }[] = [
  { shape: [1], lo: -1, hi: 1 },
  { shape: [7], lo: -4, hi: 4 },
  { shape: [3, 5], lo: -8, hi: 8 },
  { shape: [2, 3, 513], lo: -6, hi: 6 },
  { shape: [4, 4097], lo: -3, hi: 3 }, // more than one pool chunk
];

const LN_CASES: { shape: number[]; eps: number }[] = [
  { shape: [1, 4], eps: 1e-5 }, // rows = 1
  { shape: [5], eps: 1e-5 }, // rank 1
  { shape: [5, 7], eps: 1e-3 },
  { shape: [2, 3, 33], eps: 1e-5 },
  { shape: [70, 128], eps: 1e-5 }, // several row blocks, the last one partial
];

// [b, t, d, nHead]: t = 1, odd t and d, hd not a multiple of 8, t over one 32-row block
const ATT_CASES: { b: number; t: number; d: number; nHead: number; scale?: number }[] = [
  { b: 1, t: 1, d: 8, nHead: 2 },
  { b: 2, t: 5, d: 12, nHead: 3 },
  { b: 1, t: 9, d: 15, nHead: 3 },
  { b: 2, t: 33, d: 24, nHead: 2 },
  { b: 1, t: 70, d: 6, nHead: 1, scale: 0.7 },
];

describe.each(BACKENDS)('fused ops on %s', (backend) => {
  const options: InstallKernelsOptions = { native: true, threads: 2, parallelThreshold: 0 };
  beforeAll(async () => {
    await useBackend(backend);
    installKernels(tf, backend, options);
  });
  afterAll(() => uninstallKernels(tf, backend));

  it(`registers the fused kernels exactly when the addon is available (${NATIVE})`, async () => {
    await useBackend(backend);
    for (const k of FUSED_OP_KERNELS) expect(tf.getKernel(k, backend) !== undefined).toBe(NATIVE);
    const report = installKernels(tf, backend, options);
    if (NATIVE) expect(report.kernels).toEqual(expect.arrayContaining([...FUSED_OP_KERNELS]));
    else for (const k of FUSED_OP_KERNELS) expect(report.kernels).not.toContain(k);
  });

  describe.each(['none', 'tanh'] as GeluApproximate[])('fusedGelu %s', (approximate) => {
    it.each(GELU_CASES)('$shape in [$lo, $hi]: value and gradient', async (c) => {
      await useBackend(backend);
      const x = rand(c.shape, sizeOf(c.shape), c.lo, c.hi);
      const got = valueAndGrads((t) => fusedGelu(t, approximate), [x], 3);
      const ref = await reference((t) => geluComposite(t, approximate), [x], 3, backend, options);
      expectClose(got[0]!, ref[0]!, 1e-4);
      expectClose(got[1]!, ref[1]!, 1e-4);
    });
  });

  it.each([
    {
      approximate: 'none' as const,
      // x Phi(x), scipy.stats.norm.cdf in float64
      want: [
        -7.61985302416047e-23, -5.919525870226167e-9, -0.00404969409489028, -0.15865525393145707,
        -0.15426876936299344, 0, 0.34573123063700656, 0.8413447460685429, 2.99595030590511,
      ],
    },
    {
      approximate: 'tanh' as const,
      // x / (1 + exp(-2u)) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), numpy float64
      want: [
        -1.2040923482098023e-37, -8.43964670076231e-11, -0.003637392081773019, -0.15880800939172326,
        -0.15428599017485609, 0, 0.34571400982514394, 0.8411919906082768, 2.9963626079182273,
      ],
    },
  ])('fusedGelu $approximate matches float64 values in the negative tail', async (c) => {
    await useBackend(backend);
    const xs = [-10, -6, -3, -1, -0.5, 0, 0.5, 1, 3];
    const y = fusedGelu(tf.tensor1d(xs), c.approximate);
    const got = await y.data();
    y.dispose();
    for (let i = 0; i < xs.length; i++) {
      // the fused kernels keep relative accuracy in the tail; the composite formulas cancel there
      const want = c.want[i]!;
      const tol = NATIVE ? 2e-5 * Math.abs(want) : 1e-6 * Math.max(1, Math.abs(xs[i]!));
      expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(tol + 1e-37);
    }
  });

  it.each(LN_CASES)('fusedLayerNorm $shape eps $eps: value and gradients', async (c) => {
    await useBackend(backend);
    const dim = c.shape[c.shape.length - 1]!;
    const x = rand(c.shape, 11 + sizeOf(c.shape), -3, 5);
    const g = rand([dim], 12, 0.5, 1.5);
    const bb = rand([dim], 13);
    const f = (t: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) =>
      fusedLayerNorm(t, gm as tf.Tensor1D, bt as tf.Tensor1D, c.eps);
    const got = valueAndGrads(f as (...xs: tf.Tensor[]) => tf.Tensor, [x, g, bb], 5);
    const ref = await reference(
      ((t: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => layerNormComposite(t, gm, bt, c.eps)) as (
        ...xs: tf.Tensor[]
      ) => tf.Tensor,
      [x, g, bb],
      5,
      backend,
      options,
    );
    expect(got.length).toBe(4);
    for (let i = 0; i < 4; i++) expectClose(got[i]!, ref[i]!, 1e-4);
  });

  it.each(ATT_CASES)(
    'causalSelfAttention b=$b t=$t d=$d nHead=$nHead: value and gradients',
    async (c) => {
      await useBackend(backend);
      const shape = [c.b, c.t, c.d];
      const q = rand(shape, 21 + c.t, -2, 2);
      const k = rand(shape, 22 + c.t, -2, 2);
      const v = rand(shape, 23 + c.t);
      const f = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
        causalSelfAttention(a as tf.Tensor3D, b as tf.Tensor3D, d as tf.Tensor3D, c.nHead, c.scale);
      const scale = c.scale ?? 1 / Math.sqrt(c.d / c.nHead);
      const got = valueAndGrads(f as (...xs: tf.Tensor[]) => tf.Tensor, [q, k, v], 7);
      const ref = await reference(
        ((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
          causalAttentionComposite(
            a as tf.Tensor3D,
            b as tf.Tensor3D,
            d as tf.Tensor3D,
            c.nHead,
            scale,
          )) as (...xs: tf.Tensor[]) => tf.Tensor,
        [q, k, v],
        7,
        backend,
        options,
      );
      expect(got.length).toBe(4);
      for (let i = 0; i < 4; i++) expectClose(got[i]!, ref[i]!, 1e-4);
    },
  );

  it('causalSelfAttention is causal: later positions never change earlier outputs', async () => {
    await useBackend(backend);
    const [b, t, d, nHead] = [2, 40, 12, 3];
    const base = [rand([b, t, d], 31), rand([b, t, d], 32), rand([b, t, d], 33)];
    const run = (vals: typeof base) =>
      take(
        tf.tidy(() => {
          const [q, k, v] = vals.map((x) =>
            tf.tensor3d(x.data, x.shape as [number, number, number]),
          );
          return [causalSelfAttention(q!, k!, v!, nHead)];
        }),
      )[0]!;
    const y0 = run(base);
    for (const pos of [t - 1, 17, 3]) {
      // change q, k and v at positions >= pos of both batch items
      const changed = base.map((x, which) => {
        const data = Float32Array.from(x.data);
        for (let bi = 0; bi < b; bi++) {
          for (let i = pos; i < t; i++) {
            for (let j = 0; j < d; j++) data[(bi * t + i) * d + j] += 5 + which + j;
          }
        }
        return { data, shape: x.shape };
      });
      const y1 = run(changed);
      for (let bi = 0; bi < b; bi++) {
        const lo = bi * t * d;
        // positions before pos: identical; position pos itself: changed
        expect(Array.from(y1.subarray(lo, lo + pos * d))).toEqual(
          Array.from(y0.subarray(lo, lo + pos * d)),
        );
        expect(y1[lo + pos * d]).not.toBe(y0[lo + pos * d]);
      }
    }
  });

  it('accepts float32 tensors cast from int32 (cpu shares the Int32Array)', async () => {
    await useBackend(backend);
    const ints = [1, -2, 3, 4, 0, 1, -1, 2, 5, 3, 3, -4];
    const run = (x: tf.Tensor3D) =>
      take(
        tf.tidy(() => {
          const g = tf.ones([6]) as tf.Tensor1D;
          const bb = tf.zeros([6]) as tf.Tensor1D;
          return [fusedGelu(x), fusedLayerNorm(x, g, bb, 1e-5), causalSelfAttention(x, x, x, 2)];
        }),
      );
    const cast = tf.cast(tf.tensor3d(ints, [1, 2, 6], 'int32'), 'float32') as tf.Tensor3D;
    const plain = tf.tensor3d(ints, [1, 2, 6], 'float32');
    const got = run(cast);
    const ref = run(plain);
    for (let i = 0; i < 3; i++) expect(Array.from(got[i]!)).toEqual(Array.from(ref[i]!));
    tf.dispose([cast, plain]);
  });

  it('does not leak tensors (forward and backward of all three)', async () => {
    await useBackend(backend);
    const x = tf.variable(tf.randomNormal([2, 5, 12], 0, 1, 'float32', 1));
    const g = tf.variable(tf.ones([12]));
    const bb = tf.variable(tf.zeros([12]));
    expectNoLeaks(() => {
      const { value, grads } = tf.variableGrads(() => {
        const h = fusedLayerNorm(x, g as tf.Tensor1D, bb as tf.Tensor1D, 1e-5) as tf.Tensor3D;
        const a = causalSelfAttention(h, h, fusedGelu(h, 'tanh') as tf.Tensor3D, 3);
        return tf.sum(fusedGelu(a)) as tf.Scalar;
      }, [x, g, bb]);
      tf.dispose([value, ...Object.values(grads)]);
      tf.dispose(fusedGelu(x)); // forward only: nothing saved for a gradient
    });
    tf.dispose([x, g, bb]);
  });
});

describe('fused ops: argument errors', () => {
  beforeAll(() => useBackend('cpu'));

  it('names the op, the argument and the problem', () => {
    const i32 = tf.tensor1d([1, 2], 'int32');
    const x = tf.zeros([2, 3, 4]) as tf.Tensor3D;
    expect(() => fusedGelu(i32)).toThrow(/fusedGelu: x must be float32, got int32/);
    expect(() => fusedGelu(x, 'erf' as 'none')).toThrow(/approximate must be 'none' or 'tanh'/);
    expect(() => fusedGelu([1, 2] as unknown as tf.Tensor)).toThrow(/x must be a tf.Tensor/);
    const g = tf.ones([4]) as tf.Tensor1D;
    expect(() => fusedLayerNorm(x, tf.ones([3]) as tf.Tensor1D, g, 1e-5)).toThrow(
      /gamma must have shape \[4\] \(the last dim of x \[2,3,4\]\), got \[3\]/,
    );
    expect(() => fusedLayerNorm(x, g, g, -1)).toThrow(/eps must be a finite number >= 0/);
    expect(() => fusedLayerNorm(x, g, tf.ones([4], 'int32') as tf.Tensor1D, 1e-5)).toThrow(
      /beta must be float32/,
    );
    expect(() => causalSelfAttention(x, x, x, 3)).toThrow(
      /d = 4 \(last dim of q\) is not divisible by nHead = 3/,
    );
    expect(() => causalSelfAttention(x, tf.zeros([2, 2, 4]) as tf.Tensor3D, x, 2)).toThrow(
      /k shape \[2,2,4\] must equal q shape \[2,3,4\]/,
    );
    expect(() => causalSelfAttention(x, x, x, 0)).toThrow(/nHead must be a positive integer/);
    expect(() => causalSelfAttention(tf.zeros([3, 4]) as unknown as tf.Tensor3D, x, x, 2)).toThrow(
      /q must have rank 3/,
    );
    tf.dispose([i32, x, g]);
  });
});

const describeNative = NATIVE ? describe : describe.skip;

describeNative('fused kernels: pool threads', () => {
  it.each(BACKENDS)('give identical results with 1 and 2 threads on %s', async (backend) => {
    await useBackend(backend);
    const x = rand([3, 50, 24], 41, -2, 2);
    const g = rand([24], 42, 0.5, 1.5);
    const bb = rand([24], 43);
    const f = (t: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => {
      const h = fusedLayerNorm(t, gm as tf.Tensor1D, bt as tf.Tensor1D, 1e-5) as tf.Tensor3D;
      const a = causalSelfAttention(h, fusedGelu(h) as tf.Tensor3D, h, 4);
      return fusedGelu(a, 'tanh');
    };
    const run = (threads: number) => {
      installKernels(tf, backend, { threads, parallelThreshold: 0 });
      return valueAndGrads(f as (...xs: tf.Tensor[]) => tf.Tensor, [x, g, bb], 44);
    };
    const one = run(1);
    const two = run(2);
    uninstallKernels(tf, backend);
    for (let i = 0; i < one.length; i++) expect(Array.from(two[i]!)).toEqual(Array.from(one[i]!));
  });

  it('the addon rejects buffers shorter than the shapes', () => {
    const addon = getNativeAddon()!;
    const a = new Float32Array(8);
    expect(() => addon.geluForward(a, new Float32Array(4), 0)).toThrow(/y has 4 elements, needs 8/);
    expect(() => addon.geluForward(a, a.slice(), 2)).toThrow(/form must be 0/);
    expect(() => addon.layerNormForward(a, a, a, a, new Float32Array(1), a, 2, 4, 1e-5)).toThrow(
      /layerNormForward: mean has 1 elements, needs 2/,
    );
    expect(() =>
      addon.causalAttentionForward(a, a, a, a, new Float32Array(3), 1, 2, 2, 2, 1),
    ).toThrow(/causalAttentionForward: p has 3 elements, needs 8/);
    expect(() =>
      addon.causalAttentionBackward(a, a, a, a, a, a, a, new Float32Array(2), 1, 2, 2, 2, 1),
    ).toThrow(/dv has 2 elements, needs 8/);
  });
});

describe('tiny GPT with the fused blocks', () => {
  const GPT = { layers: 2, heads: 2, dModel: 8, seqLen: 6, batch: 2, vocab: 13, lr: 1e-2 };
  afterAll(() => uninstallKernels(tf, 'wasm'));

  it('trains on wasm with the losses of the stock-op model, without leaking', async () => {
    await useBackend('wasm');
    installKernels(tf, 'wasm', { native: true });
    const losses = async (blocks: 'stock' | 'fused') => {
      const net = makeGpt(tf, { ...GPT, blocks });
      const out: number[] = [];
      for (let i = 0; i < 3; i++) out.push(await net.step());
      net.dispose();
      return out;
    };
    const ref = await losses('stock');
    const before = tf.memory().numTensors;
    const got = await losses('fused');
    expect(tf.memory().numTensors).toBe(before);
    expect(ref[2]!).toBeLessThan(ref[0]!);
    for (let i = 0; i < 3; i++) {
      expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(1e-4 * Math.abs(ref[i]!));
    }
    expect(tf.getKernel(GELU_KERNEL, 'wasm') !== undefined).toBe(NATIVE);
    expect(tf.getKernel(LAYER_NORM_KERNEL, 'wasm') !== undefined).toBe(NATIVE);
    expect(tf.getKernel(CAUSAL_ATTENTION_KERNEL, 'wasm') !== undefined).toBe(NATIVE);
  });
});
