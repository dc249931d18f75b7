// The GroupNorm (+ swish) inference kernel against a float64 reference of PyTorch's GroupNorm, on
// cpu and wasm with the addon; thread-count independence; declined calls; no leaks.
import { GROUP_NORM_KERNEL, installKernels, nativeAvailable, uninstallKernels } from '../src';
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
} from './helpers';

const NATIVE = nativeAvailable().ok;

/** GroupNorm of x [b, ..., c] in float64 (groups of c / groups channels, biased variance), then swish. */
function reference(
  x: Float32Array,
  shape: number[],
  gamma: Float32Array,
  beta: Float32Array,
  groups: number,
  eps: number,
  swish: boolean,
): Float64Array {
  const b = shape[0]!;
  const c = shape[shape.length - 1]!;
  const hw = sizeOf(shape) / (b * c);
  const cg = c / groups;
  const y = new Float64Array(x.length);
  for (let i = 0; i < b; i++) {
    for (let g = 0; g < groups; g++) {
      let s = 0;
      for (let p = 0; p < hw; p++)
        for (let k = 0; k < cg; k++) s += x[(i * hw + p) * c + g * cg + k]!;
      const mean = s / (hw * cg);
      let q = 0;
      for (let p = 0; p < hw; p++) {
        for (let k = 0; k < cg; k++) q += (x[(i * hw + p) * c + g * cg + k]! - mean) ** 2;
      }
      const rstd = 1 / Math.sqrt(q / (hw * cg) + eps);
      for (let p = 0; p < hw; p++) {
        for (let k = 0; k < cg; k++) {
          const j = (i * hw + p) * c + g * cg + k;
          const a = (x[j]! - mean) * rstd * gamma[g * cg + k]! + beta[g * cg + k]!;
          y[j] = swish ? a / (1 + Math.exp(-a)) : a;
        }
      }
    }
  }
  return y;
}

function run(
  xv: Float32Array,
  shape: number[],
  gv: Float32Array,
  bv: Float32Array,
  attrs: { groups: number; eps: number; swish: boolean },
): Float32Array {
  const [y] = take(
    tf.tidy(() => [
      tf
        .engine()
        .runKernel(
          GROUP_NORM_KERNEL,
          { x: tf.tensor(xv, shape), gamma: tf.tensor1d(gv), beta: tf.tensor1d(bv) },
          attrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
    ]),
  );
  return y!;
}

// [shape, groups]: rows spanning several 256-row blocks with a partial last one, one group per
// channel, a single group, rank 3
const CASES: [number[], number][] = [
  [[2, 23, 25, 12], 4],
  [[3, 4, 5, 6], 6],
  [[1, 7, 3, 8], 1],
  [[2, 300, 16], 8],
];

(NATIVE ? describe.each(BACKENDS) : describe.skip.each(BACKENDS))(
  'GroupNorm inference kernel on %s',
  (backend) => {
    beforeAll(async () => {
      await useBackend(backend);
      installKernels(tf, backend, { native: true });
    });
    afterAll(() => uninstallKernels(tf, backend));

    it.each(CASES)('%j in %i groups, with and without swish, matches float64', (shape, groups) => {
      const rand = seeded(sizeOf(shape) + groups);
      const c = shape[shape.length - 1]!;
      // an offset mean and spread, so a one-pass variance would lose digits without float64 sums
      const xv = randArray(rand, sizeOf(shape), 2, 6);
      const gv = randArray(rand, c, 0.5, 1.5);
      const bv = randArray(rand, c, -0.5, 0.5);
      for (const swish of [false, true]) {
        const got = run(xv, shape, gv, bv, { groups, eps: 1e-6, swish });
        expectClose(got, reference(xv, shape, gv, bv, groups, 1e-6, swish), 2e-6);
      }
    });

    it('gives the same values on 1 and 2 threads', () => {
      const shape = [2, 40, 40, 16];
      const rand = seeded(3);
      const xv = randArray(rand, sizeOf(shape));
      const gv = randArray(rand, 16);
      const bv = randArray(rand, 16);
      const attrs = { groups: 4, eps: 1e-5, swish: true };
      installKernels(tf, backend, { native: true, threads: 1 });
      const one = run(xv, shape, gv, bv, attrs);
      installKernels(tf, backend, { native: true, threads: 2, parallelThreshold: 0 });
      const two = run(xv, shape, gv, bv, attrs);
      installKernels(tf, backend, { native: true });
      expect(Array.from(two)).toEqual(Array.from(one));
    });

    it('declines (and so throws on) groups that do not divide the channels, and leaks nothing', () => {
      const x = tf.ones([1, 2, 2, 6]);
      const g = tf.ones([6]);
      const b = tf.zeros([6]);
      expect(() =>
        tf.engine().runKernel(GROUP_NORM_KERNEL, { x, gamma: g, beta: b }, {
          groups: 4,
          eps: 1e-6,
          swish: false,
        } as unknown as tf.NamedAttrMap),
      ).toThrow();
      expectNoLeaks(() => {
        tf.dispose(
          tf.engine().runKernel(GROUP_NORM_KERNEL, { x, gamma: g, beta: b }, {
            groups: 3,
            eps: 1e-6,
            swish: true,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        );
      });
      tf.dispose([x, g, b]);
    });
  },
);

test('the GroupNorm kernel is registered only where the addon is', async () => {
  await useBackend('cpu');
  installKernels(tf, 'cpu', { native: false });
  expect(tf.getKernel(GROUP_NORM_KERNEL, 'cpu')).toBeUndefined();
  installKernels(tf, 'cpu', { native: true });
  expect(tf.getKernel(GROUP_NORM_KERNEL, 'cpu') !== undefined).toBe(NATIVE);
  uninstallKernels(tf, 'cpu');
});
