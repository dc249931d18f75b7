/**
 * VQGAN training configuration: taming's `VQLPIPSWithDiscriminator` weights and optimizer settings,
 * codebook-health settings, the defaults (taming's), named recipes and the validator.
 */
import { type LrSchedule, learningRateAt } from '@artist-ts/core/lr-schedule';
import { type DiscriminatorConfig, validateDiscriminatorConfig } from './discriminator';

export interface VqganTrainConfig {
  batchSize: number;
  /** Generator (autoencoder) Adam learning rate. */
  learningRate: number;
  /** Discriminator Adam learning rate (taming: the same). */
  discLearningRate: number;
  /** Adam betas (taming: 0.5, 0.9). */
  beta1: number;
  beta2: number;
  l1Weight: number;
  l2Weight: number;
  /** Weight of the perceptual hook (used only when one is given). */
  perceptualWeight: number;
  codebookWeight: number;
  /** Train a PatchGAN discriminator. */
  disc: boolean;
  /** Step from which the GAN terms are active (taming `disc_start`). */
  discStart: number;
  /** taming `disc_weight`: scales the adaptive lambda. */
  discWeight: number;
  /** taming `disc_factor`. */
  discFactor: number;
  /** taming's adaptive lambda (false: lambda = discWeight). */
  adaptiveWeight: boolean;
  discriminator: DiscriminatorConfig;
  /** Restart codes hit fewer than `restartThreshold` times in the last `restartEvery` steps (0: off). */
  restartEvery: number;
  restartThreshold: number;
  /** Recent encoder outputs kept as restart candidates. */
  reservoirSize: number;
  /** Latents added to the reservoir per step (sampled from the batch). */
  reservoirPerStep: number;
  /** k-means initialisation of the codebook from the first batches before step 0. */
  kmeansInit: boolean;
  kmeansBatches: number;
  kmeansIterations: number;
  /** Seed of the run's RNG streams (data order, restarts, k-means). */
  seed: number | string;
  /**
   * Cosine learning-rate decay over this many steps, from the learning rates down to
   * `minLrRatio` times them, then constant (0: constant learning rates, as taming). Applies to
   * both optimizers; a function of the step, so resume stays exact.
   */
  lrDecaySteps: number;
  /** Final fraction of the learning rates under `lrDecaySteps`. */
  minLrRatio: number;
  /**
   * Recompute the encoder's and decoder's stages in the backward pass instead of keeping their
   * activations (`Vqgan.trainForward`'s `recompute`): one more forward pass for much less memory;
   * what lets ARTIST-base train at 256x256 within the wasm backend's heap. Same gradients up to
   * float rounding.
   */
  recompute: boolean;
}

export const DEFAULT_VQGAN_TRAIN_CONFIG: VqganTrainConfig = {
  batchSize: 8,
  learningRate: 2e-4,
  discLearningRate: 2e-4,
  beta1: 0.5,
  beta2: 0.9,
  l1Weight: 1,
  l2Weight: 1,
  perceptualWeight: 1,
  codebookWeight: 1,
  disc: false,
  discStart: 0,
  discWeight: 0.8,
  discFactor: 1,
  adaptiveWeight: true,
  discriminator: { nLayers: 2, ndf: 64, inChannels: 3 },
  restartEvery: 50,
  restartThreshold: 1,
  reservoirSize: 4096,
  reservoirPerStep: 256,
  kmeansInit: false,
  kmeansBatches: 8,
  kmeansIterations: 10,
  seed: 'vqgan-train',
  lrDecaySteps: 0,
  minLrRatio: 0.1,
  recompute: false,
};

/**
 * Named training recipes. `taming`: taming-transformers' optimizer settings (the defaults; for
 * fine-tuning released weights and GAN training). `fast`: small models from scratch on a CPU
 * without the GAN (the demo recipe): a higher learning rate with Adam's usual betas (0.9, 0.99;
 * taming's 0.5/0.9 suits the adversarial phase, and learns the reconstruction more slowly),
 * k-means initialisation from 16 batches and dead-code restart every 8 steps. On emoji-zh 32x32
 * with `nano` it gives usage 100 % and perplexity above 0.8 x 512 from the first epoch.
 */
