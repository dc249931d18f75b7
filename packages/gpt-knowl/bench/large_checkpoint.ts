/**
 * By hand, not in CI (minutes, ~6 GiB of memory): a checkpoint above 2 GiB saves and resumes.
 * artist-large (357.9 M parameters) with AdamW slots after one update: weights.bin 1.4 GB,
 * optimizer.bin 2.9 GB. On the cpu backend: wasm's 4 GiB heap cannot hold weights + slots of this
 * size (see training_memory.ts). Prints save and resume times (wall and CPU), peak RSS, and whether
 * every weight and slot came back bit for bit (SHA-256 per tensor).
 *
 *   node -r ts-node/register/transpile-only bench/large_checkpoint.ts [--dir D] [--preset P]
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AdamW,
  initRuntime,
  loadCheckpoint,
  restoreOptimizer,
  saveCheckpoint,
} from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { KnowlGpt, type PresetName } from '../src';
import { arg, cpuSeconds, gib, peakRss } from './bench_args';

function digests(named: { name: string; tensor: tf.Tensor }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { name, tensor } of named) {
    const d = tensor.dataSync();
    out.set(
      name,
      createHash('sha256')
        .update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
        .digest('hex'),
    );
  }
  return out;
}

async function timed<T>(what: string, f: () => Promise<T> | T): Promise<T> {
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const r = await f();
  console.log(
    `${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s wall, ${(cpuSeconds() - c0).toFixed(1)} CPU-s, ` +
      `peak RSS so far ${peakRss()}, load average ${os.loadavg()[0].toFixed(2)}`,
  );
  return r;
}

async function main(): Promise<void> {
  await initRuntime({ backend: 'cpu' });
  const preset = arg('--preset', 'artist-large') as PresetName;
  const root = arg('--dir', path.join(os.tmpdir(), `large-checkpoint-${process.pid}`));
  const model = await timed(
    `init ${preset}`,
    () => new KnowlGpt({ preset, fusion: 'easynlp' }, { seed: 1 }),
  );
  const opt = new AdamW({ learningRate: 1e-4, weightDecay: 0.01 });
  // One update with the weights as gradients: slots hold non-trivial values.
  await timed('one AdamW update', () => opt.applyGradients(model.variables, model.variables));
  const params = model.numParameters();
  const before = digests([
    ...Object.entries(model.variables).map(([name, tensor]) => ({ name, tensor })),
    ...opt.getWeights().map((w) => ({ name: `slot:${w.name}`, tensor: w.tensor })),
  ]);
  const dir = await timed('save (weights + AdamW slots)', () =>
    saveCheckpoint(root, { weights: model.variables, optimizer: opt, state: { step: 1 } }),
  );
  const size = (f: string) => fs.statSync(path.join(dir, f)).size;
  console.log(
    `${(params / 1e6).toFixed(1)} M parameters: weights.bin ${gib(size('weights.bin'))}, optimizer.bin ${gib(size('optimizer.bin'))}, trainer_state.pb ${size('trainer_state.pb')} bytes`,
  );
  const config = model.config;
  model.dispose();
  opt.dispose();
  const [model2, opt2] = await timed('resume (read + restore)', async () => {
    const ck = await loadCheckpoint(root);
    const m = new KnowlGpt(config, { weights: { tensors: ck.weights, source: ck.dir } });
    tf.dispose(Object.values(ck.weights));
    const o = new AdamW({ learningRate: 1e-4, weightDecay: 0.01 });
    await restoreOptimizer(o, ck.state);
    return [m, o] as const;
  });
  const after = digests([
    ...Object.entries(model2.variables).map(([name, tensor]) => ({ name, tensor })),
    ...opt2.getWeights().map((w) => ({ name: `slot:${w.name}`, tensor: w.tensor })),
  ]);
  const differ = [...before].filter(([k, h]) => after.get(k) !== h).map(([k]) => k);
  console.log(
    `bit-identical after resume: ${differ.length === 0 && after.size === before.size ? 'yes' : `NO (${differ.slice(0, 5).join(', ')})`} (${before.size} tensors); peak RSS ${peakRss()}`,
  );
  model2.dispose();
  opt2.dispose();
  fs.rmSync(root, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
