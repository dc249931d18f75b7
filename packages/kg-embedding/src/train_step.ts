/**
 * The training steps: sparse per-triple TransE updates on plain typed arrays. `trainRange` picks
 * the variant: the classic step (L1, margin, one negative, SGD) or the general one (K negatives,
 * either loss and distance, SGD or Adagrad, penalty), each in float64 JavaScript or on the
 * WebAssembly SIMD kernels of `simd_kernels.ts` when the tables live in a WebAssembly memory
 * (`Tables.wasm`). All four draw their negatives through the one `NegativeSampler`.
 */
import type { KernelConfig, Tables, TrainData, Workspace } from './kernel';
import { SimdTrainer } from './simd_kernels';
import { applyRow, diffInto, renormCode, renormRow, weighNegatives } from './step_math';

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
  const sampler = ws.sampler;
  sampler.begin(ws.fast, ws.rng, N, data, cfg);
  const margin = cfg.margin;
  const renorm = renormCode(cfg.renorm);
  const triples = data.triples;
  const order = data.order;
  let lossSum = 0;
  for (let p = start; p < end; p++) {
    const idx = order[p] * 3;
    const h = triples[idx];
    const r = triples[idx + 1];
    const tt = triples[idx + 2];
    sampler.draw(p - start, h, r, tt, 1);
    const e = sampler.ent[0];
    const corruptHead = sampler.head[0] === 1;
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
  sampler.end();
  return lossSum;
}

/**
 * The classic step on the SIMD kernel: negatives are drawn by the same sampler as in
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
  const sampler = ws.sampler;
  sampler.begin(ws.fast, ws.rng, N, data, cfg);
  const triples = data.triples;
  const order = data.order;
  const plan = k.plan;
  // First gather the positives through the shuffled order: a short loop whose random reads of
  // the triple array overlap, instead of one miss per positive inside the sampling loop.
  let w = 0;
  for (let p = start; p < end; p++) {
    const idx = order[p] * 3;
    plan[w] = triples[idx];
    plan[w + 1] = triples[idx + 1];
    plan[w + 2] = triples[idx + 2];
    w += 4;
  }
  w = 0;
  for (let p = start; p < end; p++) {
    sampler.draw(p - start, plan[w], plan[w + 1], plan[w + 2], 1);
    plan[w + 3] = (sampler.ent[0] << 1) | sampler.head[0];
    w += 4;
  }
  sampler.end();
  const renorm = renormCode(cfg.renorm);
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
  const sampler = ws.sampler;
  sampler.begin(ws.fast, ws.rng, N, data, cfg);
  const l1 = cfg.distance === 'L1';
  const margin = cfg.margin;
  const logsig = cfg.loss === 'logsigmoid';
  const alpha = cfg.adversarialTemperature;
  const adagrad = cfg.optimizer === 'adagrad';
  const renorm = renormCode(cfg.renorm);
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
    sampler.draw(p - start, h, r, tt, K);
    for (let i = 0; i < K; i++) neg[i] = (negEnt[i] << 1) | negHead[i];
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
  sampler.end();
  return lossSum;
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
  const sampler = ws.sampler;
  sampler.begin(ws.fast, ws.rng, N, data, cfg);
  const l1 = cfg.distance === 'L1';
  const margin = cfg.margin;
  const logsig = cfg.loss === 'logsigmoid';
  const alpha = cfg.adversarialTemperature;
  const adagrad = cfg.optimizer === 'adagrad';
  const reg = cfg.regularization;
  const renorm = renormCode(cfg.renorm);
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
    // Negatives: fresh entities per positive, or one set shared by `sharedNegatives` consecutive
    // positives (rows stay in cache; DGL-KE's chunked sampling); see negatives.ts.
    sampler.draw(p - start, h, r, tt, K);
    let minNeg = Number.POSITIVE_INFINITY;
    for (let i = 0; i < K; i++) {
      const eO = negEnt[i] * D;
      let dn =
        negHead[i] === 1
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
  sampler.end();
  return lossSum;
}