export const VQGAN_TRAIN_PRESETS: Record<'taming' | 'fast', VqganTrainConfig> = {
  taming: DEFAULT_VQGAN_TRAIN_CONFIG,
  fast: {
    ...DEFAULT_VQGAN_TRAIN_CONFIG,
    learningRate: 2e-3,
    beta1: 0.9,
    beta2: 0.99,
    kmeansInit: true,
    kmeansBatches: 16,
    restartEvery: 8,
  },
};

export function validateVqganTrainConfig(config: Partial<VqganTrainConfig> = {}): VqganTrainConfig {
  for (const key of Object.keys(config)) {
    if (!(key in DEFAULT_VQGAN_TRAIN_CONFIG)) {
      throw new Error(
        `vqgan train config: unknown field '${key}' (allowed: ${Object.keys(DEFAULT_VQGAN_TRAIN_CONFIG).join(', ')})`,
      );
    }
  }
  const c: VqganTrainConfig = {
    ...DEFAULT_VQGAN_TRAIN_CONFIG,
    ...config,
    discriminator: validateDiscriminatorConfig({
      ...DEFAULT_VQGAN_TRAIN_CONFIG.discriminator,
      ...(config.discriminator ?? {}),
    }),
  };
  const posInt = [
    'batchSize',
    'reservoirSize',
    'reservoirPerStep',
    'kmeansBatches',
    'kmeansIterations',
  ] as const;
  for (const k of posInt) {
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`vqgan train config: '${k}' must be a positive integer, got ${String(c[k])}`);
  }
  const nonNegInt = ['discStart', 'restartEvery', 'lrDecaySteps'] as const;
  for (const k of nonNegInt) {
    if (!Number.isInteger(c[k]) || c[k] < 0)
      throw new Error(`vqgan train config: '${k}' must be an integer >= 0, got ${String(c[k])}`);
  }
  const nonNeg = [
    'learningRate',
    'discLearningRate',
    'l1Weight',
    'l2Weight',
    'perceptualWeight',
    'codebookWeight',
    'discWeight',
    'discFactor',
    'restartThreshold',
  ] as const;
  for (const k of nonNeg) {
    if (typeof c[k] !== 'number' || !Number.isFinite(c[k]) || c[k] < 0) {
      throw new Error(
        `vqgan train config: '${k}' must be a finite number >= 0, got ${String(c[k])}`,
      );
    }
  }
  if (!(typeof c.minLrRatio === 'number' && c.minLrRatio >= 0 && c.minLrRatio <= 1)) {
    throw new Error(
      `vqgan train config: 'minLrRatio' must be in [0, 1], got ${String(c.minLrRatio)}`,
    );
  }
  for (const k of ['beta1', 'beta2'] as const) {
    if (!(c[k] >= 0 && c[k] < 1))
      throw new Error(`vqgan train config: '${k}' must be in [0, 1), got ${String(c[k])}`);
  }
  for (const k of ['disc', 'adaptiveWeight', 'kmeansInit', 'recompute'] as const) {
    if (typeof c[k] !== 'boolean')
      throw new Error(`vqgan train config: '${k}' must be true or false, got ${String(c[k])}`);
  }
  if (typeof c.seed !== 'number' && typeof c.seed !== 'string') {
    throw new Error(
      `vqgan train config: 'seed' must be a number or a string, got ${String(c.seed)}`,
    );
  }
  return c;
}

/**
 * The learning-rate schedule of `config` as a multiplier of its learning rates (peak 1): cosine
 * from 1 to `minLrRatio` over `lrDecaySteps` updates, then constant; constant 1 when
 * `lrDecaySteps` is 0.
 */
export function vqganLrSchedule(config: VqganTrainConfig): LrSchedule {
  return {
    peak: 1,
    kind: config.lrDecaySteps > 0 ? 'cosine' : 'constant',
    warmupSteps: 0,
    totalSteps: config.lrDecaySteps,
    minRatio: config.minLrRatio,
  };
}

/**
 * Learning-rate multiplier of the update that follows `step` updates: scale 1 at step 0,
 * `minLrRatio` from step `lrDecaySteps` on (decay progress step / lrDecaySteps).
 */
export function vqganLrScale(config: VqganTrainConfig, step: number): number {
  return learningRateAt(vqganLrSchedule(config), step + 1, -1);
}
