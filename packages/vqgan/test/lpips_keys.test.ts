import { Rng } from '@artist-ts/core/rng';
import type { RawTensor } from '@artist-ts/core/trainer-state';
import { initRuntime } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { InMemoryImageDataset } from '../src/dataset';
import { Lpips, lpipsWeightSpecs } from '../src/lpips';
import { generateShapeImages } from '../src/synthetic';
import { VqganTrainer } from '../src/trainer';
import { Vqgan } from '../src/vqgan';
import { MICRO } from './helpers';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

/**
 * Random LPIPS-shaped weights (He-uniform VGG, small positive lins), made once: they exercise the
 * network code only; real weights come from the user.
 */
let cached: RawTensor[] | null = null;
function randomLpipsWeights(): RawTensor[] {
  if (cached) return cached;
  const rng = new Rng('lpips-test');
  cached = lpipsWeightSpecs().map(({ name, shape }) => {
    const n = shape.reduce((a, d) => a * d, 1);
    const data = new Float32Array(n);
    if (name.startsWith('lin')) rng.fillUniform(data, 0, 0.1);
    else if (shape.length === 4) {
      const bound = Math.sqrt(6 / (shape[0] * shape[1] * shape[2]));
      rng.fillUniform(data, -bound, bound);
    }
    return { name: `loss.perceptual_loss.${name}`, shape, dtype: 'float32' as const, data };
  });
  return cached;
}

describe('LPIPS', () => {
  test('is zero for identical images, positive otherwise, and differentiable', async () => {
    const lp = new Lpips(randomLpipsWeights());
    const x = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const y = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
    const same = lp.distance(x, x);
    const diff = lp.distance(x, y);
    expect(Array.from(same.dataSync()).every((v) => Math.abs(v) < 1e-6)).toBe(true);
    expect(Array.from(diff.dataSync()).every((v) => v > 0)).toBe(true);
    const g = tf.grad((t: tf.Tensor) => lp.loss(x, t as tf.Tensor4D))(y);
    const gNorm = tf.norm(g);
    expect(gNorm.dataSync()[0]).toBeGreaterThan(0);
    gNorm.dispose();
    await expectNoLeakedTensors(() => lp.loss(x, y), 'LPIPS loss');
    tf.dispose([x, y, same, diff, g]);
    lp.dispose();
  });

  test('plugs into the trainer as the perceptual hook', async () => {
    const lp = new Lpips(randomLpipsWeights());
    const model = Vqgan.create(MICRO, { seed: 11 });
    const ds = new InMemoryImageDataset(generateShapeImages(2, 16, 'lpips'), 16, 16, 3);
    const trainer = new VqganTrainer(
      model,
      ds,
      { batchSize: 2, restartEvery: 0 },
      { perceptualLoss: lp.loss },
    );
    const m = trainer.trainStep().metrics;
    expect(m.perceptual).not.toBeNull();
    expect(m.perceptual as number).toBeGreaterThan(0);
    expect(m.nll).toBeCloseTo(m.l1 + m.l2 + (m.perceptual as number), 5);
    await expectNoLeakedTensors(() => {
      trainer.trainStep();
    }, 'trainStep with LPIPS');
    trainer.dispose();
    model.dispose();
    lp.dispose();
  });

  test('names missing and mis-shaped weights', () => {
    // shapes are checked before any data is read: empty data suffices
    const w: RawTensor[] = lpipsWeightSpecs()
      .filter((t) => t.name !== 'lin2.model.1.weight')
      .map(({ name, shape }) => ({
        name,
        shape,
        dtype: 'float32' as const,
        data: new Float32Array(0),
      }));
    w[0] = { ...w[0], shape: [3, 3, 3, 32] };
    expect(() => new Lpips(w, 'vgg.bin')).toThrow(
      /vgg.bin: net.slice1.0.weight has shape \[3,3,3,32\].*missing lin2.model.1.weight/,
    );
  });
});
