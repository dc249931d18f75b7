/**
 * Benchmark: train the `nano` VQGAN on 32x32 images for a fixed budget of steps.
 *
 *   pnpm bench [-- --steps 1500 --batch 8 --lr 2e-3 --data emoji|shapes --tsv file.tsv
 *                 --images N --eval 256 --backend auto --model '{json}' --train '{json}'
 *                 --baseline-steps 4 --out result.json]
 *
 * Training uses `VQGAN_TRAIN_PRESETS.fast` (the demo recipe); `--train` overrides fields.
 * Data: by default the emoji-zh split built offline by @artist-ts/datasets (train split for
 * training, val split held out; built once under the OS temp folder), or `--data shapes`
 * (generated shapes), or `--tsv` (any `idx\ttext\timgbase64` TSV; its last `--eval` rows held out).
 * Reports the backend and cores; the speed of both conv weight-gradient paths measured in the same
 * run (baseline = tfjs's own Conv2DBackpropFilter), as wall and CPU seconds per step; steps/s and
 * images/s of the training run; held-out PSNR after the budget; codebook usage and perplexity (last
 * full epoch, or the partial epoch when the budget ends first, and on the held-out set) against the
 * targets (usage >= 95 %, perplexity >= 0.8 x codebook size).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildDataset } from '@artist-ts/datasets';
import { readSplitImages } from '@artist-ts/lattice-data';
import { initRuntime } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { codebookStats } from '../src/codebook';
import { PRESETS, type VqganConfig } from '../src/config';
import { setConvGradMode } from '../src/conv';
import { InMemoryImageDataset } from '../src/dataset';
import { psnr, toModelInput } from '../src/images';
import { generateShapeImages } from '../src/synthetic';
import { VQGAN_TRAIN_PRESETS, type VqganTrainConfig } from '../src/train_config';
import { type EpochStats, VqganTrainer } from '../src/trainer';
import { Vqgan } from '../src/vqgan';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function jsonArg<T>(name: string): Partial<T> {
  const raw = arg(name, '');
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Partial<T>;
  } catch (e) {
    throw new Error(`--${name}: not valid JSON (${(e as Error).message})`);
  }
}

/** Wall and CPU seconds per step over `n` steps after one warm-up step. */
function timeSteps(trainer: VqganTrainer, n: number): { wall: number; cpu: number } {
  trainer.trainStep(); // warm-up (kernel setup, k-means)
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) trainer.trainStep();
  const c = process.cpuUsage(c0);
  return {
    wall: Number(process.hrtime.bigint() - t0) / 1e9 / n,
    cpu: (c.user + c.system) / 1e6 / n,
  };
}

async function emojiSplits(size: number): Promise<{ train: string; val: string; dir: string }> {
  const dir = path.join(os.tmpdir(), 'artist-ts-vqgan-bench', `emoji-zh-${size}`);
  if (!fs.existsSync(path.join(dir, 'dataset.json'))) {
    await buildDataset('emoji-zh', { out: dir, size, overwrite: true });
  }
  return { train: path.join(dir, 'train.tsv'), val: path.join(dir, 'val.tsv'), dir };
}

