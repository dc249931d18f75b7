// Per-convolution speed of the tiny conv autoencoder's layers (issue 3) on the default backend:
// forward, input gradient and filter gradient, in ms and GFLOP/s, on 1 thread and on the pool.
//   node -r ts-node/register/transpile-only bench/conv_bench.ts [--threads 2] [--reps 15]
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { DEFAULT_INSTALL_KERNELS_OPTIONS, formatInstallReport, installKernels } from '../src/index';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/** [input NHWC, filter HWIO, stride] of every distinct convolution in the autoencoder step. */
type Shape4 = [number, number, number, number];
const LAYERS: [Shape4, Shape4, number][] = [
  [[8, 32, 32, 64], [3, 3, 64, 64], 1],
  [[8, 32, 32, 64], [4, 4, 64, 64], 2],
  [[8, 16, 16, 64], [3, 3, 64, 64], 1],
  [[8, 32, 32, 64], [3, 3, 64, 3], 1],
  [[8, 32, 32, 3], [3, 3, 3, 64], 1],
];

function best(reps: number, fn: () => tf.Tensor): number {
  for (let i = 0; i < 3; i++) fn().dispose();
  let ms = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    const o = fn();
    o.dataSync();
    ms = Math.min(ms, performance.now() - t);
    o.dispose();
  }
  return ms;
}

async function main() {
  const pool = Number(arg('threads', String(DEFAULT_INSTALL_KERNELS_OPTIONS.threads)));
  const reps = Number(arg('reps', '15'));
  await tf.setBackend('wasm');
  await tf.ready();
  console.log(
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; best of ${reps}`,
  );
  for (const threads of pool > 1 ? [1, pool] : [1]) {
    console.log(formatInstallReport(installKernels(tf, 'wasm', { threads })).split(';')[0]);
    for (const [xs, fs, stride] of LAYERS) {
      const x = tf.randomNormal(xs) as tf.Tensor4D;
      const f = tf.randomNormal(fs) as tf.Tensor4D;
      const y = tf.conv2d(x, f, stride, 'same');
      const gflop = (2 * y.size * fs[0] * fs[1] * fs[2]) / 1e9;
      const cols = [
        best(reps, () => tf.conv2d(x, f, stride, 'same')),
        best(reps, () => tf.conv2dTranspose(y, f, xs, stride, 'same')),
        best(
          reps,
          () =>
            tf
              .engine()
              .runKernel(
                'Conv2DBackpropFilter',
                { x, dy: y },
                { strides: stride, pad: 'same', dataFormat: 'NHWC', filterShape: fs },
              ) as tf.Tensor,
        ),
      ].map(
        (ms) =>
          `${ms.toFixed(2).padStart(6)} ms ${((gflop / ms) * 1e3).toFixed(0).padStart(4)} GF/s`,
      );
      console.log(
        `  ${threads} thr  x [${xs}] f [${fs}] s${stride}: forward ${cols[0]}  input grad ${cols[1]}  filter grad ${cols[2]}`,
      );
      tf.dispose([x, f, y]);
    }
  }
}

void main();
