import { ADAMW_UPDATE_KERNEL, installKernels, uninstallKernels } from '../src';
import {
  BACKENDS,
  expectClose,
  expectNoLeaks,
  MODES,
  randArray,
  seeded,
  tf,
  useBackend,
} from './helpers';

describe.each(BACKENDS)('ArtistAdamWUpdate on %s', (backend) => {
  describe.each(MODES)('$label kernels', ({ options }) => {
    beforeAll(async () => {
      await useBackend(backend);
      installKernels(tf, backend, options);
    });
    afterAll(() => uninstallKernels(tf, backend));

    it.each([
      { name: 'with decoupled decay', decayFactor: 1 - 0.01 * 0.1 },
      { name: 'without decay', decayFactor: 1 },
    ])('$name matches the op sequence of runtime AdamW', async ({ decayFactor }) => {
      await useBackend(backend);
      const rand = seeded(decayFactor === 1 ? 3 : 4);
      const shape = [7, 9];
      const [xv, mv, gv] = [0, 1, 2].map(() => randArray(rand, 63));
      const vv = randArray(rand, 63, 0, 0.5);
      const b1 = 0.9;
      const b2 = 0.95;
      const eps = 1e-6;
      const sqrtBc2 = Math.sqrt(1 - b2 ** 3);
      const stepSize = 0.01 / (1 - b1 ** 3);
      const [x, m, v, g] = [xv, mv, vv, gv].map((d) => tf.tensor(d!, shape));
      // @artist-ts/runtime's AdamW.applyGradients, op for op
      const ref = tf.tidy(() => {
        const p0 = decayFactor !== 1 ? tf.mul(x!, decayFactor) : x!;
        const m1 = tf.add(tf.mul(m!, b1), tf.mul(g!, 1 - b1));
        const v1 = tf.add(tf.mul(v!, b2), tf.mul(tf.square(g!), 1 - b2));
        const denom = tf.add(tf.div(tf.sqrt(v1), sqrtBc2), eps);
        return [tf.sub(p0, tf.mul(tf.div(m1, denom), stepSize)), m1, v1];
      });
      const got = tf
        .engine()
        .runKernel(
          ADAMW_UPDATE_KERNEL,
          { x: x!, m: m!, v: v!, g: g! },
          { beta1: b1, beta2: b2, epsilon: eps, decayFactor, sqrtBc2, stepSize },
        ) as tf.Tensor[];
      for (let i = 0; i < 3; i++) expectClose(got[i]!.dataSync(), ref[i]!.dataSync(), 1e-6);
      tf.dispose([x!, m!, v!, g!, ...ref, ...got]);
    });

    it('does not leak tensors when its outputs are assigned to the variables', async () => {
      await useBackend(backend);
      const [x, m, v] = [0, 1, 2].map(() => tf.variable(tf.ones([4, 3]), false));
      const g = tf.fill([4, 3], 0.5);
      const attrs = {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        decayFactor: 0.999,
        sqrtBc2: 0.5,
        stepSize: 0.01,
      };
      const step = () => {
        const outs = tf
          .engine()
          .runKernel(ADAMW_UPDATE_KERNEL, { x: x!, m: m!, v: v!, g }, attrs) as tf.Tensor[];
        x!.assign(outs[0]!);
        m!.assign(outs[1]!);
        v!.assign(outs[2]!);
        tf.dispose(outs);
      };
      expectNoLeaks(step);
      tf.dispose([x!, m!, v!, g]);
    });
  });
});
