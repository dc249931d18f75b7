// Per-kernel profile of one training step, grouped by kernel name and input shapes, for finding
// what dominates a step and where extra kernels (casts, copies) come from.
//   node -r ts-node/register/transpile-only bench/profile_step.ts [--model gpt|gpt-fused|ae|ae-fused]
//     [--backend wasm|cpu] [--native 1|0] [--top 40]
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { formatInstallReport, installKernels } from '../src/index';
import { type ModelName, makeModel } from './models';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

async function main() {
  const model = arg('model', 'gpt');
  const backend = arg('backend', 'wasm') as 'wasm' | 'cpu';
  const top = Number(arg('top', '40'));
  await tf.setBackend(backend);
  await tf.ready();
  if (arg('native', '1') !== 'none') {
    const r = installKernels(tf, backend, { native: arg('native', '1') === '1' });
    console.log(formatInstallReport(r));
  }
  const net = makeModel(tf, model as ModelName);
  await net.step();
  await net.step();
  const prof = await tf.profile(async () => {
    await net.step();
  });
  const agg = new Map<string, { ms: number; calls: number }>();
  let total = 0;
  for (const k of prof.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    total += ms;
    const key = `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(' ')}`;
    const e = agg.get(key) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls++;
    agg.set(key, e);
  }
  console.log(`${prof.kernels.length} kernels, ${total.toFixed(1)} ms`);
  for (const [key, e] of [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    console.log(`${e.ms.toFixed(2).padStart(8)} ms ${String(e.calls).padStart(4)}x  ${key}`);
  }
  net.dispose();
}

void main();
