/**
 * Model configuration, presets and the parameter table of the knowledge-fused GPT.
 *
 * The parameter table (`parameterSpecs`) is the single source of truth: the model creates exactly
 * these variables, `countParameters` sums them, and the converter maps them to EasyNLP's
 * state-dict keys (`torchKey`, `torchShape`, `transpose`).
 */

/**
 * How entity knowledge enters the model.
 * - `lattice` (default): per text token, a softmax over the entities whose span covers it (scores =
 *   token embedding . projected entity / sqrt(d)); the weighted average is added to the token
 *   embedding before the first block. Empty slots and uncovered tokens are masked explicitly.
 * - `easynlp`: EasyNLP's released `GPT_knowl` behaviour, exactly: after the last block, one
 *   unscaled score per slot over all text positions, entity id 0 as padding, `score == 0` masking.
 *   Use it to load `pai-artist-knowl-base-zh`.
 * - `none`: the text-only baseline (no `ent_emb` parameters).
 */
export type FusionMode = 'lattice' | 'easynlp' | 'none';
export const FUSION_MODES: readonly FusionMode[] = ['lattice', 'easynlp', 'none'];

export interface GptConfig {
  /** Transformer blocks. */
  nLayer: number;
  /** Attention heads; must divide nEmbd. */
  nHead: number;
  /** Model width d. */
  nEmbd: number;
  /** MLP hidden width = mlpRatio * nEmbd (4 in minGPT/EasyNLP). */
  mlpRatio: number;
  /** Text tokens per example (EasyNLP: 32). */
  textLen: number;
  /** Image codes per example (EasyNLP: 256 = 16x16). */
  imageLen: number;
  /** VQGAN codebook size; image codes are joint ids [0, imageVocabSize). */
  imageVocabSize: number;
  /** Text (BERT) vocabulary; text id t has joint id imageVocabSize + t. */
  textVocabSize: number;
  /** Text id used to pad short texts ([PAD] = 0 in BERT vocabularies). */
  textPadId: number;
  /** Entity (TransE) vector width (EasyNLP: 100). */
  entityDim: number;
  /** Entity slots per text (EasyNLP: 10). */
  entitySlots: number;
  fusion: FusionMode;
  /** Dropout after the embedding sum (EasyNLP: 0). */
  embdPdrop: number;
  /** Dropout after attention/MLP projections (EasyNLP: 0). */
  residPdrop: number;
  /** Dropout on attention probabilities (EasyNLP: 0). */
  attnPdrop: number;
  /** Std of the N(0, std^2) init of linear and embedding weights (minGPT: 0.02). */
  initStd: number;
  /** LayerNorm epsilon (PyTorch: 1e-5). */
  layerNormEps: number;
}

export const DEFAULT_GPT_CONFIG: GptConfig = {
  nLayer: 12,
  nHead: 12,
  nEmbd: 768,
  mlpRatio: 4,
  textLen: 32,
  imageLen: 256,
  imageVocabSize: 16384,
  textVocabSize: 21128,
  textPadId: 0,
  entityDim: 100,
  entitySlots: 10,
  fusion: 'lattice',
  embdPdrop: 0,
  residPdrop: 0,
  attnPdrop: 0,
  initStd: 0.02,
  layerNormEps: 1e-5,
};

export type PresetName = 'nano' | 'tiny' | 'small' | 'artist-base' | 'artist-large';

/**
 * - `nano`: unit tests on the stock cpu backend.
 * - `tiny`: the tiny GPT of the native-kernels benchmark (4 layers, d=128, 64 text + 64 image
 *   tokens, 3000 text + 512 image vocabulary).
 * - `small`: the demo model (4 layers, d=256, 32 text + 256 image tokens, 1024 codes).
 * - `artist-base`: EasyNLP `pai-painter-base-zh` / `pai-artist-knowl-base-zh` (126.7 M).
 * - `artist-large`: EasyNLP `pai-painter-large-zh` (357.8 M).
 */
export const PRESETS: Record<PresetName, GptConfig> = {
  nano: {
    ...DEFAULT_GPT_CONFIG,
    nLayer: 2,
    nHead: 2,
    nEmbd: 32,
    textLen: 8,
    imageLen: 16,
    imageVocabSize: 32,
    textVocabSize: 64,
    entityDim: 8,
    entitySlots: 4,
  },
  tiny: {
    ...DEFAULT_GPT_CONFIG,
    nLayer: 4,
    nHead: 4,
    nEmbd: 128,
    textLen: 64,
    imageLen: 64,
    imageVocabSize: 512,
    textVocabSize: 3000,
    entityDim: 100,
    entitySlots: 10,
  },
  small: {
    ...DEFAULT_GPT_CONFIG,
    nLayer: 4,
    nHead: 4,
    nEmbd: 256,
    textLen: 32,
    imageLen: 256,
    imageVocabSize: 1024,
  },
  'artist-base': { ...DEFAULT_GPT_CONFIG },
  'artist-large': { ...DEFAULT_GPT_CONFIG, nLayer: 24, nHead: 16, nEmbd: 1024 },
};

