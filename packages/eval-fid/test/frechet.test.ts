import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FeatureProtocol } from '../src/protocol';
import {
  computeStats,
  DEFAULT_FRECHET_CONFIG,
  fid,
  frechetDistance,
  ProtocolMismatchError,
  SingularCovarianceError,
  validateFrechetConfig,
} from '../src/stats_entry';
import { formulaFeatures, randomFeatures } from './helpers';

interface KnownCase {
  name: string;
  features1: [string, number, number];
  features2: [string, number, number];
  mu1: number[];
  sigma1: number[];
  mu2: number[];
  sigma2: number[];
  fid_pytorch_fid: number;
  fid_eigh: number;
  fid_mpmath: number;
  'fid_eps_1e-6_sqrtm': number;
  'fid_eps_1e-6_mpmath': number;
}
const known = JSON.parse(
  readFileSync(join(__dirname, 'fixtures', 'known_answers.json'), 'utf8'),
) as {
  cases: KnownCase[];
};
const byName = (n: string): KnownCase => known.cases.find((c) => c.name === n)!;
const f64 = (x: number[]): Float64Array => Float64Array.from(x);

describe('frechetDistance known answers (scipy / mpmath, committed)', () => {
  for (const name of ['well_conditioned_d8', 'well_conditioned_d24']) {
    test(`${name}: agrees with pytorch-fid's sqrtm route to 1e-6 and with mpmath to 1e-9`, () => {
      const k = byName(name);
      const r = frechetDistance(f64(k.mu1), f64(k.sigma1), f64(k.mu2), f64(k.sigma2));
      expect(Math.abs(r.fid - k.fid_pytorch_fid)).toBeLessThan(1e-6);
      expect(Math.abs(r.fid - k.fid_mpmath)).toBeLessThan(1e-9);
      expect(r.epsUsed).toBe(false);
      expect(r.singular).toBe(false);
      expect(r.warnings).toEqual([]);
    });
  }

  test('stats computed here from the same features give the same FID', () => {
    const k = byName('well_conditioned_d24');
    const s1 = computeStats(formulaFeatures(...k.features1));
    const s2 = computeStats(formulaFeatures(...k.features2));
    for (let i = 0; i < s1.sigma.length; i++)
      expect(Math.abs(s1.sigma[i]! - k.sigma1[i]!)).toBeLessThan(1e-12);
    for (let i = 0; i < s2.mu.length; i++)
      expect(Math.abs(s2.mu[i]! - k.mu2[i]!)).toBeLessThan(1e-13);
    expect(Math.abs(fid(s1, s2).fid - k.fid_mpmath)).toBeLessThan(1e-9);
  });

  test('one singular covariance: factors the other one, no eps, matches pytorch-fid', () => {
    const k = byName('one_singular_d8');
    const r = frechetDistance(f64(k.mu1), f64(k.sigma1), f64(k.mu2), f64(k.sigma2));
    expect(r.factored).toBe('sigma2');
    expect(r.epsUsed).toBe(false);
    expect(Math.abs(r.fid - k.fid_mpmath)).toBeLessThan(1e-6);
    expect(Math.abs(r.fid - k.fid_pytorch_fid)).toBeLessThan(1e-6);
  });

  test('both singular, onSingular exact (default): the value pytorch-fid sqrtm returns, with a warning', () => {
    const k = byName('both_singular_d8');
    const warnings: string[] = [];
    const r = frechetDistance(f64(k.mu1), f64(k.sigma1), f64(k.mu2), f64(k.sigma2), {
      onWarning: (m) => warnings.push(m),
    });
    expect(r.singular).toBe(true);
    expect(r.rank).toBe(5);
    expect(r.epsUsed).toBe(false);
    expect(Math.abs(r.fid - k.fid_mpmath)).toBeLessThan(1e-6);
    expect(Math.abs(r.fid - k.fid_pytorch_fid)).toBeLessThan(1e-6);
    expect(warnings.join()).toMatch(/singular/);
  });

  test('both singular, onSingular offset: the eps*I convention of pytorch-fid, warned and flagged', () => {
    const k = byName('both_singular_d8');
    const r = frechetDistance(f64(k.mu1), f64(k.sigma1), f64(k.mu2), f64(k.sigma2), {
      onSingular: 'offset',
    });
    expect(r.epsUsed).toBe(true);
    expect(r.eps).toBe(1e-6);
    expect(r.warnings.join()).toMatch(/eps = 0\.000001/);
    expect(Math.abs(r.fid - k['fid_eps_1e-6_mpmath'])).toBeLessThan(1e-7);
    expect(Math.abs(r.fid - k['fid_eps_1e-6_sqrtm'])).toBeLessThan(1e-6);
    // The offset moves the score measurably away from the exact value.
    expect(Math.abs(r.fid - k.fid_mpmath)).toBeGreaterThan(1e-3);
  });

  test('both singular, onSingular throw', () => {
    const k = byName('both_singular_d8');
    expect(() =>
      frechetDistance(f64(k.mu1), f64(k.sigma1), f64(k.mu2), f64(k.sigma2), {
        onSingular: 'throw',
      }),
    ).toThrow(SingularCovarianceError);
  });
});

