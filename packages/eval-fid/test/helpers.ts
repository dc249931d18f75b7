/** Shared test data: the integer-formula features of test/fixtures/generate_known_answers.py. */
import type { FeatureMatrix } from '../src/stats';

const COEFFS: Record<string, [number, number, number, number, number]> = {
  a: [97, 31, 7, 13, 17],
  b: [89, 37, 11, 5, 3],
  c: [61, 43, 3, 19, 29],
};

/** x[r][c] = ((r k0 + c k1 + r^2 c k2 + c^2 r k3 + k4) mod 1009 - 504) / 128, exact in float64. */
export function formulaFeatures(kind: string, n: number, d: number): FeatureMatrix {
  const k = COEFFS[kind]!;
  const data = new Float64Array(n * d);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < d; c++) {
      const v = (r * k[0] + c * k[1] + r * r * c * k[2] + c * c * r * k[3] + k[4]) % 1009;
      data[r * d + c] = (v - 504) / 128;
    }
  }
  return { data, count: n, dim: d };
}

/** Deterministic pseudo-random features (xorshift), for property tests. */
export function randomFeatures(
  seed: number,
  n: number,
  d: number,
  scale = 1,
  offset = 0,
): FeatureMatrix {
  let s = seed >>> 0 || 1;
  const data = new Float64Array(n * d);
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    data[i] = offset + scale * (s / 4294967296 - 0.5);
  }
  return { data, count: n, dim: d };
}
