/**
 * Dense float64 linear algebra for the Frechet distance: Cholesky, the congruence L^T S L,
 * Householder reduction to tridiagonal form and implicit QL for eigenvalues only.
 *
 * Matrices are row-major `Float64Array`s of d*d numbers. Every routine is written for cache
 * friendliness (contiguous inner loops over rows) because d = 2048 means 4M entries (32 MiB) and
 * about 12 G multiply-adds in total; tfjs is not used here since float32 is measurably not accurate
 * enough for FID (anchors.md §2.3).
 */

/** Thrown when a matrix that must be symmetric positive definite is not (numerically). */
export class NotPositiveDefiniteError extends Error {
  constructor(
    /** Row where the pivot failed. */
    readonly row: number,
    /** The pivot value (<= threshold). */
    readonly pivot: number,
  ) {
    super(`matrix is not positive definite: Cholesky pivot ${pivot} at row ${row}`);
    this.name = 'NotPositiveDefiniteError';
  }
}

function checkSquare(a: Float64Array, d: number, name: string): void {
  if (!Number.isInteger(d) || d <= 0)
    throw new RangeError(`${name}: dimension must be a positive integer, got ${d}`);
  if (a.length !== d * d)
    throw new RangeError(`${name}: expected ${d}x${d}=${d * d} entries, got ${a.length}`);
}

/**
 * Dot products of one row segment `a[ao .. ao+len)` with four row segments of `b` starting at
 * `b0..b3`, written to `out[0..3]`: four accumulators share each load of `a`.
 */
