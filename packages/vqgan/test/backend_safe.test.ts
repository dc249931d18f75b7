/**
 * Backend safety (issue 18): a VQGAN training step (with the PatchGAN and taming's adaptive weight)
 * and a decode call only kernels with attributes tfjs-node accepts, on cpu and wasm with the
 * native overrides off, in both conv weight-gradient modes.
 */
import { initRuntime } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { type ConvGradMode, setConvGradMode } from '../src/conv';
import { InMemoryImageDataset } from '../src/dataset';
import { generateShapeImages } from '../src/synthetic';
import { VqganTrainer } from '../src/trainer';
import { Vqgan } from '../src/vqgan';
import { MICRO } from './helpers';
import { PADDED_CONV_KERNELS, recordKernelCalls, tfjsNodeViolations } from './kernel_rules';

const KERNELS = [...PADDED_CONV_KERNELS, 'MaxPool', 'AvgPool'];

describe.each(['cpu', 'wasm'] as const)('%s backend, native overrides off', (backend) => {
  beforeAll(async () => {
    const info = await initRuntime({ backend, native: false });
    expect(info.backend).toBe(backend);
    expect(info.nativeKernels).toBe(false);
  });
  afterEach(() => setConvGradMode('auto'));

  test('the checker sees an explicit-pad conv and its gradients', () => {
    const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
    const w = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
    const pads: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ];
    const { result, calls } = recordKernelCalls(KERNELS, () =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, pads)),
      )([x, w]),
    );
    expect(calls.map((c) => c.kernel).sort()).toEqual([
      'Conv2D',
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
    ]);
    expect(tfjsNodeViolations(calls)).toHaveLength(3);
    tf.dispose([x, w, ...result]);
  });

  test.each(['conv', 'kernel'] as ConvGradMode[])(
    "a GAN training step and a decode use only 'valid' / 'same' conv kernels (%s gradients)",
    async (mode) => {
      setConvGradMode(mode);
      const model = Vqgan.create(MICRO, { seed: 5 });
      const ds = new InMemoryImageDataset(generateShapeImages(4, 16, 'safe'), 16, 16, 3);
      const trainer = new VqganTrainer(model, ds, {
        batchSize: 2,
        restartEvery: 0,
        disc: true,
        discStart: 0,
        discriminator: { nLayers: 2, ndf: 8, inChannels: 3 },
      });
      const step = recordKernelCalls(KERNELS, () => trainer.trainStep());
      expect(step.result.metrics.discWeight).not.toBeNull();
      const codes = tf.zeros([2, 4, 4], 'int32') as tf.Tensor3D;
      const decode = recordKernelCalls(KERNELS, () => model.decode(codes));
      const kinds = new Set(step.calls.map((c) => c.kernel));
      expect(kinds.has('Conv2D')).toBe(true);
      expect(kinds.has('Conv2DBackpropInput')).toBe(true);
      if (mode === 'kernel') expect(kinds.has('Conv2DBackpropFilter')).toBe(true);
      expect(decode.calls.length).toBeGreaterThan(0);
      expect(tfjsNodeViolations([...step.calls, ...decode.calls])).toEqual([]);
      tf.dispose([codes, decode.result]);
      trainer.dispose();
      model.dispose();
    },
  );
});
