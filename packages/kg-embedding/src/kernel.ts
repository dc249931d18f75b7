/**
 * The hot loops, on plain typed arrays: sparse per-triple TransE updates (training) and filtered
 * ranking of link-prediction queries (evaluation). The same functions run on the calling thread
 * (`workers: 0`) and inside worker_threads over SharedArrayBuffers (hogwild), so one worker and
 * the calling thread give bit-identical results. Negative sampling always runs here; when the
 * tables live in a WebAssembly memory (`Tables.wasm`) the arithmetic of a step is handed to the
 * SIMD kernels of `simd_kernels.ts`, else the float64 JavaScript loops below do it.
 */
import { Rng } from '@artist-ts/core/rng';
import type { TransEConfig } from './config';
import { FastRng } from './fast_rng';
import { type SimdRanker, SimdTrainer, type WasmTables } from './simd_kernels';
import type { TripleIndexData } from './triple_index';

/** The trainable tables, row-major. */
export interface Tables {
  dim: number;
  numEntities: number;
  numRelations: number;
  /** [N * dim] */
  entity: Float32Array;
  /** [R * dim] */
  relation: Float32Array;
  /** [N] row-wise Adagrad accumulators. */
  entityAcc: Float32Array;
  /** [R] */
  relationAcc: Float32Array;
  /**
   * Set when the tables and accumulators are views into a WebAssembly memory: training steps
   * then run on the f32x4 kernels of `simd_kernels.ts` (the classic one-negative step, or the
   * general K-negative step), whenever `regularization` is 0 and the dim is a multiple of 4.
   */
  wasm?: WasmTables;
}

/** What one training epoch reads. */
export interface TrainData {
  /** [n * 3] (h, r, t) */
  triples: Int32Array;
  count: number;
  /** [n] this epoch's visiting order. */
  order: Uint32Array;
  /** [R] probability of corrupting the head. */
  headProb: Float64Array;
  /** Known training triples (for `filterNegatives`). */
  index: TripleIndexData | null;
}

/** The subset of the config the kernel reads. */
export type KernelConfig = Pick<
  TransEConfig,
  | 'dim'
  | 'distance'
  | 'loss'
  | 'margin'
  | 'negatives'
  | 'sharedNegatives'
  | 'adversarialTemperature'
  | 'corruption'
  | 'filterNegatives'
  | 'optimizer'
  | 'learningRate'
  | 'lrSchedule'
  | 'warmupEpochs'
  | 'minLrRatio'
  | 'renorm'
  | 'regularization'
  | 'batchSize'
  | 'seed'
  | 'epochs'
>;

/** Coordinates per block of the evaluation lower bound. */
export const RANK_BLOCK_DIMS = 16;

/** Scratch memory of one thread. */
export class Workspace {
  readonly rng = new Rng(0);
  readonly fast = new FastRng();
  /** [(K + 1) * dim] difference vectors h + r - t of the positive and each negative. */
  readonly diff: Float64Array;
  readonly negDist: Float64Array;
  readonly negEnt: Int32Array;
  readonly negHead: Uint8Array;
  readonly negCoef: Float64Array;
  /** [loss, dLoss/d positive distance] of the current triple (weighNegatives). */
  readonly lossGp = new Float64Array(2);
  /** [K] entities shared by a group of positives. */
  readonly shared: Int32Array;
  readonly gH: Float64Array;
  readonly gT: Float64Array;
  readonly gR: Float64Array;
  readonly gE: Float64Array;
  readonly query: Float64Array;
  mask: Uint8Array;
  /** [N * blocks] per-entity sums over blocks of RANK_BLOCK_DIMS coordinates (evaluation lower bounds). */
  blockSums: Float64Array = new Float64Array(0);
  readonly queryBlocks: Float64Array;
  /** WebAssembly SIMD ranking state, created on first use. */
  simd: SimdRanker | null = null;
  /** WebAssembly SIMD training state, created on first use. */
  simdTrain: SimdTrainer | null = null;
  /** This thread's plan area in `Tables.wasm` (0 on the calling thread, i for worker i). */
  slot = 0;