async function main(): Promise<void> {
  const steps = Number(arg('steps', '1500'));
  const batch = Number(arg('batch', '8'));
  const maxImages = Number(arg('images', 'Infinity'));
  const nEval = Number(arg('eval', '256'));
  const lr = Number(arg('lr', String(VQGAN_TRAIN_PRESETS.fast.learningRate)));
  const data = arg('data', 'emoji');
  const tsv = arg('tsv', '');
  const out = arg('out', '');
  const baselineSteps = Number(arg('baseline-steps', '4'));
  const modelConfig: VqganConfig = { ...PRESETS.nano, ...jsonArg<VqganConfig>('model') };
  const side = modelConfig.resolution;
  const info = await initRuntime({ backend: arg('backend', 'auto') as 'auto' });
  const line = (s: string) => process.stdout.write(`${s}\n`);
  line(
    `backend ${info.backend} (native kernels: ${info.nativeKernels ? info.kernels.length : 'off'}), cores ${os.cpus().length}, tfjs ${info.tfjsVersion}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const per = side * side * 3;
  let train: InMemoryImageDataset;
  let evalSet: InMemoryImageDataset;
  let source: string;
  if (tsv) {
    const { pixels, count } = await readSplitImages(tsv, side, maxImages + nEval);
    if (count <= nEval + batch)
      throw new Error(`${tsv}: only ${count} images, need more than ${nEval + batch}`);
    train = new InMemoryImageDataset(pixels.subarray(0, (count - nEval) * per), side, side);
    evalSet = new InMemoryImageDataset(pixels.subarray((count - nEval) * per), side, side);
    source = `${tsv} (${count - nEval} train, ${nEval} held out)`;
  } else if (data === 'emoji') {
    const split = await emojiSplits(side);
    const tr = await readSplitImages(split.train, side, maxImages);
    const ev = await readSplitImages(split.val, side, nEval);
    train = new InMemoryImageDataset(tr.pixels, side, side);
    evalSet = new InMemoryImageDataset(ev.pixels, side, side);
    source = `emoji-zh ${side}px from @artist-ts/datasets (${tr.count} train rows, ${ev.count} val rows held out; ${split.dir})`;
  } else if (data === 'shapes') {
    const n = Number.isFinite(maxImages) ? maxImages : 2048;
    train = new InMemoryImageDataset(generateShapeImages(n, side, 'bench-train'), side, side);
    evalSet = new InMemoryImageDataset(generateShapeImages(nEval, side, 'bench-eval'), side, side);
    source = `generated shapes (${n} train, ${nEval} held out)`;
  } else {
    throw new Error(`--data: unknown '${data}' (emoji, shapes; or --tsv FILE)`);
  }
  line(`data: ${source}`);

  const trainConfig: Partial<VqganTrainConfig> = {
    ...VQGAN_TRAIN_PRESETS.fast,
    batchSize: batch,
    learningRate: lr,
    seed: 'bench',
    ...jsonArg<VqganTrainConfig>('train'),
  };
  line(`model: ${JSON.stringify(modelConfig)}`);
  line(`train: ${JSON.stringify(trainConfig)}`);

  // Baseline in the same run: tfjs's Conv2DBackpropFilter vs the conv-as-gradient path.
  const speed: Record<string, { wall: number; cpu: number }> = {};
  for (const mode of ['kernel', 'conv'] as const) {
    setConvGradMode(mode);
    const m = Vqgan.create(modelConfig, { seed: 'bench-speed' });
    const t = new VqganTrainer(m, train, trainConfig);
    speed[mode] = timeSteps(t, baselineSteps);
    t.dispose();
    m.dispose();
    line(
      `conv weight gradient '${mode}': ${speed[mode].wall.toFixed(3)} s/step wall, ${speed[mode].cpu.toFixed(3)} s/step CPU`,
    );
  }
  const best = speed.conv.wall <= speed.kernel.wall ? 'conv' : 'kernel';
  setConvGradMode(best);
  line(
    `ratio kernel/conv: ${(speed.kernel.wall / speed.conv.wall).toFixed(2)}x wall; training with '${best}'`,
  );

  const model = Vqgan.create(modelConfig, { seed: 'bench' });
  line(`parameters: ${model.parameterCount()}`);
  const trainer = new VqganTrainer(model, train, trainConfig);
  const epochs: EpochStats[] = [];
  let firstStepAt = 0n;
  let cpuAtFirst = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let lastNll = Number.NaN;
  await trainer.fit({
    steps,
    onStep: (m) => {
      if (m.step === 1) {
        firstStepAt = process.hrtime.bigint();
        cpuAtFirst = process.cpuUsage();
      }
      lastNll = m.nll;
      if (m.step % 100 === 0)
        line(
          `step ${m.step}: l1 ${m.l1.toFixed(4)} l2 ${m.l2.toFixed(4)} q ${m.qLoss.toFixed(4)} batch codes ${m.batchCodes}`,
        );
    },
    onEpoch: (e) => {
      epochs.push(e);
      line(
        `epoch ${e.epoch} (step ${e.step}): usage ${(100 * e.usage).toFixed(1)} %, perplexity ${e.perplexity.toFixed(1)}`,
      );
    },
  });
  const end = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpuAtFirst);
  const timed = Math.max(1, steps - 1);
  const secPerStep = Number(end - (firstStepAt || t0)) / 1e9 / timed;
  const cpuPerStep = (cpu.user + cpu.system) / 1e6 / timed;
  const totalSec = Number(end - t0) / 1e9;

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
    date: new Date().toISOString(),
    backend: info.backend,
    nativeKernels: info.nativeKernels,
    cores: os.cpus().length,
    loadAvg: os.loadavg(),
    data: source,
    model: modelConfig,
    train: trainConfig,
    parameters: model.parameterCount(),
    steps,
    batch,
    trainSeconds: totalSec,
    secPerStep,
    cpuSecPerStep: cpuPerStep,
    stepsPerSec: 1 / secPerStep,
    imagesPerSec: batch / secPerStep,
    convGradSecPerStep: speed,
    finalNll: lastNll,
    heldOutPsnrDb: psnrSum / nb,
    lastEpoch: {
      epoch: lastEpoch.epoch,
      step: lastEpoch.step,
      usage: lastEpoch.usage,
      perplexity: lastEpoch.perplexity,
    },
    heldOut: { usage: held.usage, perplexity: held.perplexity },
    targets: {
      usageAtLeast95: lastEpoch.usage >= 0.95,
      perplexityAtLeast80pct: lastEpoch.perplexity >= 0.8 * K,
      stepAtMost50ms: secPerStep <= 0.05,
    },
  };
  line(
    `speed: ${result.stepsPerSec.toFixed(2)} steps/s, ${result.imagesPerSec.toFixed(1)} images/s (${(1000 * secPerStep).toFixed(0)} ms/step wall, ${(1000 * cpuPerStep).toFixed(0)} ms/step CPU); ${steps} steps in ${totalSec.toFixed(0)} s`,
  );
  line(`held-out PSNR: ${result.heldOutPsnrDb.toFixed(2)} dB`);
  line(
    `codebook (epoch ${lastEpoch.epoch}, to step ${lastEpoch.step}): usage ${(100 * lastEpoch.usage).toFixed(1)} % (target >= 95), perplexity ${lastEpoch.perplexity.toFixed(1)} (target >= ${0.8 * K})`,
  );
  line(
    `codebook (held out): usage ${(100 * held.usage).toFixed(1)} %, perplexity ${held.perplexity.toFixed(1)}`,
  );
  line(
    `load after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
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
