/** The micro models and settings the end-to-end tests shrink the demo preset with (seconds a run). */
export const MICRO = {
  backend: 'cpu',
  data: { limit: 12 },
  kg: { epochs: 2, workers: 1, dim: 8 },
  vqgan: {
    steps: 6,
    checkpointEvery: 3,
    model: {
      ch: 4,
      chMult: [1, 2, 2],
      zChannels: 4,
      embedDim: 4,
      nEmbed: 32,
      numGroups: 2,
      attnResolutions: [],
    },
    train: { batchSize: 4, restartEvery: 0 },
  },
  gpt: {
    model: { nLayer: 1, nHead: 2, nEmbd: 16 },
    train: { totalSteps: 6, batchSize: 4 },
    checkpointEvery: 2,
  },
  eval: {
    maxCaptions: 3,
    trainCaptions: 2,
    extractor: 'none',
    reconstructions: 4,
    sample: { batchSize: 3, topK: 8 },
  },
};
