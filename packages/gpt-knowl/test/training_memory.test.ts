import { initRuntime, type RuntimeInfo } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import {
  backendMemoryLimit,
  checkTrainingMemory,
  estimateTrainingMemory,
  type GptConfig,
  GptTrainer,
  KnowlGpt,
  largestFittingBatch,
  TrainingMemoryError,
  validateGptConfig,
} from '../src';
import { makeExamples, makeTable } from './helpers';

let runtime: RuntimeInfo;
beforeAll(async () => {
  runtime = await initRuntime({ backend: 'cpu' });
});

/**
 * Bytes of distinct tensor buffers, tracked from installation on (engine.numBytes counts a
 * reshape's view again; the heap holds the buffer once), and their peak after any kernel.
 */
class BufferMeter {
  bytes = 0;
  peak = 0;
  private readonly live = new Map<object, number>();
  private readonly eng = tf.engine() as unknown as {
    trackTensor(t: tf.Tensor, backend: unknown): void;
    disposeTensor(t: tf.Tensor): void;
    runKernelFunc(...args: unknown[]): unknown;
    state: { tensorInfo: WeakMap<object, unknown> };
  };

  install(): void {
    const { eng, live } = this;
    const { trackTensor, disposeTensor, runKernelFunc } = eng;
    const meter = this;
    eng.trackTensor = function (t, backend) {
      if (!live.has(t.dataId)) {
        live.set(t.dataId, t.size * 4);
        meter.bytes += t.size * 4;
      }
      trackTensor.call(this, t, backend);
    };
    eng.disposeTensor = function (t) {
      disposeTensor.call(this, t);
      const b = live.get(t.dataId);
      if (b !== undefined && !eng.state.tensorInfo.has(t.dataId)) {
        live.delete(t.dataId);
        meter.bytes -= b;
      }
    };
    eng.runKernelFunc = function (...args) {
      const out = runKernelFunc.apply(this, args);
      meter.peak = Math.max(meter.peak, meter.bytes);
      return out;
    };
  }

  uninstall(): void {
    const eng = this.eng as Partial<typeof this.eng>;
    delete eng.trackTensor;
    delete eng.disposeTensor;
    delete eng.runKernelFunc;
  }
}

