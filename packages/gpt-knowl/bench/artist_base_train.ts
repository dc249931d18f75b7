/**
 * ARTIST-base fine-tuning benchmark (`pnpm bench:base`): full fine-tuning of the `artist-base`
 * preset (126.7 M parameters, easynlp fusion, AdamW lr 4e-5, random weights) on the default
 * backend (`initRuntime()`), one child process per micro-batch so that each peak RSS is its own.
 * Prints s/step (wall), CPU-s/step, peak RSS and the recomputed blocks the trainer chose, beside
 * PyTorch's step at the same micro-batch, measured in the same run when PyTorch and EasyNLP's
 * model file are available, else beside the figures measured on the 2-core machine.
 *
 * Options: --batches 2,8,16 (micro-batches), --steps N (per micro-batch, default 2; the last one
 * is reported, the first builds the AdamW slots), --recompute N (TrainConfig.recomputeBlocks,
 * default 'auto'), --no-torch (skip the PyTorch peer).
 * PyTorch peer: ARTIST_TORCH_PEER=<torch_artist_base_step.py> SRC=<folder with EasyNLP's
 * modeling_artist_knowl.py> PYTHONPATH=<torch install> (see the repository's shared bench README).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { Rng } from '@artist-ts/core/rng';
import { describeRuntime, initRuntime } from '@artist-ts/runtime';
import { type GptExample, GptTrainer, KnowlGpt } from '../src';

/** PyTorch 2.13 CPU, 2 threads, on the project's 2-core machine (2026-12-04). */
const PYTORCH_FIXED: Record<number, { stepS: number; rssGB: number } | undefined> = {
  2: { stepS: 4.05, rssGB: 3.0 },
  8: { stepS: 14.1, rssGB: 4.7 },
};

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Row {
  batch: number;
  stepS: number;
  cpuS: number;
  rssGB: number;
  loss: number;
  recompute: number;
  runtime: string;
}

