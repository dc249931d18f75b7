/**
 * Link-prediction ranking in JavaScript (float64, the reference kernel): every candidate of a
 * query is scored, with block-sum lower bounds and early abandoning to skip the hopeless ones,
 * and filtered ranks subtract the known answers. The SIMD ranker lives in `simd_kernels.ts`.
 */
import { RANK_BLOCK_DIMS, type Tables, type Workspace } from './kernel';
import type { TripleIndexData } from './triple_index';

/** What a batch of link-prediction queries reads. Query j asks for the tail (j even) or head (j odd) of triple j >> 1. */
export interface RankData {
  /** [q * 3] (h, r, t) test triples. */
  triples: Int32Array;
  /** Known triples to filter, or null for raw ranks. */
  index: TripleIndexData | null;
  /** [2 * q * 2] output: for query j, [2j] = candidates strictly better, [2j + 1] = tied candidates. */
  out: Int32Array;
  /** Skip candidates by the block-sum lower bound (JS kernel only; default true; exact either way). */
  bound?: boolean;
  /** 'simd': WebAssembly f32x4 (float32 sums); 'js': float64 scalar loops with lower bounds. Default 'simd' where supported. */
  kernel?: RankKernel;
}

/** Which ranking kernel to use. */
export type RankKernel = 'simd' | 'js';

function distanceAbandon(
  E: Float32Array,
  off: number,
  q: Float64Array,
  D: number,
  l1: boolean,
  bound: number,
): number {
  // Four accumulators (no single add chain), combined by the same expression tree at every check
  // and at the end, so a full sum is identical however it is reached. Floating-point addition is
  // monotone in each operand and the terms are non-negative, so a partial value above `bound`
  // proves the candidate worse and we stop early.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  const D8 = D - (D % 8);
  if (l1) {
    while (k < D8) {
      s0 += Math.abs(E[off + k] - q[k]);
      s1 += Math.abs(E[off + k + 1] - q[k + 1]);
      s2 += Math.abs(E[off + k + 2] - q[k + 2]);
      s3 += Math.abs(E[off + k + 3] - q[k + 3]);
      s0 += Math.abs(E[off + k + 4] - q[k + 4]);
      s1 += Math.abs(E[off + k + 5] - q[k + 5]);
      s2 += Math.abs(E[off + k + 6] - q[k + 6]);
      s3 += Math.abs(E[off + k + 7] - q[k + 7]);
      k += 8;
      if ((k & 31) === 0 && s0 + s1 + (s2 + s3) > bound) return s0 + s1 + (s2 + s3);
    }
    let s = s0 + s1 + (s2 + s3);
    for (; k < D; k++) s += Math.abs(E[off + k] - q[k]);
    return s;
  }
  while (k < D8) {
    let x = E[off + k] - q[k];
    s0 += x * x;
    x = E[off + k + 1] - q[k + 1];
    s1 += x * x;
    x = E[off + k + 2] - q[k + 2];
    s2 += x * x;
    x = E[off + k + 3] - q[k + 3];
    s3 += x * x;
    x = E[off + k + 4] - q[k + 4];
    s0 += x * x;
    x = E[off + k + 5] - q[k + 5];
    s1 += x * x;
    x = E[off + k + 6] - q[k + 6];
    s2 += x * x;
    x = E[off + k + 7] - q[k + 7];
    s3 += x * x;
    k += 8;
    if ((k & 31) === 0 && s0 + s1 + (s2 + s3) > bound) return s0 + s1 + (s2 + s3);
  }
  let s = s0 + s1 + (s2 + s3);
  for (; k < D; k++) {
    const x = E[off + k] - q[k];
    s += x * x;
  }
  return s;
}

