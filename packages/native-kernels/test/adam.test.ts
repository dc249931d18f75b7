import {
  ADAM_UPDATE_KERNEL,
  ADAMW_UPDATE_KERNEL,
  createFusedAdam,
  installKernels,
  uninstallKernels,
} from '../src';
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

/** Runs `steps` optimiser steps on two variables of a small quadratic-ish loss; returns their values and the optimiser weights. */
async function train(
  makeOpt: () => tf.Optimizer,
  steps: number,
): Promise<{ vars: Float32Array[]; weights: Float32Array[]; names: string[] }> {
  const rand = seeded(7);
  const a = tf.variable(
    tf.tensor2d(randArray(rand, 15), [3, 5]),
    true,
    `adam_test_a_${Math.random()}`,
  );
  const b = tf.variable(tf.tensor1d(randArray(rand, 5)), true, `adam_test_b_${Math.random()}`);
  const target = tf.tensor2d(randArray(rand, 15), [3, 5]);
  const opt = makeOpt();
  for (let i = 0; i < steps; i++) {
    tf.dispose(
      opt.minimize(() => tf.tanh(a.add(b)).sub(target).square().sum() as tf.Scalar, true, [a, b])!,
    );
  }
  const named = await opt.getWeights();
  const out = {
    vars: [a, b].map((t) => Float32Array.from(t.dataSync())),
    weights: named.map((w) => Float32Array.from(w.tensor.dataSync())),
    names: named.map((w) => w.name.replace(/adam_test_([ab])_[0-9.]+/, '$1')),
  };
  tf.dispose([a, b, target]);
  opt.dispose();
  return out;
}

describe.each(BACKENDS)('createFusedAdam on %s', (backend) => {
  describe.each(MODES)('$label kernels', ({ options }) => {
    beforeAll(async () => {
      await useBackend(backend);
      installKernels(tf, backend, options);
    });
    afterAll(() => uninstallKernels(tf, backend));

    it('matches tf.train.adam step for step (values and optimiser state)', async () => {
      await useBackend(backend);
      expect(tf.getKernel(ADAM_UPDATE_KERNEL, backend)).toBeDefined();
      const fused = await train(() => createFusedAdam(tf, 0.05, 0.8, 0.99, 1e-6), 5);
      const stock = await train(() => tf.train.adam(0.05, 0.8, 0.99, 1e-6), 5);
      expect(fused.names).toEqual(stock.names);
      for (let i = 0; i < stock.vars.length; i++) expectClose(fused.vars[i]!, stock.vars[i]!, 1e-5);
      for (let i = 0; i < stock.weights.length; i++) {
        expectClose(fused.weights[i]!, stock.weights[i]!, 1e-5);
      }
    });

    it.each([
      { name: 'with decoupled decay', decayFactor: 1 - 0.01 * 0.1 },
      { name: 'without decay', decayFactor: 1 },
    ])(
      'ArtistAdamWUpdate $name matches the op sequence of runtime AdamW',
      async ({ decayFactor }) => {
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
      },
    );

    it('is an AdamOptimizer: class name, config and setWeights round trip', async () => {
      await useBackend(backend);
      const opt = createFusedAdam(tf, 0.01);
      expect(opt).toBeInstanceOf(tf.AdamOptimizer);
      expect(opt.getClassName()).toBe('Adam');
      expect(opt.getConfig()).toEqual(tf.train.adam(0.01).getConfig());
      opt.dispose();
      expect(() => createFusedAdam(tf, Number.NaN)).toThrow(/learningRate must be a finite number/);
    });

    it('does not leak tensors', async () => {
      await useBackend(backend);
      const w = tf.variable(tf.ones([4, 3]), true, `adam_leak_${Math.random()}`);
      const opt = createFusedAdam(tf, 0.1);
      const step = () => tf.dispose(opt.minimize(() => w.square().sum() as tf.Scalar, true, [w])!);
      step(); // creates the moments
      expectNoLeaks(step);
      tf.dispose(w);
      opt.dispose();
    });
  });

  it('uses the stock update where the kernel is not registered', async () => {
    await useBackend(backend);
    uninstallKernels(tf, backend);
    expect(tf.getKernel(ADAM_UPDATE_KERNEL, backend)).toBeUndefined();
    const fused = await train(() => createFusedAdam(tf, 0.05), 3);
    const stock = await train(() => tf.train.adam(0.05), 3);
    for (let i = 0; i < stock.vars.length; i++) expectClose(fused.vars[i]!, stock.vars[i]!, 1e-6);
  });
});