function positiveInt(cfg: Record<string, unknown>, field: string, where: string): void {
  const v = cfg[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`${where}.${field} must be a positive integer, got ${JSON.stringify(v)}`);
  }
}

function probability(cfg: Record<string, unknown>, field: string, where: string): void {
  const v = cfg[field];
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
    throw new Error(`${where}.${field} must be a number in [0, 1), got ${JSON.stringify(v)}`);
  }
}

/**
 * Copies `config` over the defaults (or over a preset named by `config.preset`) and checks every
 * field; throws an error naming the bad field and the allowed values.
 */
export function validateGptConfig(
  config: Partial<GptConfig> & { preset?: PresetName } = {},
  where = 'GptConfig',
): GptConfig {
  let base = DEFAULT_GPT_CONFIG;
  if (config.preset !== undefined) {
    if (!(config.preset in PRESETS)) {
      throw new Error(
        `${where}.preset must be one of ${Object.keys(PRESETS).join(', ')}, got ${JSON.stringify(config.preset)}`,
      );
    }
    base = PRESETS[config.preset];
  }
  const known = new Set([...Object.keys(DEFAULT_GPT_CONFIG), 'preset']);
  for (const key of Object.keys(config)) {
    if (!known.has(key)) {
      throw new Error(
        `${where}.${key} is not a model option; allowed: ${[...known].sort().join(', ')}`,
      );
    }
  }
  const { preset: _preset, ...rest } = config;
  const out: GptConfig = { ...base };
  for (const [k, v] of Object.entries(rest)) {
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  const rec = out as unknown as Record<string, unknown>;
  for (const f of [
    'nLayer',
    'nHead',
    'nEmbd',
    'mlpRatio',
    'textLen',
    'imageLen',
    'imageVocabSize',
    'textVocabSize',
    'entityDim',
    'entitySlots',
  ]) {
    positiveInt(rec, f, where);
  }
  if (out.nEmbd % out.nHead !== 0) {
    throw new Error(
      `${where}.nHead (${out.nHead}) must divide ${where}.nEmbd (${out.nEmbd}); allowed heads: ${divisors(out.nEmbd).join(', ')}`,
    );
  }
  if (!Number.isInteger(out.textPadId) || out.textPadId < 0 || out.textPadId >= out.textVocabSize) {
    throw new Error(
      `${where}.textPadId must be an integer in [0, textVocabSize=${out.textVocabSize}), got ${JSON.stringify(out.textPadId)}`,
    );
  }
  if (!FUSION_MODES.includes(out.fusion)) {
    throw new Error(
      `${where}.fusion must be one of ${FUSION_MODES.join(', ')}, got ${JSON.stringify(out.fusion)}`,
    );
  }
  for (const f of ['embdPdrop', 'residPdrop', 'attnPdrop']) probability(rec, f, where);
  if (typeof out.initStd !== 'number' || !(out.initStd > 0)) {
    throw new Error(
      `${where}.initStd must be a positive number, got ${JSON.stringify(out.initStd)}`,
    );
  }
  if (typeof out.layerNormEps !== 'number' || !(out.layerNormEps > 0)) {
    throw new Error(
      `${where}.layerNormEps must be a positive number, got ${JSON.stringify(out.layerNormEps)}`,
    );
  }
  return out;
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= n; i++) if (n % i === 0) out.push(i);
  return out;
}

/** Sequence length of the position table (EasyNLP `block_size` = 288). */
export function blockSize(c: GptConfig): number {
  return c.textLen + c.imageLen;
}

/** Joint vocabulary: image codes then text ids (EasyNLP 37512). */
export function jointVocabSize(c: GptConfig): number {
  return c.imageVocabSize + c.textVocabSize;
}

export type ParamInit = 'normal' | 'zeros' | 'ones';

/** One model variable. Shapes are ours (tfjs, `[in, out]` for linear weights). */
export interface ParamSpec {
  /** Our variable name = EasyNLP's key without the `transformer.` prefix. */
  name: string;
  shape: number[];
  init: ParamInit;
  /** Whether AdamW applies weight decay (linear and embedding matrices only). */
  decay: boolean;
  /** EasyNLP `pytorch_model.bin` key. */
  torchKey: string;
  /** Shape in the PyTorch state dict. */
  torchShape: number[];
  /** True where the PyTorch tensor is the transpose of ours (nn.Linear weights). */
  transpose: boolean;
}

const TORCH_PREFIX = 'transformer.';

function spec(name: string, shape: number[], init: ParamInit, decay: boolean): ParamSpec {
  return {
    name,
    shape,
    init,
    decay,
    torchKey: TORCH_PREFIX + name,
    torchShape: shape,
    transpose: false,
  };
}

