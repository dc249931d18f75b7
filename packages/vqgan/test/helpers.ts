import { Rng } from '@artist-ts/core/rng';
import { kmeans } from '../src/codebook';
import type { VqganConfig } from '../src/config';

/** Test-only micro config: 8x8 images, f=2, 16 codes; fast on the stock cpu backend. */
export const MICRO: Partial<VqganConfig> = {
  resolution: 8,
  ch: 8,
  chMult: [1, 2],
  numResBlocks: 1,
  attnResolutions: [4],
  zChannels: 8,
  embedDim: 8,
  nEmbed: 16,
  numGroups: 4,
};

/** k-means on 200 noisy points around 4 separated 2-D centres; returns [found, expected] centres. */
export function kmeansOnSeparatedClusters(): [number[][], number[][]] {
  const rng = new Rng(1);
  const centers = [
    [5, 5],
    [-5, 5],
    [5, -5],
    [-5, -5],
  ];
  const pts = new Float32Array(200 * 2);
  for (let i = 0; i < 200; i++) {
    const c = centers[i % 4];
    pts[2 * i] = c[0] + 0.3 * rng.normal();
    pts[2 * i + 1] = c[1] + 0.3 * rng.normal();
  }
  const cent = kmeans(pts, 2, 4, new Rng(2), { iterations: 10 });
  const found = [0, 1, 2, 3].map((k) => [Math.round(cent[2 * k]), Math.round(cent[2 * k + 1])]);
  return [found.sort(), centers.map((c) => [...c]).sort()];
}
