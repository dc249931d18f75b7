/**
 * Benchmark: train the `nano` VQGAN on 32x32 images for a fixed budget of steps.
 *
 *   pnpm bench [-- --steps 512 --batch 8 --images 2048 --tsv data/train.tsv --backend auto --out r.json]
 *
 * Reports the backend and cores, steps/s and images/s (steps after the first), the speed of both
 * conv weight-gradient paths measured in the same run (baseline = tfjs's own Conv2DBackpropFilter),
 * PSNR of held-out reconstructions after the budget, and codebook usage / perplexity (per epoch and
 * on the held-out set) against the targets (usage >= 95 %, perplexity >= 0.8 x codebook size).
 * Images: a TSV (`idx\ttext\timgbase64`, e.g. the emoji-zh split the datasets package builds) or,
 * without one, generated shape images.
 */
import fs from 'node:fs';
import os from 'node:os';
import { initRuntime } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { codebookStats } from '../src/codebook';
import { setConvGradMode } from '../src/conv';
import { InMemoryImageDataset } from '../src/dataset';
import { psnr, toModelInput } from '../src/images';
import { generateShapeImages } from '../src/synthetic';
import { type EpochStats, VqganTrainer } from '../src/trainer';
import { Vqgan } from '../src/vqgan';
import { readTsvImages } from './tsv_images';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function timeSteps(trainer: VqganTrainer, n: number): number {
  trainer.trainStep(); // warm-up (kernel setup, k-means)
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) trainer.trainStep();
  return Number(process.hrtime.bigint() - t0) / 1e9 / n;
}