function linearWeight(name: string, inDim: number, outDim: number): ParamSpec {
  return {
    name,
    shape: [inDim, outDim],
    init: 'normal',
    decay: true,
    torchKey: TORCH_PREFIX + name,
    torchShape: [outDim, inDim],
    transpose: true,
  };
}

/**
 * Every variable of the model, in creation order. Decay follows minGPT: linear and embedding
 * matrices are decayed; biases, LayerNorm weights and `pos_emb` are not (EasyNLP decays its
 * LayerNorm weights by a name-matching mistake; we do not reproduce it).
 */
export function parameterSpecs(c: GptConfig): ParamSpec[] {
  const C = c.nEmbd;
  const H = c.mlpRatio * C;
  const specs: ParamSpec[] = [
    spec('tok_emb.weight', [jointVocabSize(c), C], 'normal', true),
    spec('pos_emb', [1, blockSize(c), C], 'zeros', false),
  ];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `blocks.${l}.`;
    specs.push(spec(`${p}ln1.weight`, [C], 'ones', false));
    specs.push(spec(`${p}ln1.bias`, [C], 'zeros', false));
    for (const m of ['key', 'query', 'value', 'proj']) {
      specs.push(linearWeight(`${p}attn.${m}.weight`, C, C));
      specs.push(spec(`${p}attn.${m}.bias`, [C], 'zeros', false));
    }
    specs.push(spec(`${p}ln2.weight`, [C], 'ones', false));
    specs.push(spec(`${p}ln2.bias`, [C], 'zeros', false));
    specs.push(linearWeight(`${p}mlp.0.weight`, C, H));
    specs.push(spec(`${p}mlp.0.bias`, [H], 'zeros', false));
    specs.push(linearWeight(`${p}mlp.2.weight`, H, C));
    specs.push(spec(`${p}mlp.2.bias`, [C], 'zeros', false));
  }
  specs.push(spec('ln_f.weight', [C], 'ones', false));
  specs.push(spec('ln_f.bias', [C], 'zeros', false));
  specs.push(linearWeight('head.weight', C, c.imageVocabSize));
  // Last, so a `none` model and a knowledge model built from one seed share every other weight.
  if (c.fusion !== 'none') {
    specs.push(linearWeight('ent_emb.weight', c.entityDim, C));
    specs.push(spec('ent_emb.bias', [C], 'zeros', false));
  }
  return specs;
}

/**
 * PyTorch buffers of EasyNLP's checkpoint that carry no learned value: a converter skips them
 * (the causal mask is rebuilt here).
 */
export function ignoredTorchKeys(c: GptConfig): string[] {
  const out: string[] = [];
  for (let l = 0; l < c.nLayer; l++) out.push(`${TORCH_PREFIX}blocks.${l}.attn.mask`);
  return out;
}

/** Number of learned parameters the model creates for `config` (no building needed). */
export function countParameters(config: Partial<GptConfig> & { preset?: PresetName }): number {
  const c = validateGptConfig(config);
  let n = 0;
  for (const s of parameterSpecs(c)) n += s.shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * The parameter groups `freeze` names, resolved to parameter names. A group is `embeddings`
 * (`tok_emb.weight`, `pos_emb`), `blocks` (every block), `blocks.N`, `blocks.A-B` (A to B
 * inclusive), `ln_f`, `head`, `ent_emb`, or any parameter name or dotted prefix of names
 * (`blocks.3.attn`). A group that matches nothing is an error naming `where[i]`; so is freezing
 * every parameter.
 */
export function frozenParameters(
  config: GptConfig,
  freeze: readonly string[],
  where = 'freeze',
): Set<string> {
  const names = parameterSpecs(config).map((s) => s.name);
  const out = new Set<string>();
  for (const [i, group] of freeze.entries()) {
    let match: (name: string) => boolean;
    const range = /^blocks\.(\d+)-(\d+)$/.exec(group);
    if (group === 'embeddings') match = (n) => n === 'tok_emb.weight' || n === 'pos_emb';
    else if (range) {
      const [lo, hi] = [Number(range[1]), Number(range[2])];
      if (lo > hi || hi >= config.nLayer) {
        throw new Error(
          `${where}[${i}] '${group}': blocks ${lo}-${hi} are not within 0-${config.nLayer - 1}`,
        );
      }
      match = (n) => {
        const b = /^blocks\.(\d+)\./.exec(n);
        return b !== null && Number(b[1]) >= lo && Number(b[1]) <= hi;
      };
    } else match = (n) => n === group || n.startsWith(`${group}.`);
    const hits = names.filter(match);
    if (hits.length === 0) {
      throw new Error(
        `${where}[${i}] '${group}' names no parameter; groups: embeddings, blocks, blocks.N, blocks.A-B, ln_f, head${config.fusion === 'none' ? '' : ', ent_emb'}, or a parameter name`,
      );
    }
    for (const n of hits) out.add(n);
  }
  if (out.size === names.length) throw new Error(`${where}: freezes every parameter`);
  return out;
}