function dot1x4(
  a: Float64Array,
  ao: number,
  b: Float64Array,
  b0: number,
  b1: number,
  b2: number,
  b3: number,
  len: number,
  out: Float64Array,
): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = 0; k < len; k++) {
    const x = a[ao + k]!;
    s0 += x * b[b0 + k]!;
    s1 += x * b[b1 + k]!;
    s2 += x * b[b2 + k]!;
    s3 += x * b[b3 + k]!;
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

function dot1(a: Float64Array, ao: number, b: Float64Array, bo: number, len: number): number {
  let s = 0;
  for (let k = 0; k < len; k++) s += a[ao + k]! * b[bo + k]!;
  return s;
}

/**
 * Lower Cholesky factor L with A = L L^T (only A's lower triangle is read). A pivot at or below
 * `relTol * max(diag(A))` counts as failure: singular covariances (fewer samples than dimensions)
 * then fail deterministically instead of succeeding on rounding noise.
 */
export function cholesky(a: Float64Array, d: number, relTol = 1e-13): Float64Array {
  checkSquare(a, d, 'cholesky');
  const l = new Float64Array(d * d);
  let maxDiag = 0;
  for (let i = 0; i < d; i++) maxDiag = Math.max(maxDiag, a[i * d + i]!);
  const threshold = maxDiag > 0 ? relTol * maxDiag : 0;
  const out4 = new Float64Array(4);
  // Left-looking, four rows at a time: rows i0..i0+3 stay in cache while finished rows j stream by.
  for (let i0 = 0; i0 < d; i0 += 4) {
    const nb = Math.min(4, d - i0);
    if (nb === 4) {
      const r0 = i0 * d;
      for (let j = 0; j < i0; j++) {
        const rj = j * d;
        dot1x4(l, rj, l, r0, r0 + d, r0 + 2 * d, r0 + 3 * d, j, out4);
        const inv = 1 / l[rj + j]!;
        for (let t = 0; t < 4; t++) l[r0 + t * d + j] = (a[r0 + t * d + j]! - out4[t]!) * inv;
      }
    } else {
      for (let t = 0; t < nb; t++) {
        const ri = (i0 + t) * d;
        for (let j = 0; j < i0; j++) {
          const rj = j * d;
          l[ri + j] = (a[ri + j]! - dot1(l, rj, l, ri, j)) / l[rj + j]!;
        }
      }
    }
    // The block's own lower triangle, in order.
    for (let t = 0; t < nb; t++) {
      const i = i0 + t;
      const ri = i * d;
      for (let j = i0; j < i; j++) {
        const rj = j * d;
        l[ri + j] = (a[ri + j]! - dot1(l, rj, l, ri, j)) / l[rj + j]!;
      }
      const s = a[ri + i]! - dot1(l, ri, l, ri, i);
      if (!(s > threshold)) throw new NotPositiveDefiniteError(i, s);
      l[ri + i] = Math.sqrt(s);
    }
  }
  return l;
}

/**
 * M = L^T S L for a lower-trapezoidal L (d x r, stored with row stride d, L[i][k] = 0 for k > i)
 * and symmetric S (d x d). Returns the full symmetric r x r M. About d^3/2 multiply-adds for
 * r = d, all as contiguous dot products: with U = L^T, Wt = U S (Wt[j][k] = sum_{m>=j} U[j][m] S[k][m],
 * needed for k >= j only) and M[i][j] = sum_{k>=i} U[i][k] Wt[j][k].
 */
export function congruenceLower(l: Float64Array, s: Float64Array, d: number, r = d): Float64Array {
  checkSquare(l, d, 'congruenceLower(L)');
  checkSquare(s, d, 'congruenceLower(S)');
  if (!Number.isInteger(r) || r < 1 || r > d)
    throw new RangeError(`congruenceLower: rank ${r} not in [1, ${d}]`);
  const u = new Float64Array(r * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j <= Math.min(i, r - 1); j++) u[j * d + i] = l[i * d + j]!;
  const out4 = new Float64Array(4);
  const wt = new Float64Array(r * d);
  for (let j = 0; j < r; j++) {
    const rj = j * d;
    const len = d - j;
    let k = j;
    for (; k + 3 < d; k += 4) {
      dot1x4(u, rj + j, s, k * d + j, (k + 1) * d + j, (k + 2) * d + j, (k + 3) * d + j, len, out4);
      wt[rj + k] = out4[0]!;
      wt[rj + k + 1] = out4[1]!;
      wt[rj + k + 2] = out4[2]!;
      wt[rj + k + 3] = out4[3]!;
    }
    for (; k < d; k++) wt[rj + k] = dot1(u, rj + j, s, k * d + j, len);
  }
  const m = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    const ri = i * r;
    const ui = i * d + i;
    const len = d - i;
    let j = 0;
    for (; j + 3 <= i; j += 4) {
      dot1x4(u, ui, wt, j * d + i, (j + 1) * d + i, (j + 2) * d + i, (j + 3) * d + i, len, out4);
      m[ri + j] = out4[0]!;
      m[ri + j + 1] = out4[1]!;
      m[ri + j + 2] = out4[2]!;
      m[ri + j + 3] = out4[3]!;
    }
    for (; j <= i; j++) m[ri + j] = dot1(u, ui, wt, j * d + i, len);
  }
  for (let i = 0; i < r; i++) for (let j = 0; j < i; j++) m[j * r + i] = m[i * r + j]!;
  return m;
}

/**
 * Rank-revealing Cholesky with diagonal pivoting for a symmetric positive semi-definite A:
 * A[perm][perm] = L L^T with L d x rank (row stride d). Stops when the largest remaining pivot is
 * at or below `relTol * max(diag(A))`. Stable for semi-definite matrices (Higham 1990), so singular
 * covariances are handled exactly instead of through an eps offset.
 */