describe('frechetDistance properties', () => {
  const x = computeStats(randomFeatures(1, 120, 16, 2, 0.5));
  const y = computeStats(randomFeatures(2, 150, 16, 1.5, -0.25));

  test('FID(X, X) is 0 to rounding (reported, not clamped)', () => {
    const r = fid(x, x);
    expect(Math.abs(r.fid)).toBeLessThan(1e-10);
  });

  test('symmetric', () => {
    expect(Math.abs(fid(x, y).fid - fid(y, x).fid)).toBeLessThan(1e-10);
  });

  test('invariant to a permutation of the feature dimensions', () => {
    const d = 16;
    const perm = [3, 7, 0, 15, 1, 2, 14, 4, 5, 13, 6, 8, 12, 9, 11, 10];
    const permute = (s: typeof x) => {
      const mu = new Float64Array(d);
      const sigma = new Float64Array(d * d);
      for (let i = 0; i < d; i++) {
        mu[i] = s.mu[perm[i]!]!;
        for (let j = 0; j < d; j++) sigma[i * d + j] = s.sigma[perm[i]! * d + perm[j]!]!;
      }
      return { mu, sigma, dim: d, count: s.count! };
    };
    expect(Math.abs(fid(permute(x), permute(y)).fid - fid(x, y).fid)).toBeLessThan(1e-10);
  });

  test('invariant to the order of the samples', () => {
    const f = randomFeatures(3, 60, 8);
    const rev = new Float64Array(f.data.length);
    for (let r = 0; r < 60; r++) rev.set(f.data.subarray((59 - r) * 8, (60 - r) * 8), r * 8);
    const a = computeStats(f);
    const b = computeStats({ data: rev, count: 60, dim: 8 });
    expect(Math.abs(fid(a, b).fid)).toBeLessThan(1e-12);
  });

  test('shifting one mean by v adds |v|^2', () => {
    const shifted = { ...x, mu: x.mu.map((m, i) => m + (i === 3 ? 2 : 0)) };
    expect(fid(x, shifted).fid).toBeCloseTo(4, 10);
  });
});

describe('fid() protocol checks and fingerprint', () => {
  const proto: FeatureProtocol = {
    extractor: 'test-extractor',
    weightsHash: 'sha256:00112233445566778899',
    featureDim: 8,
    imageSize: 299,
    resize: 'bilinear',
    comparableWithPublished: false,
  };
  const a = { ...computeStats(randomFeatures(4, 40, 8)), protocol: proto };
  const b = { ...computeStats(randomFeatures(5, 30, 8)), protocol: proto };

  test('summary prints the fingerprint', () => {
    const r = fid(a, b);
    expect(r.summary).toMatch(
      /^FID = \d+\.\d{6} FID\[test-extractor weights=sha256:001122334455 size=299/,
    );
    expect(r.summary).toMatch(
      /n=40\/30 d=8 dtype=float64 eps=no; NOT comparable with published scores\]$/,
    );
    expect(r.fingerprint.counts).toEqual([40, 30]);
  });

  test('refuses statistics from different protocols unless allowed', () => {
    const other = { ...b, protocol: { ...proto, imageSize: 128 } };
    expect(() => fid(a, other)).toThrow(ProtocolMismatchError);
    expect(() => fid(a, other)).toThrow(/imageSize is '299' vs '128'/);
    const r = fid(a, other, { allowProtocolMismatch: true });
    expect(r.warnings.join()).toMatch(/imageSize/);
    expect(r.fingerprint.protocol).toBeNull();
  });

  test('warns when there are fewer samples than dimensions', () => {
    const small = { ...computeStats(randomFeatures(6, 5, 8)), protocol: proto };
    const r = fid(a, small);
    expect(r.warnings.join()).toMatch(/5 samples for 8 dimensions/);
  });

  test('different dims throw naming the field', () => {
    const c = computeStats(randomFeatures(7, 20, 4));
    expect(() => fid(a, c)).toThrow(/stats2\.dim/);
  });

  test('config validation names the bad field', () => {
    expect(validateFrechetConfig()).toEqual({ ...DEFAULT_FRECHET_CONFIG });
    expect(() => validateFrechetConfig({ eps: -1 })).toThrow(/FrechetConfig\.eps/);
    expect(() => validateFrechetConfig({ onSingular: 'bogus' as never })).toThrow(
      /FrechetConfig\.onSingular.*exact, offset, throw/,
    );
  });

  test('non-symmetric or non-finite input names the entry', () => {
    const bad = { ...a, sigma: Float64Array.from(a.sigma) };
    bad.sigma[1] = bad.sigma[1]! + 1;
    expect(() => fid(bad, b)).toThrow(/stats1\.sigma is not symmetric: \[1\]\[0\]/);
    const nan = { ...a, mu: Float64Array.from(a.mu) };
    nan.mu[2] = Number.NaN;
    expect(() => fid(nan, b)).toThrow(/stats1\.mu\[2\] is not finite/);
  });
});
