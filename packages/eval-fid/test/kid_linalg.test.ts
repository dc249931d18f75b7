import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cholesky,
  congruenceLower,
  jacobiEigenvalues,
  kid,
  pivotedCholesky,
  symmetricEigenvalues,
  validateKidConfig,
} from '../src/stats_entry';
import { formulaFeatures, randomFeatures } from './helpers';

const known = JSON.parse(
  readFileSync(join(__dirname, 'fixtures', 'known_answers.json'), 'utf8'),
) as {
  kid: {
    features1: [string, number, number];
    features2: [string, number, number];
    kid_full: number;
    kid_same: number;
  };
};

describe('kid', () => {
  test('full-set unbiased MMD^2 matches torch-fidelity formula (numpy, committed)', () => {
    const x = formulaFeatures(...known.kid.features1);
    const y = formulaFeatures(...known.kid.features2);
    for (let i = 0; i < y.data.length; i++) y.data[i]! += 0.25;
    const r = kid(x, y, { subsets: 1, subsetSize: 24 });
    expect(Math.abs(r.kid - known.kid.kid_full)).toBeLessThan(1e-9 * Math.abs(known.kid.kid_full));
    expect(
      Math.abs(kid(x, x, { subsets: 1, subsetSize: 24 }).kid - known.kid.kid_same),
    ).toBeLessThan(1e-8);
    expect(r.summary).toMatch(
      /^KID = .* KID\[extractor=unknown n=24\/24 dtype=float64 subsets=1x24/,
    );
  });

  test('two samples of the same distribution: near 0; a shifted distribution: clearly positive', () => {
    const x = randomFeatures(21, 300, 8);
    const same = kid(x, x, { subsets: 20, subsetSize: 60 });
    const shifted = randomFeatures(22, 300, 8, 1, 0.3);
    const diff = kid(x, shifted, { subsets: 20, subsetSize: 60 });
    expect(Math.abs(same.kid)).toBeLessThan(0.05 * diff.kid);
    expect(diff.kid).toBeGreaterThan((3 * diff.kidStd) / Math.sqrt(20));
  });

  test('seeded and reproducible; precomputed and on-the-fly kernels agree', () => {
    const x = randomFeatures(23, 50, 6);
    const y = randomFeatures(24, 40, 6, 1, 0.1);
    const a = kid(x, y, { subsets: 5, subsetSize: 20, seed: 7 });
    const b = kid(x, y, { subsets: 5, subsetSize: 20, seed: 7, maxKernelEntries: 0 });
    expect(Array.from(a.values)).toEqual(Array.from(a.values));
    for (let i = 0; i < 5; i++) expect(Math.abs(a.values[i]! - b.values[i]!)).toBeLessThan(1e-12);
    const c = kid(x, y, { subsets: 5, subsetSize: 20, seed: 8 });
    expect(c.kid).not.toBe(a.kid);
  });

  test('small sets clamp the subset size (clean-fid) or throw (torch-fidelity)', () => {
    const x = randomFeatures(25, 10, 3);
    const r = kid(x, x, { subsets: 2 });
    expect(r.subsetSize).toBe(10);
    expect(r.warnings.join()).toMatch(/clamped from 1000 to 10/);
    expect(() => kid(x, x, { onSmallSet: 'throw' })).toThrow(/KidConfig\.subsetSize/);
    expect(() => validateKidConfig({ subsets: 0 })).toThrow(/KidConfig\.subsets/);
  });
});

describe('linalg', () => {
  const spd = (seed: number, n: number, d: number): Float64Array => {
    const f = randomFeatures(seed, n, d);
    const a = new Float64Array(d * d);
    for (let r = 0; r < n; r++)
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) a[i * d + j]! += (f.data[r * d + i]! * f.data[r * d + j]!) / n;
    return a;
  };

  test('Householder + QL eigenvalues agree with Jacobi (d = 1, 2, 3, 37)', () => {
    for (const d of [1, 2, 3, 37]) {
      const a = spd(d, d + 5, d);
      const e1 = symmetricEigenvalues(a, d);
      const e2 = jacobiEigenvalues(a, d);
      for (let i = 0; i < d; i++) expect(Math.abs(e1[i]! - e2[i]!)).toBeLessThan(1e-14);
    }
  });

  test('eigenvalues of a diagonal and of a matrix with repeated eigenvalues', () => {
    const diag = Float64Array.of(3, 0, 0, 0, -1, 0, 0, 0, 2);
    expect(Array.from(symmetricEigenvalues(diag, 3))).toEqual([-1, 2, 3]);
    const ones = new Float64Array(16).fill(1); // eigenvalues 0, 0, 0, 4
    const e = symmetricEigenvalues(ones, 4);
    expect(Math.abs(e[3]! - 4)).toBeLessThan(1e-14);
    for (let i = 0; i < 3; i++) expect(Math.abs(e[i]!)).toBeLessThan(1e-14);
  });

  test('cholesky reproduces A; congruence L^T S L equals the naive product', () => {
    const d = 13;
    const a = spd(31, 20, d);
    const s = spd(32, 25, d);
    const l = cholesky(a, d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let t = 0;
        for (let k = 0; k < d; k++) t += l[i * d + k]! * l[j * d + k]!;
        expect(Math.abs(t - a[i * d + j]!)).toBeLessThan(1e-14);
      }
    }
    const m = congruenceLower(l, s, d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let t = 0;
        for (let p = 0; p < d; p++)
          for (let q = 0; q < d; q++) t += l[p * d + i]! * s[p * d + q]! * l[q * d + j]!;
        expect(Math.abs(t - m[i * d + j]!)).toBeLessThan(1e-14);
      }
    }
  });

  test('pivoted cholesky reveals the rank of a singular matrix', () => {
    const d = 9;
    const a = spd(41, 4, d); // rank 4
    expect(() => cholesky(a, d)).toThrow(/not positive definite/);
    const { l, rank, perm } = pivotedCholesky(a, d);
    expect(rank).toBe(4);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let t = 0;
        for (let k = 0; k < rank; k++) t += l[i * d + k]! * l[j * d + k]!;
        expect(Math.abs(t - a[perm[i]! * d + perm[j]!]!)).toBeLessThan(1e-14);
      }
    }
  });
});