export function pivotedCholesky(
  a: Float64Array,
  d: number,
  relTol = 1e-13,
): { l: Float64Array; rank: number; perm: Int32Array } {
  checkSquare(a, d, 'pivotedCholesky');
  const l = new Float64Array(d * d);
  const perm = new Int32Array(d).map((_, i) => i);
  const res = new Float64Array(d); // remaining diagonal of the Schur complement, in permuted order
  let maxDiag = 0;
  for (let i = 0; i < d; i++) {
    res[i] = a[i * d + i]!;
    maxDiag = Math.max(maxDiag, res[i]!);
  }
  const threshold = maxDiag > 0 ? relTol * maxDiag : 0;
  const out4 = new Float64Array(4);
  let rank = 0;
  for (let j = 0; j < d; j++) {
    let p = j;
    for (let i = j + 1; i < d; i++) if (res[i]! > res[p]!) p = i;
    if (!(res[p]! > threshold)) break;
    if (p !== j) {
      [perm[j], perm[p]] = [perm[p]!, perm[j]!];
      [res[j], res[p]] = [res[p]!, res[j]!];
      for (let k = 0; k < j; k++) {
        const t = l[j * d + k]!;
        l[j * d + k] = l[p * d + k]!;
        l[p * d + k] = t;
      }
    }
    const rj = j * d;
    const ljj = Math.sqrt(res[j]!);
    l[rj + j] = ljj;
    const inv = 1 / ljj;
    const pj = perm[j]! * d;
    let i = j + 1;
    for (; i + 3 < d; i += 4) {
      dot1x4(l, rj, l, i * d, (i + 1) * d, (i + 2) * d, (i + 3) * d, j, out4);
      for (let t = 0; t < 4; t++) {
        const v = (a[pj + perm[i + t]!]! - out4[t]!) * inv;
        l[(i + t) * d + j] = v;
        res[i + t]! -= v * v;
      }
    }
    for (; i < d; i++) {
      const v = (a[pj + perm[i]!]! - dot1(l, rj, l, i * d, j)) * inv;
      l[i * d + j] = v;
      res[i]! -= v * v;
    }
    rank++;
  }
  return { l, rank, perm };
}

/** S[perm][perm] for a d x d row-major S. */
export function permuteSymmetric(s: Float64Array, d: number, perm: Int32Array): Float64Array {
  const o = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const ri = perm[i]! * d;
    for (let j = 0; j < d; j++) o[i * d + j] = s[ri + perm[j]!]!;
  }
  return o;
}

/**
 * Builds the Householder reflector H = I - beta v v^T that maps row i's entries 0..i-1 onto the
 * sub-diagonal position i-1. Writes v (entries 0..i-1) and sub[i]; returns beta, or 0 when no
 * reflection is needed (i = 1 or a zero row).
 */
function makeReflector(
  a: Float64Array,
  d: number,
  i: number,
  v: Float64Array,
  sub: Float64Array,
): number {
  const ri = i * d;
  const l = i - 1;
  let scale = 0;
  for (let k = 0; k <= l; k++) scale += Math.abs(a[ri + k]!);
  if (l === 0 || scale === 0) {
    sub[i] = a[ri + l]!;
    return 0;
  }
  let norm2 = 0;
  for (let k = 0; k <= l; k++) {
    const x = a[ri + k]! / scale; // scaling guards the norm against overflow and underflow
    v[k] = x;
    norm2 += x * x;
  }
  const xl = v[l]!;
  const alpha = xl >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
  sub[i] = scale * alpha;
  v[l] = xl - alpha;
  return 1 / (norm2 - xl * alpha); // 2 / (v^T v)
}

/** p[0..n) = beta * A v over the leading n x n block, reading A's lower triangle only. */
function symmetricMatVec(
  a: Float64Array,
  d: number,
  n: number,
  v: Float64Array,
  p: Float64Array,
  beta: number,
): void {
  p.fill(0, 0, n);
  for (let j = 0; j < n; j++) {
    const rj = j * d;
    const vj = v[j]!;
    let acc = a[rj + j]! * vj;
    for (let k = 0; k < j; k++) {
      const ajk = a[rj + k]!;
      acc += ajk * v[k]!;
      p[k]! += ajk * vj;
    }
    p[j]! += acc;
  }
  for (let k = 0; k < n; k++) p[k]! *= beta;
}

