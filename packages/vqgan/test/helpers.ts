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
