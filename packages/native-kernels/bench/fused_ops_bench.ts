// Per-op time of the fused transformer ops against the same functions written with stock ops, at
// the shapes of the tiny GPT (batch 8 x 128 tokens, d = 128, 4 heads, MLP width 512), forward and
// forward + backward, on the default configuration (wasm + native kernels) or --backend cpu.
//   node -r ts-node/register/transpile-only bench/fused_ops_bench.ts [--backend wasm|cpu]
//     [--threads n] [--iters 30]
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  causalSelfAttention,
  DEFAULT_INSTALL_KERNELS_OPTIONS,
  formatInstallReport,
  fusedGelu,
  fusedLayerNorm,
  installKernels,
} from '../src';
import { causalAttentionComposite } from '../src/kernels/causal_attention';
import { geluComposite } from '../src/kernels/gelu';
import { layerNormComposite } from '../src/kernels/layer_norm';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/** Median wall and CPU milliseconds of `fn` over `iters` runs after 3 warm-up runs. */
function time(iters: number, fn: () => void): { wall: number; cpu: number } {
  for (let i = 0; i < 3; i++) fn();
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < iters; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    walls.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return { wall: med(walls), cpu: med(cpus) };
}

async function main() {
  const backend = arg('backend', 'wasm') as 'wasm' | 'cpu';
  const threads = Number(arg('threads', String(DEFAULT_INSTALL_KERNELS_OPTIONS.threads)));
  const iters = Number(arg('iters', '30'));
  await tf.setBackend(backend);
  await tf.ready();
  const report = installKernels(tf, backend, { threads });
  console.log(
    `machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(formatInstallReport(report));
  const [b, t, d, nHead] = [8, 128, 128, 4];
  const x = tf.randomNormal([b * t, 4 * d], 0, 1, 'float32', 1); // MLP hidden [1024, 512]
  const h = tf.randomNormal([b, t, d], 0, 1, 'float32', 2); // [8, 128, 128]
  const [q, k, v] = [3, 4, 5].map((s) => tf.randomNormal([b, t, d], 0, 1, 'float32', s)) as [
    tf.Tensor3D,
    tf.Tensor3D,
    tf.Tensor3D,
  ];
  // upstream gradients of the outputs: the backward of the op alone, no reduction in between
  const dx = tf.randomNormal([b * t, 4 * d], 0, 1, 'float32', 6);
  const dh = tf.randomNormal([b, t, d], 0, 1, 'float32', 7);
  const g = tf.ones([d]) as tf.Tensor1D;
  const beta = tf.zeros([d]) as tf.Tensor1D;
  const cases: { name: string; fused: () => tf.Tensor[]; stock: () => tf.Tensor[] }[] = [
    {
      name: 'gelu tanh [1024, 512]',
      fused: () => [fusedGelu(x, 'tanh')],
      stock: () => [geluComposite(x, 'tanh')],
    },
    {
      name: 'gelu tanh [1024, 512] +grad',
      fused: () => tf.grads((a: tf.Tensor) => fusedGelu(a, 'tanh'))([x], dx),
      stock: () => tf.grads((a: tf.Tensor) => geluComposite(a, 'tanh'))([x], dx),
    },
    {
      name: 'gelu exact [1024, 512] +grad',
      fused: () => tf.grads((a: tf.Tensor) => fusedGelu(a))([x], dx),
      stock: () => tf.grads((a: tf.Tensor) => geluComposite(a, 'none'))([x], dx),
    },
    {
      name: 'layer norm [8, 128, 128]',
      fused: () => [fusedLayerNorm(h, g, beta, 1e-5)],
      stock: () => [layerNormComposite(h, g, beta, 1e-5)],
    },
    {
      name: 'layer norm [8, 128, 128] +grad',
      fused: () =>
        tf.grads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
          fusedLayerNorm(a, gg as tf.Tensor1D, bb as tf.Tensor1D, 1e-5),
        )([h, g, beta], dh),
      stock: () =>
        tf.grads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
          layerNormComposite(a, gg, bb, 1e-5),
        )([h, g, beta], dh),
    },
    {
      name: 'causal attention [8, 128, 128] x4 heads',
      fused: () => [causalSelfAttention(q, k, v, nHead)],
      stock: () => [causalAttentionComposite(q, k, v, nHead, 1 / Math.sqrt(d / nHead))],
    },
    {
      name: 'causal attention +grad',
      fused: () =>
        tf.grads((a: tf.Tensor, bb: tf.Tensor, c: tf.Tensor) =>
          causalSelfAttention(a as tf.Tensor3D, bb as tf.Tensor3D, c as tf.Tensor3D, nHead),
        )([q, k, v], dh),
      stock: () =>
        tf.grads((a: tf.Tensor, bb: tf.Tensor, c: tf.Tensor) =>
          causalAttentionComposite(
            a as tf.Tensor3D,
            bb as tf.Tensor3D,
            c as tf.Tensor3D,
            nHead,
            1 / Math.sqrt(d / nHead),
          ),
        )([q, k, v], dh),
    },
  ];
  console.log(
    `${'op'.padEnd(40)} ${'stock ms'.padStart(9)} ${'(cpu)'.padStart(7)} ${'fused ms'.padStart(9)} ${'(cpu)'.padStart(7)} ${'speed-up'.padStart(9)}`,
  );
  for (const c of cases) {
    const s = time(iters, () => tf.dispose(c.stock()));
    const f = time(iters, () => tf.dispose(c.fused()));
    console.log(
      `${c.name.padEnd(40)} ${s.wall.toFixed(3).padStart(9)} ${s.cpu.toFixed(3).padStart(7)} ${f.wall
        .toFixed(3)
        .padStart(
          9,
        )} ${f.cpu.toFixed(3).padStart(7)} ${`${(s.wall / f.wall).toFixed(1)}x`.padStart(9)}`,
    );
  }
  tf.dispose([x, h, q, k, v, g, beta, dx, dh]);
}

void main();
