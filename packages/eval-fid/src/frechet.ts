/**
 * Frechet distance between two Gaussians in float64:
 *   ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2),
 * with tr sqrt(S1 S2) = sum_i sqrt(lambda_i(L^T S2 L)) where S1 = L L^T (Cholesky), a symmetric
 * eigenvalue problem (Householder tridiagonalisation + implicit QL). This is the eigenvalue route
 * of torch-fidelity/torchmetrics done symmetrically, and agrees with scipy's `sqrtm` route of
 * pytorch-fid on well-conditioned inputs (see the known-answer tests).
 *
 * Singular covariances (fewer samples than dimensions): if neither S1 nor S2 factors, the default
 * `onSingular: 'exact'` uses a rank-revealing pivoted Cholesky S1[p][p] = L L^T with L d x r, and
 * the nonzero eigenvalues of S1 S2 are those of the r x r matrix L^T S2[p][p] L. That is the value
 * pytorch-fid's `sqrtm` returns whenever it succeeds on such inputs. `onSingular: 'offset'` adds
 * `eps` to both diagonals inside the square root instead (pytorch-fid's fallback when `sqrtm` is not
 * finite; TTUR's convention). Either way the result says so (`singular`, `epsUsed`, `warnings`).
 * Does not load tfjs.
 */
import {
  cholesky,
  congruenceLower,
  NotPositiveDefiniteError,
  permuteSymmetric,
  pivotedCholesky,
  symmetricEigenvalues,
  trace,
} from './linalg';
import {
  type FeatureProtocol,
  formatFingerprint,
  ProtocolMismatchError,
  protocolDifference,
  type ScoreFingerprint,
} from './protocol';
import { type FeatureStats, validateStats } from './stats';

export interface FrechetConfig {
  /** Offset added to both covariance diagonals by `onSingular: 'offset'` (pytorch-fid: 1e-6). */
  eps: number;
  /**
   * When both covariances are singular: `exact` (default) works in the range of sigma1 through a
   * rank-revealing Cholesky; `offset` adds eps*I inside the square root (pytorch-fid's fallback,
   * TTUR); `throw` raises {@link SingularCovarianceError}. All of them warn.
   */
  onSingular: 'exact' | 'offset' | 'throw';
  /** Compare statistics whose protocols differ (different extractor/weights/size/resize). */
  allowProtocolMismatch: boolean;
  /** Called with every warning (libraries never print); warnings are also returned. */
  onWarning?: (message: string) => void;
}

export const DEFAULT_FRECHET_CONFIG: Readonly<FrechetConfig> = Object.freeze({
  eps: 1e-6,
  onSingular: 'exact' as const,
  allowProtocolMismatch: false,
});

const SINGULAR_MODES = ['exact', 'offset', 'throw'] as const;

/** Copies `config`, fills defaults and throws an error naming the bad field. */
export function validateFrechetConfig(config: Partial<FrechetConfig> = {}): FrechetConfig {
  const c: FrechetConfig = { ...DEFAULT_FRECHET_CONFIG, ...config };
  if (!(typeof c.eps === 'number' && Number.isFinite(c.eps) && c.eps > 0)) {
    throw new RangeError(`FrechetConfig.eps: expected a finite number > 0, got ${c.eps}`);
  }
  if (!SINGULAR_MODES.includes(c.onSingular)) {
    throw new RangeError(
      `FrechetConfig.onSingular: expected one of ${SINGULAR_MODES.join(', ')}, got '${c.onSingular}'`,
    );
  }
  if (typeof c.allowProtocolMismatch !== 'boolean') {
    throw new TypeError(
      `FrechetConfig.allowProtocolMismatch: expected a boolean, got ${c.allowProtocolMismatch}`,
    );
  }
  if (c.onWarning !== undefined && typeof c.onWarning !== 'function') {
    throw new TypeError('FrechetConfig.onWarning: expected a function');
  }
  return c;
}

/** Both covariances are singular and `onSingular` is `throw` (or eps was too small to help). */
export class SingularCovarianceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SingularCovarianceError';
  }
}

