// SGEMM throughput of the linked BLAS against the addon's portable SGEMM at the GEMM shapes of the
// tiny GPT and conv autoencoder steps (single call, one thread: the callers split jobs across the
// pool themselves), best of n, GFLOP/s and the ratio portable / BLAS.
//   node -r ts-node/register/transpile-only bench/sgemm_bench.ts [--reps 20]
import * as os from 'node:os';
import { getNativeAddon } from '../src/addon';
import { blasInfo, setBlasThreads, useGemm } from '../src/index';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/** [label, M, N, K, transA, transB, beta] */
const SHAPES: [string, number, number, number, boolean, boolean, number][] = [
  ['GPT qkv projection [1024,128]x[128,384]', 1024, 384, 128, false, false, 0],
  ['GPT output head [1024,128]x[128,3512]', 1024, 3512, 128, false, false, 0],
  ['GPT head weight grad x^T dy', 128, 3512, 1024, true, false, 0],
  ['GPT head input grad dy W^T', 1024, 128, 3512, false, true, 0],
  ['conv 4x4 s2 im2col chunk [256,1024]x[1024,64]', 256, 64, 1024, false, false, 0],
  ['conv filter grad col^T dy (beta 1)', 1024, 64, 256, true, false, 1],
  ['Winograd tile GEMM [256,64]x[64,64]', 256, 64, 64, false, false, 0],
  ['Winograd filter grad V^T M (beta 1)', 64, 64, 256, true, false, 1],
  ['first conv 3->64 [2048,27]x[27,64]', 2048, 64, 27, false, false, 0],
  ['square 1024', 1024, 1024, 1024, false, false, 0],
];

function main() {
  const addon = getNativeAddon();
  const info = blasInfo();
  if (!addon || !info) throw new Error('the native addon is not available');
  if (info.vendor === 'none') throw new Error('this build has no BLAS to compare with');
  setBlasThreads(1);
  const reps = Number(arg('reps', '20'));
  console.log(
    `machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? '?'}), load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(
        ' ',
      )}; ${info.vendor} ${info.corename} vs portable ${info.gemmKernel}; 1 thread, best of ${reps}`,
  );
  console.log(`${'shape'.padEnd(48)} ${info.vendor.padStart(9)}  portable  portable/BLAS time`);
  for (const [label, m, n, k, ta, tb, beta] of SHAPES) {
    const a = Float32Array.from({ length: m * k }, (_, i) => ((i % 7) - 3) / 7);
    const b = Float32Array.from({ length: k * n }, (_, i) => ((i % 5) - 2) / 5);
    const c = new Float32Array(m * n);
    const gflops: Record<string, number> = {};
    for (const g of ['blas', 'portable'] as const) {
      useGemm(g);
      for (let w = 0; w < 3; w++)
        addon.sgemmBatched(a, b, c, 1, m, n, k, ta, tb, null, null, 0, 0, 1, beta);
      let best = Number.POSITIVE_INFINITY;
      for (let r = 0; r < reps; r++) {
        const t0 = process.hrtime.bigint();
        addon.sgemmBatched(a, b, c, 1, m, n, k, ta, tb, null, null, 0, 0, 1, beta);
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
      }
      gflops[g] = (2 * m * n * k) / best / 1e9;
    }
    console.log(
      `${label.padEnd(48)} ${gflops.blas!.toFixed(1).padStart(9)} ${gflops.portable!.toFixed(1).padStart(9)}  ${(gflops.blas! / gflops.portable!).toFixed(2).padStart(8)}`,
    );
  }
  useGemm('blas');
}

main();