  constructor(dim: number, negatives: number, numEntities: number) {
    this.diff = new Float64Array((negatives + 1) * dim);
    this.negDist = new Float64Array(negatives);
    this.negEnt = new Int32Array(negatives);
    this.negHead = new Uint8Array(negatives);
    this.negCoef = new Float64Array(negatives);
    this.shared = new Int32Array(negatives);
    this.gH = new Float64Array(dim);
    this.gT = new Float64Array(dim);
    this.gR = new Float64Array(dim);
    this.gE = new Float64Array(dim);
    this.query = new Float64Array(dim);
    this.mask = new Uint8Array(numEntities);
    this.queryBlocks = new Float64Array(Math.ceil(dim / RANK_BLOCK_DIMS));
  }
}

function logSigmoid(x: number): number {
  return x < 0 ? x - Math.log1p(Math.exp(x)) : -Math.log1p(Math.exp(-x));
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * The general step's loss for one positive at distance `dp` and K negatives at `negDist`.
 * Negative weights are uniform, or self-adversarial softmax(-alpha * d) taken as constants
 * (`minNeg` is the smallest negative distance, for a stable softmax). Writes
 * [loss, dLoss/d dp] into `out` and dLoss/d negDist[i] into `coef[i]`; returns whether any
 * gradient is non-zero.
 */
function weighNegatives(
  negDist: Float64Array,
  coef: Float64Array,
  K: number,
  minNeg: number,
  dp: number,
  alpha: number,
  margin: number,
  logsig: boolean,
  out: Float64Array,
): boolean {
  if (alpha > 0) {
    let z = 0;
    for (let i = 0; i < K; i++) {
      const w = Math.exp(-alpha * (negDist[i] - minNeg));
      coef[i] = w;
      z += w;
    }
    for (let i = 0; i < K; i++) coef[i] /= z;
  } else {
    for (let i = 0; i < K; i++) coef[i] = 1 / K;
  }
  let gp = 0;
  let loss = 0;
  let any = false;
  if (logsig) {
    loss = -logSigmoid(margin - dp);
    gp = sigmoid(dp - margin);
    any = true;
    for (let i = 0; i < K; i++) {
      const w = coef[i];
      loss -= w * logSigmoid(negDist[i] - margin);
      coef[i] = -w * sigmoid(margin - negDist[i]);
    }
  } else {
    for (let i = 0; i < K; i++) {
      const w = coef[i];
      const v = margin + dp - negDist[i];
      if (v > 0) {
        loss += w * v;
        gp += w;
        coef[i] = -w;
        any = true;
      } else {
        coef[i] = 0;
      }
    }
  }
  out[0] = loss;
  out[1] = gp;
  return any;
}

/**
 * Applies gradient `g` (plus the L2 penalty) to row `row` of `table` with SGD or row-wise Adagrad,
 * then renormalises (`renorm` 1: onto the unit ball, 2: onto the unit sphere).
 */
function applyRow(
  table: Float32Array,
  acc: Float32Array,
  row: number,
  g: Float64Array,
  dim: number,
  lr: number,
  adagrad: boolean,
  reg: number,
  renorm: number,
): void {
  const off = row * dim;
  let scale = lr;
  if (adagrad || reg > 0) {
    const r2 = 2 * reg;
    let sq = 0;
    for (let k = 0; k < dim; k++) {
      const v = g[k] + r2 * table[off + k];
      g[k] = v;
      sq += v * v;
    }
    if (adagrad) {
      const a = acc[row] + sq / dim;
      acc[row] = a;
      scale = lr / (Math.sqrt(a) + 1e-10);
    }
  }
  let n2 = 0;
  for (let k = 0; k < dim; k++) {
    const v = table[off + k] - scale * g[k];
    table[off + k] = v;
    n2 += v * v;
  }
  if (renorm !== 0 && n2 > 0 && (renorm === 2 || n2 > 1)) {
    const inv = 1 / Math.sqrt(n2);
    for (let k = 0; k < dim; k++) table[off + k] *= inv;
  }
}

/**
 * X[xo..xo+D) = A[aO..] + Rt[rO..] - B[bO..]; returns the L1 norm, or the squared L2 norm
 * (two accumulators, so the sum is not one serial chain of additions).
 */
function diffInto(
  E: Float32Array,
  aO: number,
  Rt: Float32Array,
  rO: number,
  bO: number,
  X: Float64Array,
  xo: number,
  D: number,
  l1: boolean,
): number {
  let s0 = 0;
  let s1 = 0;
  const D2 = D - (D % 2);
  let k = 0;
  if (l1) {
    for (; k < D2; k += 2) {
      const x0 = E[aO + k] + Rt[rO + k] - E[bO + k];
      const x1 = E[aO + k + 1] + Rt[rO + k + 1] - E[bO + k + 1];
      X[xo + k] = x0;
      X[xo + k + 1] = x1;
      s0 += Math.abs(x0);
      s1 += Math.abs(x1);
    }
    if (k < D) {
      const x = E[aO + k] + Rt[rO + k] - E[bO + k];
      X[xo + k] = x;
      s0 += Math.abs(x);
    }
  } else {
    for (; k < D2; k += 2) {
      const x0 = E[aO + k] + Rt[rO + k] - E[bO + k];
      const x1 = E[aO + k + 1] + Rt[rO + k + 1] - E[bO + k + 1];
      X[xo + k] = x0;
      X[xo + k + 1] = x1;
      s0 += x0 * x0;
      s1 += x1 * x1;
    }
    if (k < D) {
      const x = E[aO + k] + Rt[rO + k] - E[bO + k];
      X[xo + k] = x;
      s0 += x * x;
    }
  }
  return s0 + s1;
}

/** Is (h, r, t) in the index? (inlined copy of triple_index.hasTriple: no cross-module call in the loop) */
function known(ix: TripleIndexData, h: number, r: number, t: number): boolean {
  const bloom = ix.bloom;
  if (bloom !== undefined) {
    // Same hash as triple_index.tripleHash; a clear bit proves the triple unknown.
    let x =
      Math.imul(h, 0x9e3779b1) ^ Math.imul(r + 0x7f4a7c15, 0x85ebca6b) ^ Math.imul(t, 0xc2b2ae35);
    x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
    x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
    const bit = (x ^ (x >>> 16)) & (bloom.length * 32 - 1);
    if ((bloom[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
  }
  const keys = ix.headKeys;
  const key = r * ix.numEntities + t;
  let lo = ix.headOffsets[h];
  const end = ix.headOffsets[h + 1];
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < end && keys[lo] === key;
}

/**
 * The classic TransE step (Bordes et al.; OpenKE, Fast-TransE): L1, margin loss, one negative,
 * plain SGD, no penalty. Both distances come from one pass and all four rows are updated in a
 * second, so the step touches each row twice instead of five times. Same result as the general
 * path up to the order of the renormalisations.
 */
function trainRangeClassic(
  ws: Workspace,
  t: Tables,
  data: TrainData,
  cfg: KernelConfig,
  start: number,
  end: number,
  lr: number,
): number {
  const D = t.dim;
  const N = t.numEntities;
  const E = t.entity;
  const Rt = t.relation;
  const X = ws.diff;
  const rng = ws.fast;
  rng.load(ws.rng);
  const limitN = 4294967296 - (4294967296 % N);
  const margin = cfg.margin;
  const bern = cfg.corruption === 'bernoulli';
  const ix = cfg.filterNegatives ? data.index : null;
  const renorm = cfg.renorm === 'none' ? 0 : cfg.renorm === 'max' ? 1 : 2;
  const share = cfg.sharedNegatives;
  const shared = ws.shared;
  const triples = data.triples;
  const order = data.order;
  let lossSum = 0;
  for (let p = start; p < end; p++) {
    const idx = order[p] * 3;
    const h = triples[idx];
    const r = triples[idx + 1];
    const tt = triples[idx + 2];
    if (share > 1 && (p - start) % share === 0) shared[0] = rng.int(N, limitN);
    const corruptHead = rng.next() < (bern ? data.headProb[r] : 0.5) * 4294967296;
    let e = 0;
    for (let attempt = 0; attempt < 32; attempt++) {
      e = attempt === 0 && share > 1 ? shared[0] : rng.int(N, limitN);
      if (corruptHead) {
        if (e === h) continue;
        if (ix !== null && known(ix, e, r, tt)) continue;
      } else {
        if (e === tt) continue;
        if (ix !== null && known(ix, h, r, e)) continue;
      }
      break;
    }
    const hO = h * D;
    const rO = r * D;
    const tO = tt * D;
    const eO = e * D;
    // Negative: (e, r, t) or (h, r, e). One pass: X[k] = positive diff, X[D + k] = negative diff.
    let dp = 0;
    let dn = 0;
    if (corruptHead) {
      for (let k = 0; k < D; k++) {
        const rk = Rt[rO + k];
        const tk = E[tO + k];
        const xp = E[hO + k] + rk - tk;
        const xn = E[eO + k] + rk - tk;
        X[k] = xp;
        X[D + k] = xn;
        dp += Math.abs(xp);
        dn += Math.abs(xn);
      }
    } else {
      for (let k = 0; k < D; k++) {
        const hr = E[hO + k] + Rt[rO + k];
        const xp = hr - E[tO + k];
        const xn = hr - E[eO + k];
        X[k] = xp;
        X[D + k] = xn;
        dp += Math.abs(xp);
        dn += Math.abs(xn);
      }
    }
    const v = margin + dp - dn;
    if (v <= 0) continue;
    lossSum += v;
    // dL/dd_pos = 1, dL/dd_neg = -1. Positive: h -= lr s_p, r -= lr s_p, t += lr s_p; the negative
    // adds -s_n to r and to its uncorrupted side, and moves e away.
    if (corruptHead) {
      for (let k = 0; k < D; k++) {
        const xp = X[k];
        const xn = X[D + k];
        const sp = lr * (((xp > 0) as unknown as number) - ((xp < 0) as unknown as number));
        const sn = lr * (((xn > 0) as unknown as number) - ((xn < 0) as unknown as number));
        E[hO + k] -= sp;
        Rt[rO + k] -= sp - sn;
        E[tO + k] += sp - sn;
        E[eO + k] += sn;
      }
    } else {
      for (let k = 0; k < D; k++) {
        const xp = X[k];
        const xn = X[D + k];
        const sp = lr * (((xp > 0) as unknown as number) - ((xp < 0) as unknown as number));
        const sn = lr * (((xn > 0) as unknown as number) - ((xn < 0) as unknown as number));
        E[hO + k] -= sp - sn;
        Rt[rO + k] -= sp - sn;
        E[tO + k] += sp;
        E[eO + k] -= sn;
      }
    }
    if (renorm !== 0) {
      renormRow(E, hO, D, renorm);
      if (tt !== h) renormRow(E, tO, D, renorm);
      if (e !== h && e !== tt) renormRow(E, eO, D, renorm);
    }
  }
  rng.store(ws.rng);
  return lossSum;
}

/**
 * The classic step on the SIMD kernel: negatives are drawn here exactly as in
 * `trainRangeClassic` (same RNG calls, same filter), written to the thread's plan area, and the
 * arithmetic runs in WebAssembly (float32).
 */
function trainRangeClassicSimd(
  ws: Workspace,
  k: SimdTrainer,
  t: Tables,
  data: TrainData,
  cfg: KernelConfig,
  start: number,
  end: number,
  lr: number,
): number {
  const N = t.numEntities;
  const rng = ws.fast;
  rng.load(ws.rng);
  const limitN = 4294967296 - (4294967296 % N);
  const bern = cfg.corruption === 'bernoulli';
  const ix = cfg.filterNegatives ? data.index : null;
  const share = cfg.sharedNegatives;
  const triples = data.triples;
  const order = data.order;
  const headProb = data.headProb;
  const plan = k.plan;
  let sharedEnt = 0;
  let w = 0;
  for (let p = start; p < end; p++) {
    const idx = order[p] * 3;
    const h = triples[idx];
    const r = triples[idx + 1];
    const tt = triples[idx + 2];
    if (share > 1 && (p - start) % share === 0) sharedEnt = rng.int(N, limitN);
    const corruptHead = rng.next() < (bern ? headProb[r] : 0.5) * 4294967296;
    let e = 0;
    for (let attempt = 0; attempt < 32; attempt++) {
      e = attempt === 0 && share > 1 ? sharedEnt : rng.int(N, limitN);
      if (corruptHead) {
        if (e === h) continue;
        if (ix !== null && known(ix, e, r, tt)) continue;
      } else {
        if (e === tt) continue;
        if (ix !== null && known(ix, h, r, e)) continue;
      }
      break;
    }
    plan[w] = h;
    plan[w + 1] = r;
    plan[w + 2] = tt;
    plan[w + 3] = (e << 1) | (corruptHead ? 1 : 0);
    w += 4;
  }
  rng.store(ws.rng);
  if (share > 1) ws.shared[0] = sharedEnt;
  const renorm = cfg.renorm === 'none' ? 0 : cfg.renorm === 'max' ? 1 : 2;
  return k.run(end - start, t.dim, lr, cfg.margin, renorm);
}

/**
 * The general step on the SIMD kernels: negatives drawn exactly as in `trainRange` (same RNG
 * calls), distances and gradient updates in WebAssembly (float32), the loss, the self-adversarial
 * weights and the per-distance factors in JavaScript (float64), one forward and one backward call
 * per positive.
 */
function trainRangeGeneralSimd(
  ws: Workspace,
  kern: SimdTrainer,
  t: Tables,
  data: TrainData,
  cfg: KernelConfig,
  start: number,
  end: number,
  lr: number,
): number {
  const D = t.dim;
  const N = t.numEntities;
  const K = cfg.negatives;
  const negDist = ws.negDist;
  const negEnt = ws.negEnt;
  const negHead = ws.negHead;
  const coef = ws.negCoef;
  const lossGp = ws.lossGp;
  const rng = ws.fast;
  rng.load(ws.rng);
  const limitN = 4294967296 - (4294967296 % N);
  const l1 = cfg.distance === 'L1';
  const margin = cfg.margin;
  const logsig = cfg.loss === 'logsigmoid';
  const alpha = cfg.adversarialTemperature;
  const bern = cfg.corruption === 'bernoulli';
  const ix = cfg.filterNegatives ? data.index : null;
  const adagrad = cfg.optimizer === 'adagrad';
  const renorm = cfg.renorm === 'none' ? 0 : cfg.renorm === 'max' ? 1 : 2;
  const share = cfg.sharedNegatives;
  const shared = ws.shared;
  const triples = data.triples;
  const order = data.order;
  const neg = kern.neg;
  const dist = kern.dist;
  const scale = kern.scale;
  let lossSum = 0;
  for (let p = start; p < end; p++) {
    const idx = order[p] * 3;
    const h = triples[idx];
    const r = triples[idx + 1];
    const tt = triples[idx + 2];
    if (share > 1 && (p - start) % share === 0)
      for (let i = 0; i < K; i++) shared[i] = rng.int(N, limitN);
    const pHead = bern ? data.headProb[r] : 0.5;
    const headCut = pHead * 4294967296;
    for (let i = 0; i < K; i++) {
      const corruptHead = rng.next() < headCut;
      let e = 0;
      for (let attempt = 0; attempt < 32; attempt++) {
        e = attempt === 0 && share > 1 ? shared[i] : rng.int(N, limitN);
        if (corruptHead) {
          if (e === h) continue;
          if (ix !== null && known(ix, e, r, tt)) continue;
        } else {
          if (e === tt) continue;
          if (ix !== null && known(ix, h, r, e)) continue;
        }
        break;
      }
      negEnt[i] = e;
      negHead[i] = corruptHead ? 1 : 0;
      neg[i] = (e << 1) | (corruptHead ? 1 : 0);
    }
    kern.forward(h, r, tt, K, D, !l1);
    const dp = l1 ? dist[0] : Math.sqrt(dist[0]);
    let minNeg = Number.POSITIVE_INFINITY;
    for (let i = 0; i < K; i++) {
      const dn = l1 ? dist[i + 1] : Math.sqrt(dist[i + 1]);
      negDist[i] = dn;
      if (dn < minNeg) minNeg = dn;
    }
    const any = weighNegatives(negDist, coef, K, minNeg, dp, alpha, margin, logsig, lossGp);
    const loss = lossGp[0];
    const gp = lossGp[1];
    lossSum += loss;
    if (!any) continue;
    scale[0] = l1 ? gp : dp > 0 ? gp / dp : 0;
    for (let i = 0; i < K; i++) {
      const c = coef[i];
      scale[i + 1] = c === 0 ? 0 : l1 ? c : negDist[i] > 0 ? c / negDist[i] : 0;
    }
    kern.backward(h, r, tt, K, D, !l1, lr, adagrad, renorm);
  }
  rng.store(ws.rng);
  return lossSum;
}

function renormRow(E: Float32Array, off: number, D: number, renorm: number): void {
  let n2 = 0;
  for (let k = 0; k < D; k++) n2 += E[off + k] * E[off + k];
  if (n2 > 0 && (renorm === 2 || n2 > 1)) {
    const inv = 1 / Math.sqrt(n2);
    for (let k = 0; k < D; k++) E[off + k] *= inv;
  }
}

/** The classic TransE step (L1, margin loss, one negative, SGD, no penalty): the fused paths. */
export function isClassicStep(cfg: KernelConfig): boolean {
  return (
    cfg.negatives === 1 &&
    cfg.loss === 'margin' &&
    cfg.distance === 'L1' &&
    cfg.optimizer === 'sgd' &&
    cfg.regularization === 0
  );
}

/**
 * Trains on positives `order[start .. end)` with the given learning rate and returns the summed
 * loss. Gradients of one positive and its negatives are all taken at the current parameters, then
 * applied row by row.
 */
export function trainRange(
  ws: Workspace,
  t: Tables,
  data: TrainData,
  cfg: KernelConfig,
  start: number,
  end: number,
  lr: number,
): number {
  const w = t.wasm;
  const simd =
    w !== undefined &&
    w.dim === t.dim &&
    t.dim % 4 === 0 &&
    ws.slot < w.slots &&
    cfg.regularization === 0 &&
    cfg.negatives <= w.negatives &&
    end - start <= w.scratchBytes / 16;
  if (simd && (ws.simdTrain === null || ws.simdTrain.wasm !== w))
    ws.simdTrain = new SimdTrainer(w, ws.slot);
  if (isClassicStep(cfg)) {
    if (simd && ws.simdTrain !== null)
      return trainRangeClassicSimd(ws, ws.simdTrain, t, data, cfg, start, end, lr);
    return trainRangeClassic(ws, t, data, cfg, start, end, lr);
  }
  if (simd && ws.simdTrain !== null)
    return trainRangeGeneralSimd(ws, ws.simdTrain, t, data, cfg, start, end, lr);
  const D = t.dim;
  const N = t.numEntities;
  const K = cfg.negatives;
  const E = t.entity;
  const Rt = t.relation;
  const X = ws.diff;
  const negDist = ws.negDist;
  const negEnt = ws.negEnt;
  const negHead = ws.negHead;
  const coef = ws.negCoef;
  const lossGp = ws.lossGp;
  const gH = ws.gH;
  const gT = ws.gT;
  const gR = ws.gR;
  const gE = ws.gE;
  const rng = ws.fast;
  rng.load(ws.rng);
  const limitN = 4294967296 - (4294967296 % N);
  const l1 = cfg.distance === 'L1';
  const margin = cfg.margin;
  const logsig = cfg.loss === 'logsigmoid';
  const alpha = cfg.adversarialTemperature;
  const bern = cfg.corruption === 'bernoulli';
  const ix = cfg.filterNegatives ? data.index : null;
  const adagrad = cfg.optimizer === 'adagrad';
  const reg = cfg.regularization;
  const renorm = cfg.renorm === 'none' ? 0 : cfg.renorm === 'max' ? 1 : 2;
  const share = cfg.sharedNegatives;
  const shared = ws.shared;
  const triples = data.triples;
  const order = data.order;
  let lossSum = 0;

  for (let p = start; p < end; p++) {
    const idx = order[p] * 3;
    const h = triples[idx];
    const r = triples[idx + 1];
    const tt = triples[idx + 2];
    const hO = h * D;
    const rO = r * D;
    const tO = tt * D;
    // Positive: X[0..D) = h + r - t.
    let dp = diffInto(E, hO, Rt, rO, tO, X, 0, D, l1);
    if (!l1) dp = Math.sqrt(dp);
    // Negatives: fresh entities per positive, or one set shared by `share` consecutive positives
    // (rows stay in cache; DGL-KE's chunked sampling). A shared entity that is invalid for this
    // positive (the original entity, or a known triple) is replaced by a fresh draw.
    if (share > 1 && (p - start) % share === 0)
      for (let i = 0; i < K; i++) shared[i] = rng.int(N, limitN);
    const pHead = bern ? data.headProb[r] : 0.5;
    const headCut = pHead * 4294967296;
    let minNeg = Number.POSITIVE_INFINITY;
    for (let i = 0; i < K; i++) {
      const corruptHead = rng.next() < headCut;
      let e = 0;
      for (let attempt = 0; attempt < 32; attempt++) {
        e = attempt === 0 && share > 1 ? shared[i] : rng.int(N, limitN);
        if (corruptHead) {
          if (e === h) continue;
          if (ix !== null && known(ix, e, r, tt)) continue;
        } else {
          if (e === tt) continue;
          if (ix !== null && known(ix, h, r, e)) continue;
        }
        break;
      }
      negEnt[i] = e;
      negHead[i] = corruptHead ? 1 : 0;
      const eO = e * D;
      let dn = corruptHead
        ? diffInto(E, eO, Rt, rO, tO, X, (i + 1) * D, D, l1)
        : diffInto(E, hO, Rt, rO, eO, X, (i + 1) * D, D, l1);
      if (!l1) dn = Math.sqrt(dn);
      negDist[i] = dn;
      if (dn < minNeg) minNeg = dn;
    }
    const any = weighNegatives(negDist, coef, K, minNeg, dp, alpha, margin, logsig, lossGp);
    const loss = lossGp[0];
    const gp = lossGp[1];
    lossSum += loss;
    if (!any) continue;
    // Direction of each distance: sign(x) for L1 (branch-free), x / ||x|| for L2.
    if (l1) {
      for (let k = 0; k < D; k++) {
        const x = X[k];
        const g = gp * (((x > 0) as unknown as number) - ((x < 0) as unknown as number));
        gH[k] = g;
        gT[k] = -g;
        gR[k] = g;
      }
    } else {
      const invP = dp > 0 ? gp / dp : 0;
      for (let k = 0; k < D; k++) {
        const g = X[k] * invP;
        gH[k] = g;
        gT[k] = -g;
        gR[k] = g;
      }
    }
    for (let i = 0; i < K; i++) {
      const c = coef[i];
      if (c === 0) continue;
      const xo = (i + 1) * D;
      const sc = l1 ? c : negDist[i] > 0 ? c / negDist[i] : 0;
      const head = negHead[i] === 1;
      // The corrupted entity sits on the head side (+) or the tail side (-) of h + r - t.
      const sideSign = head ? 1 : -1;
      const gOther = head ? gT : gH;
      if (l1 && reg === 0) {
        // Fused L1 path: the corrupted row's gradient is sc * sign(x), so its squared norm is
        // sc^2 * (non-zero count) and the Adagrad step is known before the single update pass.
        const eO = negEnt[i] * D;
        let scale = lr;
        if (adagrad) {
          let nz = 0;
          for (let k = 0; k < D; k++) nz += (X[xo + k] !== 0) as unknown as number;
          const a = t.entityAcc[negEnt[i]] + (sc * sc * nz) / D;
          t.entityAcc[negEnt[i]] = a;
          scale = lr / (Math.sqrt(a) + 1e-10);
        }
        const step = scale * sideSign;
        let n2 = 0;
        for (let k = 0; k < D; k++) {
          const x = X[xo + k];
          const g = sc * (((x > 0) as unknown as number) - ((x < 0) as unknown as number));
          gR[k] += g;
          gOther[k] -= sideSign * g;
          const v = E[eO + k] - step * g;
          E[eO + k] = v;
          n2 += v * v;
        }
        if (renorm !== 0 && n2 > 0 && (renorm === 2 || n2 > 1)) {
          const inv = 1 / Math.sqrt(n2);
          for (let k = 0; k < D; k++) E[eO + k] *= inv;
        }
        continue;
      }
      for (let k = 0; k < D; k++) {
        const x = X[xo + k];
        const g = l1
          ? sc * (((x > 0) as unknown as number) - ((x < 0) as unknown as number))
          : x * sc;
        gR[k] += g;
        gOther[k] -= sideSign * g;
        gE[k] = sideSign * g;
      }
      applyRow(E, t.entityAcc, negEnt[i], gE, D, lr, adagrad, reg, renorm);
    }
    applyRow(E, t.entityAcc, h, gH, D, lr, adagrad, reg, renorm);
    applyRow(E, t.entityAcc, tt, gT, D, lr, adagrad, reg, renorm);
    applyRow(Rt, t.relationAcc, r, gR, D, lr, adagrad, reg, 0);
  }
  rng.store(ws.rng);
  return lossSum;
}

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
