/**
 * Kernel Inception Distance: the unbiased MMD^2 estimate with the cubic polynomial kernel
 * k(x, y) = (x.y / d + 1)^3, averaged over random subsets, as torch-fidelity and clean-fid compute
 * it (100 subsets of 1000 by default). Float64 throughout; does not load tfjs.
 */
import { Rng } from '@artist-ts/core/rng';
import { type FeatureProtocol, formatFingerprint, type ScoreFingerprint } from './protocol';
import type { FeatureMatrix } from './stats';

export interface KidConfig {
  /** Number of random subsets (torch-fidelity: 100). */
  subsets: number;
  /** Samples per subset (torch-fidelity: 1000). */
  subsetSize: number;
  /** When a set is smaller than `subsetSize`: `clamp` uses the smaller size (clean-fid), `throw` refuses (torch-fidelity). */
  onSmallSet: 'clamp' | 'throw';
  /** Polynomial kernel (gamma x.y + coef0)^degree; gamma null means 1/d. */
  degree: number;
  gamma: number | null;
  coef0: number;
  /** Seed of the subset sampler (torch-fidelity uses 2020 with numpy's generator; streams differ). */
  seed: number | string;
  /** Precompute kernel matrices when n1*n1 + n2*n2 + n1*n2 is at most this many entries (float64). */
  maxKernelEntries: number;
  onWarning?: (message: string) => void;
}

export const DEFAULT_KID_CONFIG: Readonly<KidConfig> = Object.freeze({
  subsets: 100,
  subsetSize: 1000,
  onSmallSet: 'clamp' as const,
  degree: 3,
  gamma: null,
  coef0: 1,
  seed: 2020,
  maxKernelEntries: 64 * 1024 * 1024,
});

/** Copies `config`, fills defaults and throws an error naming the bad field. */
export function validateKidConfig(config: Partial<KidConfig> = {}): KidConfig {
  const c: KidConfig = { ...DEFAULT_KID_CONFIG, ...config };
  const posInt = (
    k: 'subsets' | 'subsetSize' | 'degree' | 'maxKernelEntries',
    min: number,
  ): void => {
    if (!Number.isInteger(c[k]) || c[k] < min)
      throw new RangeError(`KidConfig.${k}: expected an integer >= ${min}, got ${c[k]}`);
  };
  posInt('subsets', 1);
  posInt('subsetSize', 2);
  posInt('degree', 1);
  posInt('maxKernelEntries', 0);
  if (c.onSmallSet !== 'clamp' && c.onSmallSet !== 'throw') {
    throw new RangeError(
      `KidConfig.onSmallSet: expected one of clamp, throw, got '${c.onSmallSet}'`,
    );
  }
  if (c.gamma !== null && !(Number.isFinite(c.gamma) && c.gamma > 0)) {
    throw new RangeError(`KidConfig.gamma: expected null or a finite number > 0, got ${c.gamma}`);
  }
  if (!Number.isFinite(c.coef0))
    throw new RangeError(`KidConfig.coef0: expected a finite number, got ${c.coef0}`);
  if (typeof c.seed !== 'number' && typeof c.seed !== 'string')
    throw new TypeError('KidConfig.seed: expected a number or a string');
  return c;
}

export interface KidResult {
  /** Mean of the subset MMD^2 estimates. */
  kid: number;
  /** Standard deviation over subsets (population std, as numpy's np.std). */
  kidStd: number;
  subsets: number;
  subsetSize: number;
  /** The per-subset estimates. */
  values: Float64Array;
  warnings: string[];
  fingerprint: ScoreFingerprint;
  summary: string;
}

/** Row-blocked Gram matrix G[i][j] = x_i . y_j in float64 (x: n x d, y: m x d). */
function gram(
  x: ArrayLike<number>,
  xi: Int32Array | null,
  n: number,
  y: ArrayLike<number>,
  yi: Int32Array | null,
  m: number,
  d: number,
  symmetric: boolean,
): Float64Array {
  const xr = toRows(x, xi, n, d);
  const yr = symmetric ? xr : toRows(y, yi, m, d);
  const g = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const oi = i * d;
    const jEnd = symmetric ? i + 1 : m;
    let j = 0;
    for (; j + 3 < jEnd; j += 4) {
      const o0 = j * d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < d; k++) {
        const a = xr[oi + k]!;
        s0 += a * yr[o0 + k]!;
        s1 += a * yr[o0 + d + k]!;
        s2 += a * yr[o0 + 2 * d + k]!;
        s3 += a * yr[o0 + 3 * d + k]!;
      }
      g[i * m + j] = s0;
      g[i * m + j + 1] = s1;
      g[i * m + j + 2] = s2;
      g[i * m + j + 3] = s3;
    }
    for (; j < jEnd; j++) {
      let s = 0;
      const oj = j * d;
      for (let k = 0; k < d; k++) s += xr[oi + k]! * yr[oj + k]!;
      g[i * m + j] = s;
    }
  }
  if (symmetric)
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) g[j * m + i] = g[i * m + j]!;
  return g;
}

/** Copies the selected rows into a contiguous float64 matrix. */
function toRows(x: ArrayLike<number>, idx: Int32Array | null, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const src = (idx ? idx[i]! : i) * d;
    for (let k = 0; k < d; k++) out[i * d + k] = x[src + k]!;
  }
  return out;
}

function applyKernel(g: Float64Array, gamma: number, coef0: number, degree: number): Float64Array {
  for (let i = 0; i < g.length; i++) {
    const b = g[i]! * gamma + coef0;
    g[i] = degree === 3 ? b * b * b : b ** degree;
  }
  return g;
}

