import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initRuntime } from '../src/backend';
import { loadCheckpoint, restoreOptimizer, saveCheckpoint } from '../src/checkpoint';
import { AdamW, clipByGlobalNorm, validateAdamWConfig } from '../src/optim';
import { expectArraysClose, expectNoLeakedTensors } from '../src/testing';

describe('AdamW', () => {
  beforeAll(async () => {
    await initRuntime({ backend: 'cpu' });
  });

  it('matches torch.optim.AdamW on a hand-checked case', () => {
    // p = [1, -2], constant grad g = [0.5, -1], lr 0.1, wd 0.1, betas (0.9, 0.999), eps 1e-8.
    // Reference computed in float64 with the torch formulas (python3, see the file header):
    // step 1: p*(1-0.01) - 0.1 * sign(g) -> [0.89, -1.88]; step 2: [0.7811, -1.7612]
    const p = { w: tf.variable(tf.tensor1d([1, -2])) };
    const g = { w: tf.tensor1d([0.5, -1]) };
    const opt = new AdamW({ learningRate: 0.1, weightDecay: 0.1 });
    opt.applyGradients(p, g);
    expectArraysClose(p.w, [0.89, -1.88], { rtol: 1e-6 });
    opt.applyGradients(p, g);
    expectArraysClose(p.w, [0.7811, -1.7612], { rtol: 1e-6 });
    expect(opt.step).toBe(2);
    tf.dispose([p.w, g.w]);
    opt.dispose();
  });

  it('uses the fused update kernel when registered, and agrees with the op-by-op update', async () => {
    const kernel = tf.getKernel('ArtistAdamWUpdate', 'cpu');
    expect(kernel).toBeDefined(); // installed by initRuntime through @artist-ts/native-kernels
    const run = () => {
      const p = { w: tf.tidy(() => tf.variable(tf.tensor2d([1, -2, 0.5, 3, -0.25, 4], [2, 3]))) };
      const opt = new AdamW({ learningRate: 0.05, weightDecay: 0.1 });
      for (let i = 1; i <= 5; i++) {
        const g = { w: tf.tensor2d([0.5, -1, 0.1 * i, -0.3, 2, -0.01 * i], [2, 3]) };
        opt.applyGradients(p, g);
        g.w.dispose();
      }
      const out = p.w.dataSync().slice();
      p.w.dispose();
      opt.dispose();
      return out;
    };
    // The same 5 steps in float64 with the torch formulas (numpy).
    const expected = [0.72773629, -1.70298504, 0.24751355, 3.17325872, -0.49132466, 4.14110572];
    await expectNoLeakedTensors(run);
    expectArraysClose(run(), expected, { rtol: 1e-6 });
    tf.unregisterKernel('ArtistAdamWUpdate', 'cpu');
    try {
      expectArraysClose(run(), expected, { rtol: 1e-6 });
    } finally {
      tf.registerKernel(kernel!);
    }
  });

  it('skips decay where the mask says so', () => {
    const p = { a: tf.variable(tf.tensor1d([1])), b: tf.variable(tf.tensor1d([1])) };
    const g = { a: tf.tensor1d([0]), b: tf.tensor1d([0]) };
    const opt = new AdamW({ learningRate: 0.1, weightDecay: 0.5, decay: (n) => n === 'a' });
    opt.applyGradients(p, g);
    expectArraysClose(p.a, [0.95]);
    expectArraysClose(p.b, [1]);
    tf.dispose([p.a, p.b, g.a, g.b]);
    opt.dispose();
  });

  it('restores slots exactly and leaks nothing', async () => {
    const p = { w: tf.variable(tf.tensor1d([1, 2, 3])) };
    const g = { w: tf.tensor1d([0.1, -0.2, 0.3]) };
    const opt = new AdamW({ learningRate: 0.01 });
    opt.applyGradients(p, g);
    await expectNoLeakedTensors(() => {
      const w = opt.getWeights();
      const other = new AdamW({ learningRate: 0.01 });
      other.setWeights(w);
      tf.dispose(w.map((n) => n.tensor));
      expect(other.step).toBe(opt.step);
      other.dispose();
      opt.applyGradients(p, g);
    });
    tf.dispose([p.w, g.w]);
    opt.dispose();
  });

  it('checkpointSlots: getWeights without the copies, and what saveCheckpoint writes', async () => {
    const p = { w: tf.variable(tf.tensor1d([1, 2, 3])), b: tf.variable(tf.scalar(0.5)) };
    const g = { w: tf.tensor1d([0.1, -0.2, 0.3]), b: tf.scalar(0.7) };
    const opt = new AdamW({ learningRate: 0.01 });
    opt.applyGradients(p, g);
    opt.applyGradients(p, g);
    const copies = opt.getWeights();
    const before = tf.memory().numTensors;
    const deferred = opt.checkpointSlots();
    expect(tf.memory().numTensors).toBe(before); // nothing allocated on the backend
    expect(deferred.map((d) => [d.name, d.shape, d.dtype])).toEqual(
      copies.map((c) => [c.name, c.tensor.shape, c.tensor.dtype]),
    );
    for (const [i, d] of deferred.entries())
      expect(Array.from(await d.values())).toEqual(Array.from(await copies[i].tensor.data()));
    tf.dispose(copies.map((c) => c.tensor));
    // saveCheckpoint takes them (getWeights is not called) and the slots restore exactly
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'adamw-slots-'));
    const getWeights = jest.spyOn(opt, 'getWeights');
    await expectNoLeakedTensors(async () => {
      await saveCheckpoint(root, { weights: p, optimizer: opt, state: { step: 2 } });
    }, 'saveCheckpoint');
    expect(getWeights).not.toHaveBeenCalled();
    const loaded = await loadCheckpoint(root);
    const other = new AdamW({ learningRate: 0.01 });
    await restoreOptimizer(other, loaded.state);
    const a = opt.getWeights();
    const b = other.getWeights();
    expect(b.map((x) => x.name)).toEqual(a.map((x) => x.name));
    for (const [i, x] of a.entries())
      expect(Array.from(await b[i].tensor.data())).toEqual(Array.from(await x.tensor.data()));
    tf.dispose([...a, ...b].map((x) => x.tensor));
    tf.dispose([...Object.values(loaded.weights), ...Object.values(p), ...Object.values(g)]);
    opt.dispose();
    other.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('validator names the bad field', () => {
    expect(() => validateAdamWConfig({ beta1: 1 })).toThrow(
      "AdamW config field 'beta1' must be in [0, 1), got 1",
    );
  });

  it('clips by global norm like torch.nn.utils.clip_grad_norm_', () => {
    const g = { a: tf.tensor1d([3, 0]), b: tf.tensor1d([0, 4]) };
    const { grads, norm } = clipByGlobalNorm(g, 1);
    expect(norm).toBeCloseTo(5, 5);
    expectArraysClose(grads.a, [0.6, 0], { rtol: 1e-5 });
    expectArraysClose(grads.b, [0, 0.8], { rtol: 1e-5 });
    tf.dispose([g.a, g.b, grads.a, grads.b]);
  });
});
