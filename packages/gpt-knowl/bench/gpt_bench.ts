/**
 * gpt-knowl benchmark (`pnpm bench`), on the default backend (`initRuntime()`).
 *
 * 1. Sampling: the `small` preset (4 layers, d=256, 32 text + 256 image tokens = 288 context,
 *    1024 codes, lattice fusion on), top-k 100, 256 image tokens per image, batch 1 and 8, with and
 *    without the KV cache. PyTorch CPU on this machine, same shape: 414 tokens/s cached, 87 uncached.
 * 2. Training: the `tiny` preset (the native-kernels tiny GPT: 4 layers, d=128, 64 text + 64 image
 *    tokens, 3000 + 512 vocabulary), batch 8, AdamW + clipping. PyTorch CPU: 0.080 s/step.
 *
 * Options: --tokens N (image tokens per image, default 256), --steps N (training steps, default 8),
 * --skip-uncached-8 (skip the slowest case).
 */
import os from 'node:os';
import { Rng } from '@artist-ts/core/rng';
import { initRuntime } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import {
  countParameters,
  type EntityTable,
  type GptExample,
  GptTrainer,
  KnowlGpt,
  type LatticeFields,
  sampleCodes,
} from '../src';

const PYTORCH = { cached: 414, uncached: 87, stepS: 0.08 };

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** CPU seconds of this process (user + system): robust to other load on the machine. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

async function benchSampling(tokens: number, skipUncached8: boolean) {
  const rng = new Rng('bench/sampling');
  const model = new KnowlGpt({ preset: 'small', imageLen: tokens }, { seed: 1 });
  const c = model.config;
  const table: EntityTable = {
    vectors: rng.fillNormal(new Float32Array(1000 * c.entityDim)),
    numEntities: 1000,
    dim: c.entityDim,
  };
  const texts = Array.from({ length: 8 }, () =>
    Array.from({ length: 24 }, () => 1 + rng.int(c.textVocabSize - 1)),
  );
  // lattice-data's FLAT layout: 24 character entries, then the entity spans
  const chars = Array.from({ length: 24 }, (_, i) => i);
  const lattices: LatticeFields[] = texts.map(() => ({
    seqLen: 24,
    lexIds: [rng.int(1000), rng.int(1000), rng.int(1000)].map(String),
    posS: [...chars, 0, 4, 10],
    posE: [...chars, 2, 6, 13],
  }));
  const rows: Record<string, number> = {};
  const cpuRows: Record<string, number> = {};
  // warm-up (kernel setup, JIT)
  await sampleCodes(
    model,
    { texts: texts.slice(0, 1), lattices: lattices.slice(0, 1), entityTable: table },
    { seed: 0 },
  );
  // kernels launched per decoded token (batch 1): two short runs, the difference per token
  const kernelsFor = async (len: number) => {
    const m = new KnowlGpt({ preset: 'small', imageLen: len }, { seed: 1 });
    const req = { texts: texts.slice(0, 1), lattices: lattices.slice(0, 1), entityTable: table };
    await sampleCodes(m, req, { seed: 0 });
    const info = await tf.profile(async () => {
      await sampleCodes(m, req, { seed: 0 });
    });
    m.dispose();
    return info.kernels.length;
  };
  const perToken = ((await kernelsFor(9)) - (await kernelsFor(5))) / 4;
  console.log(`sampling: ${perToken} kernels per decoded token (batch 1, 4 layers)`);
  for (const batch of [1, 8]) {
    for (const useCache of [true, false]) {
      if (!useCache && batch === 8 && skipUncached8) continue;
      const cpu0 = cpuSeconds();
      const r = await sampleCodes(
        model,
        { texts: texts.slice(0, batch), lattices: lattices.slice(0, batch), entityTable: table },
        { topK: 100, seed: 1, useCache, batchSize: batch },
        { onToken: sampleRss },
      );
      const cpu = cpuSeconds() - cpu0;
      const key = `batch ${batch} ${useCache ? 'cached' : 'uncached'}`;
      rows[key] = r.tokensPerSecond;
      cpuRows[key] = (batch * c.imageLen) / cpu;
      console.log(
        `sampling ${key}: ${r.tokensPerSecond.toFixed(1)} image tokens/s wall (${(r.elapsedMs / 1000).toFixed(2)} s for ${batch} x ${c.imageLen}); ${cpuRows[key].toFixed(1)} tokens per CPU-second`,
      );
    }
  }
  for (const batch of [1, 8]) {
    const a = rows[`batch ${batch} cached`];
    const b = rows[`batch ${batch} uncached`];
    if (a && b) {
      console.log(
        `sampling batch ${batch}: cached/uncached = ${(a / b).toFixed(2)}x wall, ${(cpuRows[`batch ${batch} cached`] / cpuRows[`batch ${batch} uncached`]).toFixed(2)}x CPU`,
      );
    }
  }
  const b1 = rows['batch 1 cached'];
  const b1cpu = cpuRows['batch 1 cached'];
  console.log(
    `sampling vs PyTorch CPU (414 cached, 87 uncached, 4.8x): batch-1 cached ${(b1 / PYTORCH.cached).toFixed(2)}x of PyTorch wall, ${(b1cpu / PYTORCH.cached).toFixed(2)}x per CPU-second; target >= 200 tokens/s: ${b1 >= 200 ? 'met' : `NOT met on wall time${b1cpu >= 200 ? ' (met per CPU-second: the machine was loaded)' : ''}`}`,
  );
  console.log(`load average during the run: ${os.loadavg()[0].toFixed(2)}`);
  model.dispose();
}