/** One micro-batch in this process: prints one JSON line. */
async function child(batch: number, steps: number, recompute: number | 'auto'): Promise<void> {
  const info = await initRuntime();
  const model = new KnowlGpt({ preset: 'artist-base', fusion: 'easynlp' }, { seed: 1 });
  const c = model.config;
  const rng = new Rng('bench/artist-base');
  const table = {
    vectors: rng.fillNormal(new Float32Array(1000 * c.entityDim)),
    numEntities: 1000,
    dim: c.entityDim,
  };
  const chars = Array.from({ length: 20 }, (_, i) => i); // lattice-data's FLAT layout
  const data: GptExample[] = Array.from({ length: batch }, () => ({
    text: Array.from({ length: 20 }, () => 1 + rng.int(c.textVocabSize - 1)),
    codes: Array.from({ length: c.imageLen }, () => rng.int(c.imageVocabSize)),
    lattice: {
      seqLen: 20,
      lexIds: [1 + rng.int(999), 1 + rng.int(999)].map(String),
      posS: [...chars, 0, 5],
      posE: [...chars, 3, 9],
    },
  }));
  const trainer = new GptTrainer(
    model,
    { batchSize: batch, learningRate: 4e-5, totalSteps: 100, recomputeBlocks: recompute },
    { entityTable: table },
  );
  let last = { stepS: 0, cpuS: 0, loss: 0 };
  for (let s = 0; s < steps; s++) {
    const u0 = process.cpuUsage();
    const m = await trainer.trainStep(data);
    const u = process.cpuUsage(u0);
    last = { stepS: m.stepMs / 1000, cpuS: (u.user + u.system) / 1e6, loss: m.loss };
  }
  const row: Row = {
    batch,
    ...last,
    rssGB: (process.resourceUsage().maxRSS * 1024) / 1e9,
    recompute: trainer.recomputeBlocks,
    runtime: describeRuntime(info),
  };
  trainer.dispose();
  model.dispose();
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

/** Runs this file for one micro-batch in a child process. */
function runChild(batch: number, steps: number, recompute: string): Row {
  const r = spawnSync(
    process.execPath,
    [
      ...(__filename.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : []),
      __filename,
      '--child',
      String(batch),
      '--steps',
      String(steps),
      '--recompute',
      recompute,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    throw new Error(`micro-batch ${batch}: child exited ${r.status}\n${r.stderr}`);
  }
  return JSON.parse(line) as Row;
}

/** utime + stime of a live process, in seconds (Linux /proc), or null. */
function procCpuSeconds(pid: number): number | null {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15, clock ticks (100 Hz)
  } catch {
    return null;
  }
}

/** PyTorch's step at `batch` (last of its 3 steps), its peak RSS and CPU-s, or null. */
async function torchPeer(
  batch: number,
): Promise<{ stepS: number; rssGB: number; cpuS: number } | null> {
  const script = process.env.ARTIST_TORCH_PEER;
  if (!script || !process.env.SRC || !fs.existsSync(script)) return null;
  if (spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) return null;
  return new Promise((resolve) => {
    const p = spawn('python3', [script, String(batch), '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let cpu = 0;
    const poll = setInterval(() => {
      cpu = procCpuSeconds(p.pid!) ?? cpu;
    }, 200);
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.on('close', (code) => {
      clearInterval(poll);
      const steps = [...out.matchAll(/step (\d+) loss \S+ ([\d.]+) s rss (\d+) MiB/g)];
      if (code !== 0 || steps.length === 0) return resolve(null);
      const last = steps.at(-1)!;
      resolve({
        stepS: Number(last[2]),
        rssGB: (Number(last[3]) * 2 ** 20) / 1e9,
        // the whole run (3 steps and the model build) over its steps: an upper bound per step
        cpuS: cpu / steps.length,
      });
    });
  });
}

async function main() {
  const childBatch = arg('--child');
  const steps = Number(arg('--steps') ?? 2);
  const recompute = arg('--recompute') ?? 'auto';
  if (childBatch)
    return child(Number(childBatch), steps, recompute === 'auto' ? 'auto' : Number(recompute));
  const batches = (arg('--batches') ?? '2,8,16').split(',').map(Number);
  const withTorch = !process.argv.includes('--no-torch');
  console.log(
    `ARTIST-base fine-tuning (126.7 M, easynlp fusion, AdamW), ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), node ${process.version}, ARTIST_BLAS_THREADS=${process.env.ARTIST_BLAS_THREADS ?? 'unset'}`,
  );
  for (const batch of batches) {
    const load0 = os.loadavg()[0];
    const r = runChild(batch, steps, recompute);
    if (batch === batches[0]) console.log(`runtime: ${r.runtime}`);
    const t = withTorch ? await torchPeer(batch) : null;
    const ref = t
      ? `PyTorch (same run) ${t.stepS.toFixed(2)} s/step, ~${t.cpuS.toFixed(1)} CPU-s/step, ${t.rssGB.toFixed(2)} GB`
      : PYTORCH_FIXED[batch]
        ? `PyTorch (2026-12-04 figure) ${PYTORCH_FIXED[batch]!.stepS} s/step, ${PYTORCH_FIXED[batch]!.rssGB} GB`
        : 'PyTorch: not measured';
    const versus = t ?? PYTORCH_FIXED[batch];
    const ratio = versus
      ? ` (${(r.stepS / versus.stepS).toFixed(2)}x wall, ${(r.rssGB / versus.rssGB).toFixed(2)}x RSS)`
      : '';
    console.log(
      `micro-batch ${batch}: ${r.stepS.toFixed(2)} s/step, ${r.cpuS.toFixed(1)} CPU-s/step, peak RSS ${r.rssGB.toFixed(2)} GB, ${r.recompute} of 12 blocks recomputed, loss ${r.loss.toFixed(3)}${ratio}; ${ref}; load average ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