async function main(): Promise<void> {
  const steps = Number(arg('steps', '512'));
  const batch = Number(arg('batch', '8'));
  const nImages = Number(arg('images', '2048'));
  const nEval = Number(arg('eval', '256'));
  const lr = Number(arg('lr', '1e-3'));
  const tsv = arg('tsv', '');
  const out = arg('out', '');
  const baselineSteps = Number(arg('baseline-steps', '3'));
  const info = await initRuntime({ backend: arg('backend', 'auto') as 'auto' });
  const line = (s: string) => process.stdout.write(`${s}\n`);
  line(
    `backend ${info.backend} (native kernels: ${info.nativeKernels ? info.kernels.length : 'off'}), cores ${os.cpus().length}, tfjs ${info.tfjsVersion}`,
  );

  let train: InMemoryImageDataset;
  let evalSet: InMemoryImageDataset;
  let source: string;
  if (tsv) {
    const { pixels, count } = readTsvImages(tsv, 32, nImages + nEval);
    if (count <= nEval + batch)
      throw new Error(`${tsv}: only ${count} images, need more than ${nEval + batch}`);
    const per = 32 * 32 * 3;
    train = new InMemoryImageDataset(pixels.subarray(0, (count - nEval) * per), 32, 32);
    evalSet = new InMemoryImageDataset(pixels.subarray((count - nEval) * per), 32, 32);
    source = `${tsv} (${count - nEval} train, ${nEval} held out)`;
  } else {
    train = new InMemoryImageDataset(generateShapeImages(nImages, 32, 'bench-train'), 32, 32);
    evalSet = new InMemoryImageDataset(generateShapeImages(nEval, 32, 'bench-eval'), 32, 32);
    source = `generated shapes (${nImages} train, ${nEval} held out)`;
  }
  line(`data: ${source}`);

  const trainConfig = {
    batchSize: batch,
    learningRate: lr,
    kmeansInit: true,
    kmeansBatches: 16,
    restartEvery: 8,
    seed: 'bench',
  };

  // Baseline in the same run: tfjs's Conv2DBackpropFilter vs the conv-as-gradient path.
  const speed: Record<string, number> = {};
  for (const mode of ['kernel', 'conv'] as const) {
    setConvGradMode(mode);
    const m = Vqgan.create('nano', { seed: 'bench-speed' });
    const t = new VqganTrainer(m, train, trainConfig);
    speed[mode] = timeSteps(t, baselineSteps);
    t.dispose();
    m.dispose();
    line(`conv weight gradient '${mode}': ${speed[mode].toFixed(3)} s/step`);
  }
  const best = speed.conv <= speed.kernel ? 'conv' : 'kernel';
  setConvGradMode(best);
  line(`ratio kernel/conv: ${(speed.kernel / speed.conv).toFixed(2)}x; training with '${best}'`);

  const model = Vqgan.create('nano', { seed: 'bench' });
  const trainer = new VqganTrainer(model, train, trainConfig);
  const epochs: EpochStats[] = [];
  let firstStepAt = 0n;
  const t0 = process.hrtime.bigint();
  let lastNll = Number.NaN;
  await trainer.train({
    steps,
    onStep: (m) => {
      if (m.step === 1) firstStepAt = process.hrtime.bigint();
      lastNll = m.nll;
      if (m.step % 64 === 0)
        line(
          `step ${m.step}: nll ${m.nll.toFixed(4)} q ${m.qLoss.toFixed(4)} batch codes ${m.batchCodes}`,
        );
    },
    onEpoch: (e) => {
      epochs.push(e);
      line(
        `epoch ${e.epoch}: usage ${(100 * e.usage).toFixed(1)} %, perplexity ${e.perplexity.toFixed(1)}`,
      );
    },
  });
  const end = process.hrtime.bigint();
  const timed = Math.max(1, steps - 1);
  const secPerStep = Number(end - (firstStepAt || t0)) / 1e9 / timed;

  // Held-out reconstruction and codebook statistics.
  const counts = new Float64Array(model.config.nEmbed);
  let psnrSum = 0;
  let nb = 0;
  for (let i = 0; i + batch <= evalSet.size; i += batch) {
    const idx = Array.from({ length: batch }, (_, k) => i + k);
    const x = toModelInput(evalSet.batch(idx), 3);
    const codes = model.encode(x);
    for (const c of codes.dataSync()) counts[c] += 1;
    const rec = model.decode(codes);
    psnrSum += psnr(x, rec);
    nb += 1;
    tf.dispose([x, codes, rec]);
  }
  const held = codebookStats(counts);
  const lastEpoch = epochs[epochs.length - 1] ?? {
    ...trainer.currentEpochStats(),
    epoch: trainer.epoch,
    step: trainer.step,
  };
  const K = model.config.nEmbed;
  const result = {
    backend: info.backend,
    nativeKernels: info.nativeKernels,
    cores: os.cpus().length,
    data: source,
    steps,
    batch,
    secPerStep,
    stepsPerSec: 1 / secPerStep,
    imagesPerSec: batch / secPerStep,
    convGradSecPerStep: speed,
    finalNll: lastNll,
    heldOutPsnrDb: psnrSum / nb,
    lastEpoch: { epoch: lastEpoch.epoch, usage: lastEpoch.usage, perplexity: lastEpoch.perplexity },
    heldOut: { usage: held.usage, perplexity: held.perplexity },
    targets: {
      usageAtLeast95: lastEpoch.usage >= 0.95,
      perplexityAtLeast80pct: lastEpoch.perplexity >= 0.8 * K,
      stepAtMost50ms: secPerStep <= 0.05,
    },
  };
  line(
    `speed: ${result.stepsPerSec.toFixed(2)} steps/s, ${result.imagesPerSec.toFixed(1)} images/s (${(1000 * secPerStep).toFixed(0)} ms/step)`,
  );
  line(`held-out PSNR: ${result.heldOutPsnrDb.toFixed(2)} dB`);
  line(
    `codebook (epoch ${lastEpoch.epoch}): usage ${(100 * lastEpoch.usage).toFixed(1)} % (target >= 95), perplexity ${lastEpoch.perplexity.toFixed(1)} (target >= ${0.8 * K})`,
  );
  line(
    `codebook (held out): usage ${(100 * held.usage).toFixed(1)} %, perplexity ${held.perplexity.toFixed(1)}`,
  );
  line(JSON.stringify(result));
  if (out) fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  trainer.dispose();
  model.dispose();
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
