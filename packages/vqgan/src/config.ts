/**
 * VQGAN model configuration: taming-transformers' `ddconfig` + `n_embed`/`embed_dim`, camelCased.
 */

export interface VqganConfig {
  /** Input/output image side (square images). */
  resolution: number;
  /** Image channels (RGB = 3). */
  inChannels: number;
  outChannels: number;
  /** Base channel count `ch`. */
  ch: number;
  /** Channel multiplier per level; the downsampling factor is 2^(chMult.length - 1). */
  chMult: number[];
  /** ResnetBlocks per encoder level (the decoder uses numResBlocks + 1). */
  numResBlocks: number;
  /** Resolutions (feature-map sides) at which AttnBlocks follow the ResnetBlocks. */
  attnResolutions: number[];
  /** Encoder output channels (before quant_conv). */
  zChannels: number;
  /** Codebook vector size (quant_conv output). */
  embedDim: number;
  /** Codebook size. */
  nEmbed: number;
  /** GroupNorm groups (taming: 32). Every channel count must be divisible by it. */
  numGroups: number;
  /** GroupNorm epsilon (taming: 1e-6). */
  normEps: number;
  /** Quantizer beta (taming: 0.25). */
  beta: number;
  /**
   * taming's `legacy=True` loss: beta multiplies the codebook term mean((z_q - sg z)^2) instead of
   * the commitment term (taming's acknowledged bug, kept by its released recipe). `artist-base`
   * keeps it (fine-tuning released weights with taming's recipe); `nano` and `small` use the
   * standard VQ-VAE placement (beta on the commitment term), which pulls the encoder onto the
   * codebook less hard and keeps more codes alive. Weights are compatible either way.
   */
  legacyBeta: boolean;
}

export const DEFAULT_VQGAN_CONFIG: VqganConfig = {
  resolution: 256,
  inChannels: 3,
  outChannels: 3,
  ch: 128,
  chMult: [1, 1, 2, 2, 4],
  numResBlocks: 2,
  attnResolutions: [16],
  zChannels: 256,
  embedDim: 256,
  nEmbed: 16384,
  numGroups: 32,
  normEps: 1e-6,
  beta: 0.25,
  legacyBeta: true,
};

export type VqganPresetName = 'nano' | 'small' | 'artist-base';

export const PRESETS: Record<VqganPresetName, VqganConfig> = {
  /**
   * 32x32 images, f=4 (8x8 codes), 512 codes: the demo, tests and benchmark. Attention only in the
   * mid blocks (as taming's `attn_resolutions=[]`) and 32 channels at the 8x8 level keep a training
   * step cheap on a CPU; 275,731 parameters.
   */
  nano: {
    ...DEFAULT_VQGAN_CONFIG,
    resolution: 32,
    ch: 16,
    chMult: [1, 2, 2],
    numResBlocks: 1,
    attnResolutions: [],
    zChannels: 32,
    embedDim: 32,
    nEmbed: 512,
    numGroups: 8,
    legacyBeta: false,
  },
  /** 64x64 images, f=8 (8x8 codes), 1024 codes. */
  small: {
    ...DEFAULT_VQGAN_CONFIG,
    resolution: 64,
    ch: 64,
    chMult: [1, 1, 2, 4],
    numResBlocks: 1,
    attnResolutions: [8],
    zChannels: 64,
    embedDim: 64,
    nEmbed: 1024,
    numGroups: 32,
    legacyBeta: false,
  },
  /** taming ImageNet f16/16384, the VQGAN ARTIST uses: 256x256, 16x16 codes, 76.07 M parameters. */
  'artist-base': { ...DEFAULT_VQGAN_CONFIG },
};

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Copies `config` over the defaults and checks every field; throws an error naming the bad field and
 * the allowed values. Accepts a preset name.
 */
export function validateVqganConfig(
  config: Partial<VqganConfig> | VqganPresetName = {},
): VqganConfig {
  let base: VqganConfig = DEFAULT_VQGAN_CONFIG;
  let over: Partial<VqganConfig> = {};
  if (typeof config === 'string') {
    if (!(config in PRESETS)) {
      throw new Error(
        `vqgan config: unknown preset '${config}' (allowed: ${Object.keys(PRESETS).join(', ')})`,
      );
    }
    base = PRESETS[config];
  } else {
    if (config === null || typeof config !== 'object')
      throw new Error('vqgan config: expected an object');
    over = config;
  }
  const c: VqganConfig = {
    ...base,
    ...over,
    chMult: [...(over.chMult ?? base.chMult)],
    attnResolutions: [...(over.attnResolutions ?? base.attnResolutions)],
  };
  for (const key of Object.keys(over)) {
    if (!(key in DEFAULT_VQGAN_CONFIG)) {
      throw new Error(
        `vqgan config: unknown field '${key}' (allowed: ${Object.keys(DEFAULT_VQGAN_CONFIG).join(', ')})`,
      );
    }
  }
  const ints: (keyof VqganConfig)[] = [
    'resolution',
    'inChannels',
    'outChannels',
    'ch',
    'numResBlocks',
    'zChannels',
    'embedDim',
    'nEmbed',
    'numGroups',
  ];
  for (const k of ints) {
    if (!isPosInt(c[k]))
      throw new Error(`vqgan config: '${k}' must be a positive integer, got ${String(c[k])}`);
  }
  if (c.chMult.length < 1 || !c.chMult.every(isPosInt)) {
    throw new Error(
      `vqgan config: 'chMult' must be a non-empty array of positive integers, got [${c.chMult}]`,
    );
  }
  const factor = 2 ** (c.chMult.length - 1);
  if (c.resolution % factor !== 0) {
    throw new Error(
      `vqgan config: 'resolution' ${c.resolution} must be divisible by the downsampling factor ${factor} (2^(chMult.length-1))`,
    );
  }
  if (!c.attnResolutions.every(isPosInt)) {
    throw new Error(
      `vqgan config: 'attnResolutions' must hold positive integers, got [${c.attnResolutions}]`,
    );
  }
  const channels = [c.ch, ...c.chMult.map((m) => m * c.ch)];
  for (const n of channels) {
    if (n % c.numGroups !== 0) {
      throw new Error(
        `vqgan config: 'numGroups' ${c.numGroups} must divide every channel count (${channels.join(', ')}); ${n} is not divisible`,
      );
    }
  }
  if (!(typeof c.normEps === 'number' && c.normEps > 0)) {
    throw new Error(`vqgan config: 'normEps' must be a positive number, got ${String(c.normEps)}`);
  }
  if (!(typeof c.beta === 'number' && c.beta >= 0 && Number.isFinite(c.beta))) {
    throw new Error(`vqgan config: 'beta' must be a finite number >= 0, got ${String(c.beta)}`);
  }
  if (typeof c.legacyBeta !== 'boolean') {
    throw new Error(
      `vqgan config: 'legacyBeta' must be true or false, got ${String(c.legacyBeta)}`,
    );
  }
  return c;
}

/** Spatial downsampling factor f. */
export function downsamplingFactor(c: VqganConfig): number {
  return 2 ** (c.chMult.length - 1);
}

/** Shape of the code grid for one image: [h, w]. */
export function codeGridShape(c: VqganConfig): [number, number] {
  const s = c.resolution / downsamplingFactor(c);
  return [s, s];
}
