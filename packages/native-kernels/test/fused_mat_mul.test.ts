import { installKernels, uninstallKernels } from '../src';
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

type Activation = 'linear' | 'relu' | 'relu6' | 'elu' | 'sigmoid' | 'leakyrelu' | 'prelu';

interface FusedCase {
  act: Activation;
  a: number[];
  b: number[];
  ta: boolean;
  tb: boolean;
  bias: number[] | null;
  grads: boolean;
}

const CASES: FusedCase[] = [
  { act: 'linear', a: [5, 4], b: [4, 3], ta: false, tb: false, bias: [3], grads: true },
  { act: 'relu', a: [2, 4, 5], b: [2, 3, 4], ta: true, tb: true, bias: [3], grads: true },
  { act: 'relu6', a: [6, 3], b: [3, 4], ta: false, tb: false, bias: [1], grads: false },
  { act: 'elu', a: [3, 5], b: [4, 5], ta: false, tb: true, bias: [4], grads: true },
  { act: 'sigmoid', a: [4, 3], b: [4, 2], ta: true, tb: false, bias: null, grads: false },
  { act: 'leakyrelu', a: [3, 6], b: [6, 5], ta: false, tb: false, bias: [1, 5], grads: false },
  { act: 'prelu', a: [2, 3, 4], b: [2, 4, 3], ta: false, tb: false, bias: [3], grads: false },
  // decoding rows: the few-row GEMM adds the product to bias-initialised rows
  {
    act: 'linear',
    a: [1, 3, 256],
    b: [1, 256, 300],
    ta: false,
    tb: false,
    bias: [300],
    grads: false,
  },
];

function fused(
  c: FusedCase,
  av: Float32Array,
  bv: Float32Array,
  biasv: Float32Array,
  pv: Float32Array,
  wv: Float32Array,
) {
  return tf.tidy(() => {
    const a = tf.tensor(av, c.a);
    const b = tf.tensor(bv, c.b);
    const bias = c.bias
      ? tf.tensor(
          biasv.subarray(
            0,
            c.bias.reduce((x, y) => x * y, 1),
          ),
          c.bias,
        )
      : undefined;
    const n = c.tb ? c.b[c.b.length - 2]! : c.b[c.b.length - 1]!;
    const prelu = c.act === 'prelu' ? tf.tensor1d(pv.subarray(0, n)) : undefined;
    const f = (x: tf.Tensor, y: tf.Tensor) =>
      tf.fused.matMul({
        a: x,
        b: y,
        transposeA: c.ta,
        transposeB: c.tb,
        bias,
        activation: c.act,
        preluActivationWeights: prelu,
        leakyreluAlpha: 0.1,
      });
    const y = f(a, b);
    if (!c.grads) return [y];
    const [ga, gb] = tf.grads((x: tf.Tensor, z: tf.Tensor) =>
      f(x, z)
        .mul(tf.tensor(wv.subarray(0, y.size), y.shape))
        .sum(),
    )([a, b]);
    return [y, ga!, gb!];
  });
}

describe.each(BACKENDS)('_FusedMatMul on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    installKernels(tf, backend);
  });
  afterAll(() => uninstallKernels(tf, backend));

  it.each(CASES)(
    '$act (bias $bias, transposes $ta/$tb) matches the stock cpu kernel',
    async (c) => {
      const rand = seeded(c.a.reduce((x, y) => x * y, 1) * 7 + c.act.length);
      const av = randArray(
        rand,
        c.a.reduce((x, y) => x * y, 1),
        -2,
        2,
      );
      const bv = randArray(
        rand,
        c.b.reduce((x, y) => x * y, 1),
      );
      const biasv = randArray(rand, 300);
      const pv = randArray(rand, 16, 0, 0.5);
      const wv = randArray(rand, 64);
      await useBackend(backend);
      const got = take(fused(c, av, bv, biasv, pv, wv));
      const ref = take(await withStock('cpu', () => fused(c, av, bv, biasv, pv, wv)));
      await useBackend(backend);
      installKernels(tf, backend);
      expect(got.length).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) expectClose(got[i]!, ref[i]!);
    },
  );

  it('does not leak tensors', async () => {
    await useBackend(backend);
    const rand = seeded(1);
    const c = CASES[1]!;
    const v = randArray(rand, 64);
    expectNoLeaks(() => tf.dispose(fused(c, v.subarray(0, 40), v.subarray(0, 24), v, v, v)));
  });
});