/** k distinct indices from [0, n), by a partial Fisher-Yates shuffle. */
function sampleWithoutReplacement(rng: Rng, n: number, k: number, scratch: Int32Array): Int32Array {
  for (let i = 0; i < n; i++) scratch[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = scratch[i]!;
    scratch[i] = scratch[j]!;
    scratch[j] = t;
  }
  return scratch.slice(0, k);
}

/**
 * Unbiased MMD^2 from kernel sums: (sum_{i!=j} Kxx + sum_{i!=j} Kyy) / (m(m-1)) - 2 sum Kxy / m^2,
 * torch-fidelity's `mmd2(..., mmd_est='unbiased')`.
 */
function mmd2(
  kxx: Float64Array,
  nx: number,
  ix: Int32Array,
  kyy: Float64Array,
  ny: number,
  iy: Int32Array,
  kxy: Float64Array,
  m: number,
): number {
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let a = 0; a < m; a++) {
    const ra = ix[a]! * nx;
    const rb = iy[a]! * ny;
    const rxy = ix[a]! * ny;
    for (let b = 0; b < m; b++) {
      if (a !== b) {
        sxx += kxx[ra + ix[b]!]!;
        syy += kyy[rb + iy[b]!]!;
      }
      sxy += kxy[rxy + iy[b]!]!;
    }
  }
  return (sxx + syy) / (m * (m - 1)) - (2 * sxy) / (m * m);
}

/** KID between two feature sets (rows are feature vectors). */
export function kid(
  features1: FeatureMatrix,
  features2: FeatureMatrix,
  config: Partial<KidConfig> = {},
  protocol: FeatureProtocol | null = null,
): KidResult {
  const c = validateKidConfig(config);
  const d = features1.dim;
  if (features2.dim !== d)
    throw new RangeError(`features2.dim: ${features2.dim} differs from features1.dim ${d}`);
  for (const [name, f] of [
    ['features1', features1],
    ['features2', features2],
  ] as const) {
    if (f.data.length !== f.count * f.dim)
      throw new RangeError(
        `${name}.data: expected ${f.count * f.dim} values, got ${f.data.length}`,
      );
    if (f.count < 2)
      throw new RangeError(`${name}.count: KID needs at least 2 samples, got ${f.count}`);
  }
  const n1 = features1.count;
  const n2 = features2.count;
  const warnings: string[] = [];
  let m = c.subsetSize;
  if (m > Math.min(n1, n2)) {
    if (c.onSmallSet === 'throw') {
      throw new RangeError(
        `KidConfig.subsetSize: ${m} exceeds the smaller set (${Math.min(n1, n2)} samples)`,
      );
    }
    m = Math.min(n1, n2);
    const w = `subset size clamped from ${c.subsetSize} to ${m} (smaller set), as clean-fid does`;
    warnings.push(w);
    c.onWarning?.(w);
  }
  const gamma = c.gamma ?? 1 / d;
  const rng = new Rng(c.seed);
  const values = new Float64Array(c.subsets);
  const scratch1 = new Int32Array(n1);
  const scratch2 = new Int32Array(n2);
  const precompute = n1 * n1 + n2 * n2 + n1 * n2 <= c.maxKernelEntries;
  let kxx: Float64Array | null = null;
  let kyy: Float64Array | null = null;
  let kxy: Float64Array | null = null;
  if (precompute) {
    kxx = applyKernel(
      gram(features1.data, null, n1, features1.data, null, n1, d, true),
      gamma,
      c.coef0,
      c.degree,
    );
    kyy = applyKernel(
      gram(features2.data, null, n2, features2.data, null, n2, d, true),
      gamma,
      c.coef0,
      c.degree,
    );
    kxy = applyKernel(
      gram(features1.data, null, n1, features2.data, null, n2, d, false),
      gamma,
      c.coef0,
      c.degree,
    );
  }
  const identity = new Int32Array(m).map((_, i) => i);
  for (let s = 0; s < c.subsets; s++) {
    const i1 = m === n1 ? identity : sampleWithoutReplacement(rng, n1, m, scratch1);
    const i2 = m === n2 ? identity : sampleWithoutReplacement(rng, n2, m, scratch2);
    if (precompute) {
      values[s] = mmd2(kxx!, n1, i1, kyy!, n2, i2, kxy!, m);
    } else {
      const a = applyKernel(
        gram(features1.data, i1, m, features1.data, i1, m, d, true),
        gamma,
        c.coef0,
        c.degree,
      );
      const b = applyKernel(
        gram(features2.data, i2, m, features2.data, i2, m, d, true),
        gamma,
        c.coef0,
        c.degree,
      );
      const ab = applyKernel(
        gram(features1.data, i1, m, features2.data, i2, m, d, false),
        gamma,
        c.coef0,
        c.degree,
      );
      values[s] = mmd2(a, m, identity, b, m, identity, ab, m);
    }
  }
  let mean = 0;
  for (const v of values) mean += v;
  mean /= c.subsets;
  let v2 = 0;
  for (const v of values) v2 += (v - mean) * (v - mean);
  const std = Math.sqrt(v2 / c.subsets);
  const fingerprint: ScoreFingerprint = {
    metric: 'KID',
    protocol,
    counts: [n1, n2],
    dtype: 'float64',
    subsets: c.subsets,
    subsetSize: m,
  };
  return {
    kid: mean,
    kidStd: std,
    subsets: c.subsets,
    subsetSize: m,
    values,
    warnings,
    fingerprint,
    summary: `KID = ${mean.toExponential(6)} ± ${std.toExponential(3)} ${formatFingerprint(fingerprint)}`,
  };
}