/**
 * Householder reduction of a symmetric matrix (lower triangle read, input untouched) to
 * tridiagonal form. Returns the diagonal and the sub-diagonal (`sub[i]` couples i-1 and i,
 * `sub[0] = 0`). Rows are reduced from the last upwards so that inner loops are contiguous, and
 * each step's rank-2 update is fused with the next step's matrix-vector product, so the active
 * triangle streams through the cache once per step (2/3 d^3 multiply-adds in all).
 */
export function tridiagonalize(
  input: Float64Array,
  d: number,
): { diag: Float64Array; sub: Float64Array } {
  checkSquare(input, d, 'tridiagonalize');
  const a = Float64Array.from(input);
  const diag = new Float64Array(d);
  const sub = new Float64Array(d);
  let v = new Float64Array(d);
  let p = new Float64Array(d);
  let vn = new Float64Array(d);
  let pn = new Float64Array(d);
  let beta = d > 1 ? makeReflector(a, d, d - 1, v, sub) : 0;
  if (beta !== 0) symmetricMatVec(a, d, d - 1, v, p, beta);
  for (let i = d - 1; i >= 1; i--) {
    const l = i - 1;
    diag[i] = a[i * d + i]!; // final: later steps only touch rows/cols 0..i-1
    if (beta === 0) {
      beta = l >= 1 ? makeReflector(a, d, l, v, sub) : 0;
      if (beta !== 0) symmetricMatVec(a, d, l, v, p, beta);
      continue;
    }
    // q = p - (beta/2)(v^T p) v, kept in p.
    let vp = 0;
    for (let k = 0; k <= l; k++) vp += v[k]! * p[k]!;
    const kk = 0.5 * beta * vp;
    for (let k = 0; k <= l; k++) p[k]! -= kk * v[k]!;
    // Row l first: the next reflector is built from it.
    const rl = l * d;
    const vl = v[l]!;
    const ql = p[l]!;
    for (let k = 0; k <= l; k++) a[rl + k]! -= vl * p[k]! + ql * v[k]!;
    const nextBeta = l >= 1 ? makeReflector(a, d, l, vn, sub) : 0;
    if (nextBeta !== 0) {
      pn.fill(0, 0, l);
      // Two rows per pass share the loads of p, v, vn and pn (the loop is load-bound).
      let j = 0;
      for (; j + 1 < l; j += 2) {
        const r0 = j * d;
        const r1 = r0 + d;
        const v0 = v[j]!;
        const q0 = p[j]!;
        const w0 = vn[j]!;
        const v1 = v[j + 1]!;
        const q1 = p[j + 1]!;
        const w1 = vn[j + 1]!;
        let acc0 = 0;
        let acc1 = 0;
        for (let k = 0; k < j; k++) {
          const pk = p[k]!;
          const vk = v[k]!;
          const wk = vn[k]!;
          const x0 = a[r0 + k]! - v0 * pk - q0 * vk;
          const x1 = a[r1 + k]! - v1 * pk - q1 * vk;
          a[r0 + k] = x0;
          a[r1 + k] = x1;
          acc0 += x0 * wk;
          acc1 += x1 * wk;
          pn[k]! += x0 * w0 + x1 * w1;
        }
        // Column j of both rows, then the diagonal of row j + 1.
        const x00 = a[r0 + j]! - 2 * v0 * q0;
        a[r0 + j] = x00;
        const x10 = a[r1 + j]! - v1 * q0 - q1 * v0;
        a[r1 + j] = x10;
        const x11 = a[r1 + j + 1]! - 2 * v1 * q1;
        a[r1 + j + 1] = x11;
        pn[j]! += acc0 + x00 * w0 + x10 * w1;
        pn[j + 1]! += acc1 + x10 * w0 + x11 * w1;
      }
      for (; j < l; j++) {
        const rj = j * d;
        const vj = v[j]!;
        const qj = p[j]!;
        const vnj = vn[j]!;
        let acc = 0;
        for (let k = 0; k < j; k++) {
          const x = a[rj + k]! - vj * p[k]! - qj * v[k]!;
          a[rj + k] = x;
          acc += x * vn[k]!;
          pn[k]! += x * vnj;
        }
        const x = a[rj + j]! - 2 * vj * qj;
        a[rj + j] = x;
        pn[j]! += acc + x * vnj;
      }
      for (let k = 0; k < l; k++) pn[k]! *= nextBeta;
    } else {
      for (let j = 0; j < l; j++) {
        const rj = j * d;
        const vj = v[j]!;
        const qj = p[j]!;
        for (let k = 0; k <= j; k++) a[rj + k]! -= vj * p[k]! + qj * v[k]!;
      }
    }
    [v, vn] = [vn, v];
    [p, pn] = [pn, p];
    beta = nextBeta;
  }
  diag[0] = a[0]!;
  sub[0] = 0;
  return { diag, sub };
}

