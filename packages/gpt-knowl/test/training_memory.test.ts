import { initRuntime, type RuntimeInfo } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import {
  backendMemoryLimit,
  checkTrainingMemory,
  estimateTrainingMemory,
  fewestRecomputedBlocks,
  type GptConfig,
  GptTrainer,
  KnowlGpt,
  largestFittingBatch,
  type TrainConfig,
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
  const wide = { nLayer: 3, nEmbd: 64, nHead: 4, imageLen: 64, imageVocabSize: 512 } as const;
  test.each([
    ['nano, lattice', 1, {}, {}],
    ['nano, lattice', 6, {}, {}],
    ['3 layers, easynlp', 4, easynlp, {}],
    ['none, dropout', 4, { fusion: 'none', attnPdrop: 0.1, residPdrop: 0.1 }, {}],
    ['3 layers, 2 recomputed', 12, wide, { recomputeBlocks: 2 }],
    ['3 layers, all recomputed', 12, wide, { recomputeBlocks: 3 }],
    ['3 layers, blocks frozen', 6, wide, { freeze: ['embeddings', 'blocks'] }],
    ['3 layers, LoRA', 6, wide, { lora: { rank: 4 } }],
  ] as const)(
    '%s at micro-batch %i: within 10 %% of the measured peak',
    async (_, b, cfg, train) => {
      const config = validateGptConfig({ preset: 'nano', ...cfg });
      const meter = new BufferMeter();
      meter.install();
      const model = new KnowlGpt(config, { seed: 1 });
      const trainer = new GptTrainer(
        model,
        { batchSize: b, ...(train as Partial<TrainConfig>) },
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
      const estimate = estimateTrainingMemory(config, b, trainer.memoryOptions());
      expect(estimate.recomputeBlocks).toBe('recomputeBlocks' in train ? train.recomputeBlocks : 0);
      expect(estimate.total / measured).toBeGreaterThan(0.9);
      expect(estimate.total / measured).toBeLessThan(1.1);
      trainer.dispose();
      model.dispose();
    },
  );

  // Expected values: the file's formula evaluated independently in python for ARTIST-base
  // (lattice fusion, 126,746,880 parameters, T = 287, token table (16384 + 21128) x 768,
  // head 768 x 16384).
  const base: GptConfig = validateGptConfig({ preset: 'artist-base' });
  const wasm = backendMemoryLimit('wasm', 0)!;

  test('ARTIST-base: weights, slots, gradients, activations, peaks', () => {
    const e = estimateTrainingMemory(base, 8);
    expect(e.parameters).toBe(126_746_880);
    expect(e.trainableParameters).toBe(126_746_880);
    expect(e.weights).toBe(506_987_520);
    expect(e.optimizerSlots).toBe(1_013_975_040);
    expect(e.gradients).toBe(672_556_032);
    expect(e.activationsPerExample).toBeCloseTo(181_072_640, -2);
    expect(e.recomputedBlockPerExample).toBe(0);
    // the forward pass ends in the head: two chunks of 1,024 rows, 3 copies of its gradient
    expect(e.backwardPeak).toBeCloseTo(
      1_520_962_560 + 8 * 181_072_640 + 8 * 1024 * 16384 + 12 * 768 * 16384,
      -3,
    );
    // the update writes one parameter at a time: 12 B per token-table entry at most
    expect(e.updatePeak).toBe(2_193_518_592 + 12 * 28_809_216);
    expect(e.total).toBe(e.backwardPeak);
    // every block recomputed: one row of width d per token and block kept; the first block's
    // backward pass holds one block's activations again, before the token table's gradient
    const r = estimateTrainingMemory(base, 8, { recomputeBlocks: 12 });
    expect(r.recomputeBlocks).toBe(12);
    expect(r.activationsPerExample).toBeCloseTo(17_083_136, -1);
    expect(r.recomputedBlockPerExample).toBeCloseTo(36_684_799.2, -1);
    expect(r.backwardPeak).toBeCloseTo(2_393_188_345.6, -2);
    expect(estimateTrainingMemory(base, 16, { recomputeBlocks: 12 }).backwardPeak).toBeCloseTo(
      2_823_331_827.2,
      -2,
    );
    // micro-batch 1: the update peak dominates
    expect(estimateTrainingMemory(base, 1, { recomputeBlocks: 12 }).total).toBe(e.updatePeak);
    expect(estimateTrainingMemory(base, 8, { recomputeBlocks: 99 }).recomputeBlocks).toBe(12);
  });

  test('frozen parameters and LoRA base weights get no slots and no gradients', () => {
    // freezing embeddings and blocks leaves ln_f (2 x 768), head (768 x 16384), ent_emb (100 x 768 + 768)
    const f = estimateTrainingMemory(base, 1, { freeze: ['embeddings', 'blocks'] });
    expect(f.parameters).toBe(126_746_880);
    expect(f.trainableParameters).toBe(12_662_016);
    expect(f.weights).toBe(506_987_520);
    expect(f.optimizerSlots).toBe(8 * 12_662_016);
    expect(f.gradients).toBe(4 * 12_662_016 + 4 * 768 * 16384); // no token-table gradient
    expect(f.updatePeak).toBe(f.weights + f.optimizerSlots + f.gradients + 12 * 768 * 16384);
    // LoRA rank 8 on the six projections of 12 blocks: 1,327,104 adapter parameters train; the
    // adapted copies W + (alpha/r) A B of 84,934,656 base weights and their gradients are held
    const l = estimateTrainingMemory(base, 1, { lora: { rank: 8 }, freeze: ['head'] });
    expect(l.trainableParameters).toBe(1_327_104);
    expect(l.parameters).toBe(126_746_880 + 1_327_104);
    expect(l.optimizerSlots).toBe(8 * 1_327_104);
    expect(l.weights).toBe(4 * (126_746_880 + 1_327_104 + 84_934_656));
    expect(l.gradients).toBe(4 * 1_327_104 + 4 * 84_934_656 + 4 * 768 * 16384);
    // the full fine-tuning estimate was the old figure for both
    const full = estimateTrainingMemory(base, 1);
    expect(f.optimizerSlots).toBeLessThan(full.optimizerSlots / 10);
    expect(l.optimizerSlots).toBeLessThan(full.optimizerSlots / 90);
  });

  test('ARTIST-base on wasm: the largest micro-batch, and the fewest recomputed blocks', () => {
    expect(wasm.bytes).toBe(0.76 * 4 * 2 ** 30);
    expect(largestFittingBatch(base, wasm.bytes)).toBe(8);
    expect(largestFittingBatch(base, wasm.bytes, { fusedKernels: false })).toBe(1);
    expect(largestFittingBatch(base, wasm.bytes, { recomputeBlocks: 12 })).toBe(24);
    expect(
      largestFittingBatch(base, wasm.bytes, { recomputeBlocks: 12, fusedKernels: false }),
    ).toBe(8);
    expect(fewestRecomputedBlocks(base, 4, wasm.bytes)).toBe(0);
    expect(fewestRecomputedBlocks(base, 8, wasm.bytes)).toBe(0);
    expect(fewestRecomputedBlocks(base, 16, wasm.bytes)).toBe(7);
    expect(fewestRecomputedBlocks(base, 24, wasm.bytes)).toBe(10);
    expect(fewestRecomputedBlocks(base, 32, wasm.bytes)).toBeNull();
    expect(() => checkTrainingMemory(base, 8, wasm)).not.toThrow();
    expect(() => checkTrainingMemory(base, 9, wasm)).toThrow(TrainingMemoryError);
    let error: TrainingMemoryError | undefined;
    try {
      checkTrainingMemory(base, 10, wasm);
    } catch (e) {
      error = e as TrainingMemoryError;
    }
    expect(error).toBeInstanceOf(TrainingMemoryError);
    expect(error!.largestBatchSize).toBe(8);
    expect(error!.message).toMatch(/micro-batch 10 needs about 3\.37 GiB/);
    expect(error!.message).toMatch(/activations 10 x 172\.7 MiB/);
    expect(error!.message).toMatch(/the wasm backend's heap .*, 3\.04 GiB/);
    expect(error!.message).toMatch(/largest micro-batch that fits is 8 \(set batchSize to 8\)/);
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
      { batchSize: 4, recomputeBlocks: 0 },
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

  test("recomputeBlocks 'auto': the fewest blocks that fit the limit, the same step", async () => {
    const tensorsBefore = tf.memory().numTensors;
    const config = validateGptConfig({ preset: 'nano', nLayer: 4 });
    const data = makeExamples(config, 6);
    const table = makeTable(10, config.entityDim);
    const options = { fusedKernels: runtime.nativeKernels };
    // a limit that 6 examples fit with 2 recomputed blocks, not with 1
    const bytes = estimateTrainingMemory(config, 6, { ...options, recomputeBlocks: 2 }).total;
    expect(
      estimateTrainingMemory(config, 6, { ...options, recomputeBlocks: 1 }).total,
    ).toBeGreaterThan(bytes);
    const losses: number[] = [];
    const weights: number[][] = [];
    for (const memoryLimit of [null, { bytes, what: 'a test limit' }]) {
      const model = new KnowlGpt(config, { seed: 1 });
      const trainer = new GptTrainer(model, { batchSize: 6 }, { entityTable: table, memoryLimit });
      expect(trainer.recomputeBlocks).toBe(memoryLimit ? 2 : 0);
      for (let i = 0; i < 2; i++) losses.push((await trainer.trainStep(data)).loss);
      weights.push(Array.from(model.variables['blocks.0.mlp.0.weight'].dataSync()));
      trainer.dispose();
      model.dispose();
    }
    // the recomputed run follows the plain one (up to float rounding)
    expect(losses[2]).toBeCloseTo(losses[0], 5);
    expect(losses[3]).toBeCloseTo(losses[1], 5);
    const drift = Math.max(...weights[0].map((w, i) => Math.abs(w - weights[1][i])));
    expect(drift).toBeLessThan(1e-6);
    // a limit nothing fits under names the largest micro-batch with every block recomputed
    const model = new KnowlGpt(config, { seed: 1 });
    const tight = { bytes: estimateTrainingMemory(config, 1, options).updatePeak, what: 'tight' };
    const trainer = new GptTrainer(
      model,
      { batchSize: 6 },
      { entityTable: table, memoryLimit: tight },
    );
    await expect(trainer.trainStep(data)).rejects.toThrow(/micro-batch 6 needs about/);
    trainer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore); // no tensor leaked
  });
});