export interface FrechetResult {
  /** The distance. Tiny negative values (e.g. -1e-9 for identical sets) are reported as they are. */
  fid: number;
  /** ||mu1 - mu2||^2 */
  meanTerm: number;
  /** tr(S1) + tr(S2) - 2 tr sqrt(S1 S2) (with the offset when eps was used). */
  covTerm: number;
  /** tr sqrt(S1 S2) */
  traceSqrt: number;
  /** Whether eps*I was added to both covariances. */
  epsUsed: boolean;
  eps: number;
  /** Which covariance was factored (S1 or S2; the trace is symmetric). */
  factored: 'sigma1' | 'sigma2';
  /** Both covariances were singular; `rank` is the numerical rank of the factored one. */
  singular: boolean;
  rank: number;
  /** Eigenvalues of the product below zero (rounding), clipped to 0; with their most negative value. */
  clippedEigenvalues: number;
  minEigenvalue: number;
  warnings: string[];
}

function addDiagonal(s: Float64Array, d: number, eps: number): Float64Array {
  const o = Float64Array.from(s);
  for (let i = 0; i < d; i++) o[i * d + i]! += eps;
  return o;
}

function sumSqrtEigenvalues(
  m: Float64Array,
  r: number,
): { value: number; clipped: number; min: number } {
  const ev = symmetricEigenvalues(m, r);
  let value = 0;
  let clipped = 0;
  for (let i = 0; i < r; i++) {
    const x = ev[i]!;
    if (x > 0) value += Math.sqrt(x);
    else if (x < 0) clipped++;
  }
  return { value, clipped, min: ev[0]! };
}

interface TraceSqrt {
  value: number;
  clipped: number;
  min: number;
  factored: 'sigma1' | 'sigma2';
  rank: number;
}

/** tr sqrt(S1 S2) through a plain Cholesky of S1, else of S2; null when both are singular. */
function traceSqrtProduct(s1: Float64Array, s2: Float64Array, d: number): TraceSqrt | null {
  const order: ['sigma1' | 'sigma2', Float64Array, Float64Array][] = [
    ['sigma1', s1, s2],
    ['sigma2', s2, s1],
  ];
  for (const [name, a, b] of order) {
    let l: Float64Array;
    try {
      l = cholesky(a, d);
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError) continue;
      throw e;
    }
    return { ...sumSqrtEigenvalues(congruenceLower(l, b, d), d), factored: name, rank: d };
  }
  return null;
}

/** tr sqrt(S1 S2) for a singular S1, in its range: S1[p][p] = L L^T, eig(L^T S2[p][p] L). */
function traceSqrtProductSemidefinite(s1: Float64Array, s2: Float64Array, d: number): TraceSqrt {
  const { l, rank, perm } = pivotedCholesky(s1, d);
  if (rank === 0) return { value: 0, clipped: 0, min: 0, factored: 'sigma1', rank: 0 };
  const m = congruenceLower(l, permuteSymmetric(s2, d, perm), d, rank);
  return { ...sumSqrtEigenvalues(m, rank), factored: 'sigma1', rank };
}