/**
 * Eigenvalues of a symmetric tridiagonal matrix by the implicit QL method with Wilkinson shifts
 * (eigenvalues only, O(d^2)). Inputs are copied. Result sorted ascending.
 */
export function tridiagonalEigenvalues(diagIn: Float64Array, subIn: Float64Array): Float64Array {
  const n = diagIn.length;
  if (subIn.length !== n)
    throw new RangeError('tridiagonalEigenvalues: diag and sub lengths differ');
  const dd = Float64Array.from(diagIn);
  const e = new Float64Array(n);
  for (let i = 1; i < n; i++) e[i - 1] = subIn[i]!;
  e[n - 1] = 0;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const dsum = Math.abs(dd[m]!) + Math.abs(dd[m + 1]!);
        if (Math.abs(e[m]!) <= Number.EPSILON * dsum) break;
      }
      if (m === l) break;
      if (++iter > 60) throw new Error(`tridiagonalEigenvalues: QL did not converge at index ${l}`);
      let g = (dd[l + 1]! - dd[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = dd[m]! - dd[l]! + e[l]! / (g + (g >= 0 ? Math.abs(r) : -Math.abs(r)));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          dd[i + 1]! -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = dd[i + 1]! - p;
        r = (dd[i]! - g) * s + 2 * c * b;
        p = s * r;
        dd[i + 1] = g + p;
        g = c * r - b;
      }
      if (underflow && i >= l) continue;
      dd[l]! -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
  return dd.sort();
}

/** Eigenvalues (ascending) of a symmetric d x d matrix (lower triangle read). */
export function symmetricEigenvalues(a: Float64Array, d: number): Float64Array {
  const { diag, sub } = tridiagonalize(a, d);
  return tridiagonalEigenvalues(diag, sub);
}

/**
 * Cyclic Jacobi eigenvalues: simple and very accurate, O(d^3) per sweep with a large constant.
 * Kept as an independent cross-check for tests and as the naive baseline of the benchmark.
 */
export function jacobiEigenvalues(input: Float64Array, d: number, maxSweeps = 100): Float64Array {
  checkSquare(input, d, 'jacobiEigenvalues');
  const a = Float64Array.from(input);
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) a[j * d + i] = a[i * d + j]!;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        const x = a[i * d + j]! * a[i * d + j]!;
        total += x;
        if (i !== j) off += x;
      }
    }
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q]!;
        if (apq === 0) continue;
        const app = a[p * d + p]!;
        const aqq = a[q * d + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p]!;
          const akq = a[k * d + q]!;
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k]!;
          const aqk = a[q * d + k]!;
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
      }
    }
  }
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) out[i] = a[i * d + i]!;
  return out.sort();
}

/** Trace of a d x d row-major matrix. */
export function trace(a: Float64Array, d: number): number {
  let t = 0;
  for (let i = 0; i < d; i++) t += a[i * d + i]!;
  return t;
}