describe('estimateTrainingMemory', () => {
  const easynlp = { nLayer: 3, nEmbd: 64, nHead: 4, imageLen: 32, fusion: 'easynlp' } as const;
  test.each([
    ['nano, lattice', 1, {}],
    ['nano, lattice', 6, {}],
    ['3 layers, easynlp', 4, easynlp],
    ['none, dropout', 4, { fusion: 'none', attnPdrop: 0.1, residPdrop: 0.1 }],
  ] as const)('%s at micro-batch %i: within 10 %% of the measured peak', async (_, b, cfg) => {
    const config = validateGptConfig({ preset: 'nano', ...cfg });
    const meter = new BufferMeter();
    meter.install();
    const model = new KnowlGpt(config, { seed: 1 });
    const trainer = new GptTrainer(
      model,
      { batchSize: b },
      { entityTable: makeTable(10, config.entityDim), memoryLimit: null },
    );
    const batch = makeExamples(config, b);
    let measured: number;
    try {
      await trainer.trainStep(batch); // makes the AdamW slots
      meter.peak = meter.bytes;
      await trainer.trainStep(batch);
      measured = meter.peak;
    } finally {
      meter.uninstall();
    }
    const estimate = estimateTrainingMemory(config, b, { fusedKernels: runtime.nativeKernels });
    expect(estimate.total / measured).toBeGreaterThan(0.9);
    expect(estimate.total / measured).toBeLessThan(1.1);
    trainer.dispose();
    model.dispose();
  });

  // Expected values: the file's formula evaluated by hand in numpy for ARTIST-base (lattice
  // fusion, 126,746,880 parameters, T = 287, token table (16384 + 21128) x 768).
  const base: GptConfig = validateGptConfig({ preset: 'artist-base' });
  const wasm = backendMemoryLimit('wasm', 0)!;

  test('ARTIST-base: weights, slots, gradients, activations, peaks', () => {
    const e = estimateTrainingMemory(base, 8);
    expect(e.parameters).toBe(126_746_880);
    expect(e.weights).toBe(506_987_520);
    expect(e.optimizerSlots).toBe(1_013_975_040);
    expect(e.gradients).toBe(622_224_384);
    expect(e.activationsPerExample).toBeCloseTo(505_071_248, -2);
    expect(e.backwardPeak).toBeCloseTo(2_143_186_944 + 8 * 505_071_248, -3);
    expect(e.updatePeak).toBe(3_387_635_712);
    expect(e.total).toBe(e.backwardPeak);
    // micro-batch 1: the update peak dominates
    expect(estimateTrainingMemory(base, 1).total).toBe(3_387_635_712);
  });

  test('ARTIST-base on wasm: micro-batch 8 and 4 refused, 3 is the largest that fits', () => {
    expect(wasm.bytes).toBe(0.9 * 4 * 2 ** 30);
    expect(largestFittingBatch(base, wasm.bytes)).toBe(3);
    expect(largestFittingBatch(base, wasm.bytes, { fusedKernels: false })).toBe(1);
    expect(() => checkTrainingMemory(base, 3, wasm)).not.toThrow();
    expect(() => checkTrainingMemory(base, 4, wasm)).toThrow(TrainingMemoryError);
    let error: TrainingMemoryError | undefined;
    try {
      checkTrainingMemory(base, 8, wasm);
    } catch (e) {
      error = e as TrainingMemoryError;
    }
    expect(error).toBeInstanceOf(TrainingMemoryError);
    expect(error!.largestBatchSize).toBe(3);
    expect(error!.message).toMatch(/micro-batch 8 needs about 5\.76 GiB/);
    expect(error!.message).toMatch(/activations 8 x 481\.7 MiB/);
    expect(error!.message).toMatch(/the wasm backend's heap .*, 3\.60 GiB/);
    expect(error!.message).toMatch(/largest micro-batch that fits is 3 \(set batchSize to 3\)/);
    // a model whose update alone exceeds the heap: no micro-batch fits
    const large = validateGptConfig({ preset: 'artist-large' });
    expect(largestFittingBatch(large, wasm.bytes)).toBe(0);
    expect(() => checkTrainingMemory(large, 1, wasm)).toThrow(/no micro-batch fits/);
  });

  test('backend limits: the wasm heap, the machine on cpu, none elsewhere', () => {
    expect(backendMemoryLimit('cpu', 8 * 2 ** 30)).toEqual({
      bytes: 8 * 2 ** 30,
      what: "this machine's memory",
    });
    expect(backendMemoryLimit('tensorflow', 8 * 2 ** 30)).toBeNull();
    expect(() => estimateTrainingMemory(base, 0)).toThrow(/batchSize must be a positive integer/);
  });

  test('GptTrainer refuses before its first step; memoryLimit: null skips the check', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const model = new KnowlGpt({ preset: 'nano' }, { seed: 1 });
    const data = makeExamples(model.config, 4);
    const table = makeTable(10, model.config.entityDim);
    // room for one example's activations and a half
    const one = estimateTrainingMemory(model.config, 1, { fusedKernels: runtime.nativeKernels });
    const limit = { bytes: one.total + one.activationsPerExample / 2, what: 'a test limit' };
    const trainer = new GptTrainer(
      model,
      { batchSize: 4 },
      { entityTable: table, memoryLimit: limit },
    );
    await expect(trainer.fit(data, { steps: 1 })).rejects.toThrow(
      /micro-batch 4 needs about .* MiB .* more than a test limit, .* MiB: the largest micro-batch that fits is 1/,
    );
    await expect(trainer.trainStep(data)).rejects.toThrow(TrainingMemoryError);
    expect(trainer.step).toBe(0);
    const unchecked = new GptTrainer(
      model,
      { batchSize: 4 },
      { entityTable: table, memoryLimit: null },
    );
    await unchecked.trainStep(data);
    expect(unchecked.step).toBe(1);
    trainer.dispose();
    unchecked.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore); // no tensor leaked
  });
});
