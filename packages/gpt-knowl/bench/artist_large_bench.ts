/**
 * artist-large (EasyNLP pai-painter-large-zh: 24 layers, width 1024, 16 heads, 357.9 M parameters)
 * on this machine, default backend (`pnpm bench:large`): what fits and how fast.
 *
 * - Load: `loadGpt` of a checkpoint with random weights (made by saveGpt on the first run in --dir;
 *   run the bench twice: the second run times the load in a fresh process, before anything else).
 * - Sampling: one image (256 codes), batch 1, KV cache, top-k 100.
 * - Training: on paper only (estimateTrainingMemory): weights + AdamW slots alone are 4.0 GiB,
 *   beyond the wasm heap.
 *
 * Options: --dir D (default $TMPDIR/artist-large-bench), --fusion none|easynlp (default none:
 * pai-painter-large-zh has no knowledge), --tokens N (image tokens sampled, default 256).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '@artist-ts/core/rng';
import { describeRuntime, initRuntime } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import {
  backendMemoryLimit,
  countParameters,
  estimateTrainingMemory,
  type FusionMode,
  KnowlGpt,
  largestFittingBatch,
  loadGpt,
  PRESETS,
  sampleCodes,
  saveGpt,
  validateGptConfig,
} from '../src';
import { arg, cpuSeconds, gib, peakRss } from './bench_args';

const load1 = () => os.loadavg()[0].toFixed(2);

async function main(): Promise<void> {
  const info = await initRuntime();
  console.log(`${describeRuntime(info)}; ${os.cpus().length} cores; ${gib(os.totalmem())} RAM`);
  const fusion = arg('--fusion', 'none') as FusionMode;
  const config = validateGptConfig({ ...PRESETS['artist-large'], fusion });
  console.log(
    `artist-large: ${(countParameters(config) / 1e6).toFixed(2)} M parameters (fusion ${fusion})`,
  );

  // Training, on paper.
  for (const backend of ['wasm', 'cpu']) {
    const limit = backendMemoryLimit(backend, os.totalmem());
    if (!limit) continue;
    for (const mb of [1, 8]) {
      const e = estimateTrainingMemory(config, mb);
      console.log(
        `training on ${backend}, micro-batch ${mb}: needs ${gib(e.total)} (weights ${gib(e.weights)}, AdamW ${gib(e.optimizerSlots)}, ` +
          `gradients ${gib(e.gradients)}, activations ${gib(e.activations)}; update peak ${gib(e.updatePeak)}) vs ${limit.what} ${gib(limit.bytes)}: ` +
          `${e.total <= limit.bytes ? 'fits' : 'does not fit'}; largest micro-batch that fits: ${largestFittingBatch(config, limit.bytes)}`,
      );
    }
  }

  const dir = arg('--dir', path.join(os.tmpdir(), 'artist-large-bench'));
  let model: KnowlGpt;
  if (fs.existsSync(path.join(dir, 'latest'))) {
    const c0 = cpuSeconds();
    const t0 = performance.now();
    model = await loadGpt(dir);
    console.log(
      `loadGpt (fresh process, file in page cache): ${((performance.now() - t0) / 1000).toFixed(2)} s wall, ` +
        `${(cpuSeconds() - c0).toFixed(2)} CPU-s; load average ${load1()}`,
    );
  } else {
    const t0 = performance.now();
    model = new KnowlGpt(config, { seed: 1 });
    await saveGpt(model, dir);
    console.log(
      `made and saved random weights in ${dir} (${((performance.now() - t0) / 1000).toFixed(1)} s); run again to time loadGpt`,
    );
  }

  const tokens = Number(arg('--tokens', '256'));
  const rng = new Rng('artist-large-bench');
  const text = Array.from({ length: 24 }, () => 1 + rng.int(config.textVocabSize - 1));
  const c0 = cpuSeconds();
  const t0 = performance.now();
  let done = 0;
  let wall = 0;
  const ctl = new AbortController();
  try {
    const r = await sampleCodes(
      model,
      { texts: [text] },
      { topK: 100, seed: 1, useCache: true, batchSize: 1 },
      {
        signal: ctl.signal,
        onToken: (p) => {
          done = p.token;
          wall = (performance.now() - t0) / 1000;
          if (p.token >= tokens) ctl.abort();
        },
      },
    );
    done = r.codes[0].length;
  } catch (e) {
    if (!ctl.signal.aborted) throw e;
  }
  const cpu = cpuSeconds() - c0;
  console.log(
    `sampling batch 1, KV cache, top-k 100: ${done} tokens in ${wall.toFixed(1)} s = ${(done / wall).toFixed(2)} tokens/s ` +
      `(${(done / cpu).toFixed(2)} per CPU-s; prefill included), ` +
      `peak RSS ${peakRss()}; wasm/tfjs bytes ${gib(tf.memory().numBytes)}; load average ${load1()}`,
  );
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