/** Frechet distance between N(mu1, sigma1) and N(mu2, sigma2); sigma is d x d row-major. */
export function frechetDistance(
  mu1: Float64Array,
  sigma1: Float64Array,
  mu2: Float64Array,
  sigma2: Float64Array,
  config: Partial<FrechetConfig> = {},
): FrechetResult {
  const c = validateFrechetConfig(config);
  const d = mu1.length;
  validateStats({ mu: mu1, sigma: sigma1, dim: d }, 'stats1');
  if (mu2.length !== d)
    throw new RangeError(`stats2.mu: expected ${d} values (as stats1), got ${mu2.length}`);
  validateStats({ mu: mu2, sigma: sigma2, dim: d }, 'stats2');
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
    c.onWarning?.(m);
  };
  let meanTerm = 0;
  for (let i = 0; i < d; i++) {
    const x = mu1[i]! - mu2[i]!;
    meanTerm += x * x;
  }
  let epsUsed = false;
  let singular = false;
  let t = traceSqrtProduct(sigma1, sigma2, d);
  if (t === null) {
    singular = true;
    const msg =
      'both covariances are singular (not positive definite: fewer samples than the ' +
      `${d} feature dimensions, or feature dimensions that never vary)`;
    if (c.onSingular === 'throw')
      throw new SingularCovarianceError(`${msg}; set onSingular to 'exact' or 'offset'`);
    if (c.onSingular === 'exact') {
      t = traceSqrtProductSemidefinite(sigma1, sigma2, d);
      warn(
        `${msg}: computed exactly in the range of sigma1 (rank ${t.rank}); with fewer than ${d} samples the estimate is unreliable`,
      );
    } else {
      warn(
        `${msg}: adding eps = ${c.eps} to both diagonals inside the square root, as pytorch-fid does`,
      );
      epsUsed = true;
      t = traceSqrtProduct(addDiagonal(sigma1, d, c.eps), addDiagonal(sigma2, d, c.eps), d);
      if (t === null)
        throw new SingularCovarianceError(
          `${msg}, and still after adding eps = ${c.eps}: use a larger eps`,
        );
    }
  }
  const tr1 = trace(sigma1, d);
  const tr2 = trace(sigma2, d);
  if (t.clipped > 0 && t.min < -1e-8 * Math.max(1, tr1, tr2)) {
    warn(
      `${t.clipped} eigenvalues of the covariance product were negative (min ${t.min}); clipped to 0`,
    );
  }
  // As pytorch-fid: the traces are of the original covariances even when eps was used.
  const covTerm = tr1 + tr2 - 2 * t.value;
  const fid = meanTerm + covTerm;
  if (fid < 0)
    warn(
      `FID is negative (${fid}): rounding around 0 for (nearly) identical statistics; not clamped`,
    );
  return {
    fid,
    meanTerm,
    covTerm,
    traceSqrt: t.value,
    epsUsed,
    eps: c.eps,
    factored: t.factored,
    singular,
    rank: t.rank,
    clippedEigenvalues: t.clipped,
    minEigenvalue: t.min,
    warnings,
  };
}

/** FID between two statistics, with the protocol fingerprint. */
export interface FidResult extends FrechetResult {
  fingerprint: ScoreFingerprint;
  /** One line for logs and reports: the value followed by the fingerprint. */
  summary: string;
}

/**
 * FID between two sets of statistics. Checks that they come from the same protocol (extractor,
 * weights, image size, resize) unless `allowProtocolMismatch`, warns for fewer samples than
 * dimensions, and returns the protocol fingerprint with the score.
 */
export function fid(
  stats1: FeatureStats,
  stats2: FeatureStats,
  config: Partial<FrechetConfig> = {},
): FidResult {
  const c = validateFrechetConfig(config);
  if (stats1.dim !== stats2.dim) {
    throw new RangeError(
      `stats2.dim: ${stats2.dim} differs from stats1.dim ${stats1.dim}; features come from different layers`,
    );
  }
  const pre: string[] = [];
  let protocol: FeatureProtocol | null = stats1.protocol ?? stats2.protocol ?? null;
  if (stats1.protocol && stats2.protocol) {
    const diff = protocolDifference(stats1.protocol, stats2.protocol);
    if (diff) {
      if (!c.allowProtocolMismatch) throw new ProtocolMismatchError(diff.field, diff.a, diff.b);
      pre.push(
        `protocols differ in ${String(diff.field)}: '${String(diff.a)}' vs '${String(diff.b)}'`,
      );
      protocol = null;
    }
  } else if (stats1.protocol || stats2.protocol) {
    pre.push(
      'one of the statistics has no recorded protocol (external .npz?): comparability is not checked',
    );
  }
  for (const [name, s] of [
    ['stats1', stats1],
    ['stats2', stats2],
  ] as const) {
    if (s.count !== undefined && s.count < s.dim) {
      pre.push(
        `${name} has ${s.count} samples for ${s.dim} dimensions: its covariance is singular (use >= ${s.dim} samples)`,
      );
    }
  }
  for (const m of pre) c.onWarning?.(m);
  const r = frechetDistance(stats1.mu, stats1.sigma, stats2.mu, stats2.sigma, c);
  const fingerprint: ScoreFingerprint = {
    metric: 'FID',
    protocol,
    counts: [stats1.count ?? null, stats2.count ?? null],
    dtype: 'float64',
    epsUsed: r.epsUsed,
    eps: r.eps,
  };
  return {
    ...r,
    warnings: [...pre, ...r.warnings],
    fingerprint,
    summary: `FID = ${r.fid.toFixed(6)} ${formatFingerprint(fingerprint)}`,
  };
}