function lowerBoundKeys(keys: Float64Array, lo: number, hi: number, key: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Per-entity block sums for the ranking lower bound: with S_b(x) = sum of x over block b,
 * L1(e - q) >= sum_b |S_b(e) - S_b(q)| and L2^2(e - q) >= sum_b (S_b(e) - S_b(q))^2 / n_b
 * (triangle and Cauchy-Schwarz inequalities). Call after the tables change.
 */
export function prepareRanking(ws: Workspace, t: Tables): void {
  const D = t.dim;
  const B = Math.ceil(D / RANK_BLOCK_DIMS);
  if (ws.blockSums.length !== t.numEntities * B) ws.blockSums = new Float64Array(t.numEntities * B);
  const S = ws.blockSums;
  const E = t.entity;
  for (let e = 0; e < t.numEntities; e++) {
    for (let b = 0; b < B; b++) {
      let s = 0;
      const end = Math.min(D, (b + 1) * RANK_BLOCK_DIMS);
      for (let k = b * RANK_BLOCK_DIMS; k < end; k++) s += E[e * D + k];
      S[e * B + b] = s;
    }
  }
}

/** Ranks queries [qStart, qEnd) (query numbering as in RankData); `prepareRanking` must have run. */
export function rankRange(
  ws: Workspace,
  t: Tables,
  data: RankData,
  distance: 'L1' | 'L2',
  qStart: number,
  qEnd: number,
): void {
  const D = t.dim;
  const N = t.numEntities;
  const E = t.entity;
  const Rt = t.relation;
  const q = ws.query;
  const mask = ws.mask;
  const l1 = distance === 'L1';
  const ix = data.index;
  for (let j = qStart; j < qEnd; j++) {
    const tri = (j >> 1) * 3;
    const h = data.triples[tri];
    const r = data.triples[tri + 1];
    const tt = data.triples[tri + 2];
    const tail = (j & 1) === 0;
    const target = tail ? tt : h;
    const rO = r * D;
    if (tail) {
      const hO = h * D;
      for (let k = 0; k < D; k++) q[k] = E[hO + k] + Rt[rO + k];
    } else {
      const tO = tt * D;
      for (let k = 0; k < D; k++) q[k] = E[tO + k] - Rt[rO + k];
    }
    const dt = distanceAbandon(E, target * D, q, D, l1, Number.POSITIVE_INFINITY);
    // Mask the target and, when filtering, every other known answer.
    let keys: Float64Array | null = null;
    let lo = 0;
    let hi = 0;
    const base = r * N;
    if (ix !== null) {
      keys = tail ? ix.headKeys : ix.tailKeys;
      const seg = tail ? h : tt;
      const offs = tail ? ix.headOffsets : ix.tailOffsets;
      const end = offs[seg + 1];
      lo = lowerBoundKeys(keys, offs[seg], end, base);
      hi = lo;
      while (hi < end && keys[hi] < base + N) {
        mask[keys[hi] - base] = 1;
        hi++;
      }
    }
    mask[target] = 1;
    // Block sums of the query; a candidate whose lower bound exceeds dt (with a margin far above
    // rounding error) is worse for certain and is skipped without computing its distance.
    const B = ws.queryBlocks.length;
    const QB = ws.queryBlocks;
    const S = ws.blockSums;
    for (let b = 0; b < B; b++) {
      let sq = 0;
      const end = Math.min(D, (b + 1) * RANK_BLOCK_DIMS);
      for (let k = b * RANK_BLOCK_DIMS; k < end; k++) sq += q[k];
      QB[b] = sq;
    }
    const cut = data.bound === false ? Number.POSITIVE_INFINITY : dt * (1 + 1e-9) + 1e-9;
    const lastN = D - (B - 1) * RANK_BLOCK_DIMS;
    let better = 0;
    let ties = 0;
    for (let e = 0; e < N; e++) {
      if (mask[e] === 1) continue;
      const so = e * B;
      let lb = 0;
      if (cut === Number.POSITIVE_INFINITY) {
        // bound disabled
      } else if (l1) {
        for (let b = 0; b < B; b++) lb += Math.abs(S[so + b] - QB[b]);
      } else {
        for (let b = 0; b < B; b++) {
          const x = S[so + b] - QB[b];
          lb += (x * x) / (b === B - 1 ? lastN : RANK_BLOCK_DIMS);
        }
      }
      if (lb > cut) continue;
      const d = distanceAbandon(E, e * D, q, D, l1, dt);
      if (d < dt) better++;
      else if (d === dt) ties++;
    }
    mask[target] = 0;
    if (keys !== null) for (let i = lo; i < hi; i++) mask[keys[i] - base] = 0;
    data.out[2 * j] = better;
    data.out[2 * j + 1] = ties;
  }
}