async function benchTraining(steps: number, fusion: 'none' | 'lattice') {
  const rng = new Rng('bench/train');
  const model = new KnowlGpt({ preset: 'tiny', fusion }, { seed: 2 });
  const c = model.config;
  const table: EntityTable = {
    vectors: rng.fillNormal(new Float32Array(1000 * c.entityDim)),
    numEntities: 1000,
    dim: c.entityDim,
  };
  const textPositions = Array.from({ length: c.textLen }, (_, i) => i); // FLAT character entries
  const data: GptExample[] = Array.from({ length: 32 }, () => ({
    text: Array.from({ length: c.textLen }, () => rng.int(c.textVocabSize)),
    codes: Array.from({ length: c.imageLen }, () => rng.int(c.imageVocabSize)),
    lattice: {
      seqLen: c.textLen,
      lexIds: [rng.int(1000), rng.int(1000)].map(String),
      posS: [...textPositions, 0, 5],
      posE: [...textPositions, 3, 9],
    },
  }));
  const trainer = new GptTrainer(
    model,
    { batchSize: 8, totalSteps: 1000, learningRate: 3e-4 },
    { entityTable: table },
  );
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const losses: number[] = [];
  // kernels of one step (forward, backward, clipping, AdamW), counted on a throw-away trainer
  {
    const probe = new KnowlGpt({ preset: 'tiny', fusion }, { seed: 2 });
    const t = new GptTrainer(probe, { batchSize: 8 }, { entityTable: table });
    const b = t.nextBatch(data);
    await t.trainStep(b);
    const info = await tf.profile(async () => {
      await t.trainStep(b);
    });
    console.log(`training tiny (fusion ${fusion}): ${info.kernels.length} kernels per step`);
    t.dispose();
    probe.dispose();
  }
  for (let i = 0; i < steps + 1; i++) {
    const batch = trainer.nextBatch(data);
    const cpu0 = cpuSeconds();
    const m = await trainer.trainStep(batch);
    const cpu = cpuSeconds() - cpu0;
    sampleRss();
    if (i > 0) {
      times.push(m.stepMs / 1000);
      cpuTimes.push(cpu);
    }
    losses.push(m.loss);
  }
  const med = median(times);
  const medCpu = median(cpuTimes);
  console.log(
    `training tiny (fusion ${fusion}, ${(countParameters(c) / 1e6).toFixed(2)} M params, batch 8 x ${c.textLen + c.imageLen - 1} tokens): median ${med.toFixed(3)} s/step (min ${Math.min(...times).toFixed(3)}), ${(1 / med).toFixed(2)} steps/s; loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}; CPU ${medCpu.toFixed(3)} s/step; vs PyTorch 0.080 s: ${(med / PYTORCH.stepS).toFixed(2)}x wall, ${(medCpu / PYTORCH.stepS).toFixed(2)}x CPU; target <= 0.16 s: ${med <= 0.16 ? 'met' : `NOT met on wall time${medCpu <= 0.16 ? ' (met per CPU time: the machine was loaded)' : ''}`}; load average ${os.loadavg()[0].toFixed(2)}`,
  );
  trainer.dispose();
  model.dispose();
}

async function main() {
  const info = await initRuntime();
  console.log(
    `backend ${info.backend} (native kernels ${info.nativeKernels ? 'on' : 'off'}${info.blasThreads ? `, ${info.blasThreads} pool thread(s)` : ''}), ${os.cpus().length} cores, tfjs ${info.tfjsVersion}, node ${process.version}`,
  );
  if (!process.argv.includes('--skip-sampling')) {
    await benchSampling(arg('--tokens', 256), process.argv.includes('--skip-uncached-8'));
  }
  if (!process.argv.includes('--skip-training')) {
    const steps = arg('--steps', 8);
    await benchTraining(steps, 'none');
    await benchTraining(steps, 'lattice');
  }
  console.log(
    `memory: peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB; live tensors at end ${tf.memory().numTensors}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
