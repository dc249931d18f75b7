/**
 * pnpm bench: Frechet distance at d = 64, 512, 2048 (float64 TypeScript) against a naive Jacobi
 * eigenvalue baseline measured in the same run, and feature extraction images/s for the default
 * extractor (nsfwjs InceptionV3 at 299 px) at batch 16 on the runtime's backend.
 *
 *   pnpm bench                      # everything
 *   pnpm bench -- --skip-extract    # Frechet only
 *   pnpm bench -- --d=2048 --skip-extract
 */
import { cpus, loadavg } from 'node:os';
import { Rng } from '@artist-ts/core/rng';
import { initRuntime } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { loadNsfwjsInceptionV3 } from '../src/nsfwjs_inception';
import { featuresOfImages } from '../src/pipeline';
import {
  cholesky,
  congruenceLower,
  frechetDistance,
  jacobiEigenvalues,
  symmetricEigenvalues,
} from '../src/stats_entry';

const now = (): number => Number(process.hrtime.bigint()) / 1e9;
/** Process CPU seconds (user + system): robust to other jobs sharing the cores, unlike wall time. */
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** A random covariance: B B^T / k + diag(0.1 .. 1.1), B d x k. */
function covariance(rng: Rng, d: number, k = 64): Float64Array {
  const b = new Float64Array(d * k);
  for (let i = 0; i < b.length; i++) b[i] = rng.normal();
  const s = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let t = 0;
      for (let p = 0; p < k; p++) t += b[i * k + p]! * b[j * k + p]!;
      s[i * d + j] = t / k;
      s[j * d + i] = t / k;
    }
    s[i * d + i]! += 0.1 + i / d;
  }
  return s;
}

function benchFrechet(d: number, withJacobi: boolean): void {
  if (only.length > 0 && !only.includes(d)) return;
  const rng = new Rng(`bench-${d}`);
  const s1 = covariance(rng, d);
  const s2 = covariance(rng, d);
  const mu1 = new Float64Array(d).map(() => rng.normal());
  const mu2 = new Float64Array(d).map(() => rng.normal());
  let t = now();
  const c0 = cpuNow();
  const r = frechetDistance(mu1, s1, mu2, s2);
  const total = now() - t;
  const cpu = cpuNow() - c0;
  // Breakdown of the same route.
  t = now();
  const l = cholesky(s1, d);
  const tChol = now() - t;
  t = now();
  const m = congruenceLower(l, s2, d);
  const tCong = now() - t;
  t = now();
  symmetricEigenvalues(m, d);
  const tEig = now() - t;
  const line: Record<string, unknown> = {
    d,
    fid: Number(r.fid.toFixed(6)),
    seconds: Number(total.toFixed(3)),
    cpu_seconds: Number(cpu.toFixed(3)),
    cholesky_s: Number(tChol.toFixed(3)),
    congruence_s: Number(tCong.toFixed(3)),
    tridiagonal_ql_s: Number(tEig.toFixed(3)),
  };
  if (withJacobi) {
    t = now();
    const ev = jacobiEigenvalues(m, d);
    const tJac = now() - t;
    let tr = 0;
    for (const x of ev) tr += Math.sqrt(Math.max(x, 0));
    line['jacobi_eig_s'] = Number(tJac.toFixed(3));
    line['speedup_vs_jacobi_eig'] = Number((tJac / tEig).toFixed(1));
    line['jacobi_trace_sqrt_abs_diff'] = Math.abs(tr - r.traceSqrt);
  }
  console.log(JSON.stringify(line));
}

async function benchExtract(): Promise<void> {
  const info = await initRuntime({ backend: 'auto' });
  const t0 = now();
  const ex = await loadNsfwjsInceptionV3();
  const load = now() - t0;
  const rng = new Rng('bench-images');
  const batch = 16;
  const h = 64;
  const images = Array.from({ length: batch }, () => {
    const data = new Uint8Array(h * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
    return { data, width: h, height: h };
  });
  featuresOfImages(ex, images); // warm-up (kernel setup)
  const reps = 2;
  const t = now();
  const c0 = cpuNow();
  for (let r = 0; r < reps; r++) featuresOfImages(ex, images);
  const secs = now() - t;
  const cpu = cpuNow() - c0;
  ex.dispose();
  console.log(
    JSON.stringify({
      extractor: 'nsfwjs-4.4.0-inception-v3 (299 px, from 64 px uint8)',
      backend: info.backend ?? tf.getBackend(),
      batch,
      images: batch * reps,
      images_per_s: Number(((batch * reps) / secs).toFixed(3)),
      s_per_image: Number((secs / (batch * reps)).toFixed(3)),
      cpu_s_per_image: Number((cpu / (batch * reps)).toFixed(3)),
      model_load_s: Number(load.toFixed(2)),
      tensors_after: tf.memory().numTensors,
    }),
  );
}

/** `--d=2048` (repeatable) restricts the Frechet sizes. */
const only = process.argv.filter((a) => a.startsWith('--d=')).map((a) => Number(a.slice(4)));

async function main(): Promise<void> {
  console.log(
    JSON.stringify({
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      loadavg: loadavg().map((x) => x.toFixed(2)),
      node: process.version,
    }),
  );
  console.log(
    '# Frechet distance, float64 TS (Cholesky + L^T S2 L + Householder/QL eigenvalues); baseline: cyclic Jacobi on the same matrix',
  );
  benchFrechet(64, true);
  benchFrechet(512, true);
  benchFrechet(2048, false);
  console.log(
    '# reference, same machine class (anchors.md §2.3, numpy/OpenBLAS 2 threads, d=2048): scipy sqrtm 73.4 s, eigvals 11.0 s, eigh route 6.8 s',
  );
  if (!process.argv.includes('--skip-extract')) {
    console.log('# feature extraction, default extractor, batch 16');
    await benchExtract();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
