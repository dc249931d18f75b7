/**
 * The arithmetic of one TransE step in float64 over float32 tables: difference rows and their
 * distances, the loss with its (self-adversarial) negative weights, and the row updates (SGD or
 * row-wise Adagrad, L2 penalty, renormalisation).
 */

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
export function weighNegatives(
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
export function applyRow(
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
export function diffInto(
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

export function renormRow(E: Float32Array, off: number, D: number, renorm: number): void {
  let n2 = 0;
  for (let k = 0; k < D; k++) n2 += E[off + k] * E[off + k];
  if (n2 > 0 && (renorm === 2 || n2 > 1)) {
    const inv = 1 / Math.sqrt(n2);
    for (let k = 0; k < D; k++) E[off + k] *= inv;
  }
}

/** The renormalisation as the kernels take it: 0 none, 1 onto the unit ball, 2 onto the unit sphere. */
export function renormCode(renorm: 'none' | 'max' | 'unit'): number {
  return renorm === 'none' ? 0 : renorm === 'max' ? 1 : 2;
}
