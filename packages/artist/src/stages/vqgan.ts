/**
 * Stage `vqgan`: trains the image tokenizer on the training images, checkpointing to
 * `<run>/vqgan/checkpoints/` (resumable), and saves the final model to `<run>/vqgan/checkpoint/`.
 */
import fs from 'node:fs';
import { resolveCheckpointDir } from '@artist-ts/core/checkpoint-files';
import { psnrUint8, readSplitImages } from '@artist-ts/lattice-data';
import {
  codebookStats,
  countCodes,
  InMemoryImageDataset,
  toUint8Pixels,
  Vqgan,
  VqganTrainer,
} from '@artist-ts/vqgan';
import * as tf from '@tensorflow/tfjs';
import type { TrainerConfig } from '../config';
import { omitWhileDefault, type Stage } from '../pipeline';
import { trainingStepReporter } from '../progress';

export const vqganStage: Stage<TrainerConfig> = {
  name: 'vqgan',
  after: ['data'],
  configSlice: (c) => ({
    vqgan: { ...c.vqgan, train: omitWhileDefault(c.vqgan.train, { recompute: false }) },
    size: c.data.size,
  }),
  async run(ctx) {
    const cfg = ctx.config.vqgan;
    const size = ctx.config.data.size;
    const train = await readSplitImages(ctx.run.data.split('train'), size);
    const dataset = new InMemoryImageDataset(train.pixels, size, size, 3);
    const ckptRoot = ctx.run.vqgan.checkpoints;
    const resumeDir = resolveCheckpointDir(ckptRoot);
    const trainer = resumeDir
      ? await VqganTrainer.resume(ckptRoot, dataset, { config: cfg.train })
      : new VqganTrainer(
          Vqgan.create(cfg.model, { seed: `vqgan-init/${ctx.config.seed}` }),
          dataset,
          cfg.train,
        );
    if (resumeDir) ctx.progress.log(`vqgan: resuming at step ${trainer.step} from ${resumeDir}`);
    const report = trainingStepReporter(ctx, 'vqgan', () => tf.memory().numTensors);
    let lastEpoch: Record<string, number> = {};
    try {
      ctx.progress.begin('vqgan', cfg.steps, 'steps');
      await trainer.fit({
        steps: cfg.steps,
        checkpointDir: ckptRoot,
        checkpointEvery: cfg.checkpointEvery,
        keepLast: 2,
        signal: ctx.signal,
        onStep: (m) =>
          report(
            m.step,
            { loss: m.loss, l1: m.l1, q_loss: m.qLoss },
            { loss: m.loss, l1: m.l1, codes: m.batchCodes },
          ),
        onEpoch: (s) => {
          lastEpoch = { usage: s.usage, perplexity: s.perplexity, epoch: s.epoch };
          ctx.metrics([
            { stage: 'vqgan', name: 'codebook_usage', step: s.step, value: s.usage },
            { stage: 'vqgan', name: 'perplexity', step: s.step, value: s.perplexity },
          ]);
        },
      });
      ctx.progress.end();
      if (ctx.signal.aborted) return {};
      // Validation PSNR of reconstructions.
      const val = await readSplitImages(ctx.run.data.split('val'), size, 256);
      let psnrSum = 0;
      // Codebook health on held-out images (the per-epoch numbers need a whole epoch of training).
      const valCounts = new Float64Array(trainer.model.config.nEmbed);
      const bs = 32;
      for (let i = 0; i < val.count; i += bs) {
        const n = Math.min(bs, val.count - i);
        const per = size * size * 3;
        const batch = {
          data: val.pixels.subarray(i * per, (i + n) * per),
          shape: [n, size, size, 3] as [number, number, number, number],
        };
        const codes = trainer.model.encode(batch); // [n, h, w]
        const rec = trainer.model.decode(codes); // [n, size, size, 3]
        countCodes(valCounts, codes.dataSync());
        const recPixels = toUint8Pixels(rec);
        tf.dispose([codes, rec]);
        psnrSum += psnrUint8(batch.data, recPixels) * n;
      }
      const valCodes = codebookStats(valCounts);
      const out = ctx.run.vqgan.checkpoint;
      fs.rmSync(out, { recursive: true, force: true });
      await trainer.model.save(out, { keepLast: 1 });
      return {
        steps: trainer.step,
        images: train.count,
        parameters: trainer.model.parameterCount(),
        valPsnr: val.count > 0 ? psnrSum / val.count : null,
        valUsage: val.count > 0 ? valCodes.usage : null,
        valPerplexity: val.count > 0 ? valCodes.perplexity : null,
        ...lastEpoch,
        codebookSize: trainer.model.config.nEmbed,
      };
    } finally {
      trainer.model.dispose();
      trainer.dispose();
    }
  },
};
