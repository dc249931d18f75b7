/**
 * The trainer's configuration: one JSON file, validated at start against the resolved defaults of
 * a preset (`demo`, `artist-base`), then dotted `--set` overrides. Package sections are the
 * packages' own configs, checked again by their validators when the stage runs.
 *
 * Fields the pipeline derives from earlier stages (text vocabulary size, image code grid, codebook
 * size, entity width) are not in the config: the gpt stage takes them from the run's files.
 */
import {
  DEFAULT_SAMPLE_CONFIG,
  PRESETS as GPT_PRESETS,
  DEFAULT_TRAIN_CONFIG as GPT_TRAIN_DEFAULTS,
  type GptConfig,
  type TrainConfig as GptTrainConfig,
  type SampleConfig,
  validateGptConfig,
  validateTrainConfig as validateGptTrainConfig,
  validateSampleConfig,
} from '@artist-ts/gpt-knowl';
import {
  type TransEConfig,
  presetConfig as transePreset,
  validateTransEConfig,
} from '@artist-ts/kg-embedding';
import {
  PRESETS as VQGAN_PRESETS,
  VQGAN_TRAIN_PRESETS,
  type VqganConfig,
  type VqganTrainConfig,
  validateVqganConfig,
  validateVqganTrainConfig,
} from '@artist-ts/vqgan';
import { ConfigError, type ConfigObject, mergeConfig, parseOverride } from './config_tree';

/** GPT fields that come from the run's files, not from the config. */
export const DERIVED_GPT_FIELDS = [
  'textVocabSize',
  'imageLen',
  'imageVocabSize',
  'entityDim',
  'textLen',
] as const;
type DerivedGptField = (typeof DERIVED_GPT_FIELDS)[number];

export interface TrainerConfig {
  /** Run name: the run folder is `<runsDir>/<name>`. */
  name: string;
  runsDir: string;
  /** Seeds every stage (each stage derives its own stream). */
  seed: number;
  /** 'auto' | 'tensorflow' | 'wasm' | 'cpu' (ARTIST_BACKEND overrides). */
  backend: string;
  data: {
    /** Built-in dataset (`emoji-zh`, `kg-shapes-zh`), used when `input` is null. */
    dataset: string;
    /** Image side in pixels. */
    size: number;
    /** At most this many rows per split (null: all). */
    limit: number | null;
    /** A folder of your own: train/val/test.tsv (idx, text, imgbase64) and kg/ (OpenKE or triples.tsv). */
    input: string | null;
  };
  kg: TransEConfig;
  lattice: {
    /** A BERT vocab.txt; null builds a character vocabulary from the captions. */
    vocab: string | null;
    /** Text tokens per caption (ARTIST: 32). */
    textLen: number;
    /** Characters seen fewer times are [UNK] in a built vocabulary. */
    minFreq: number;
    /**
     * One-hop knowledge expansion: up to this many KG neighbours of each matched entity (the tails
     * of its facts, from the run's KG) join the lattice over the entity's span, so the GPT sees what
     * the graph says about an entity beside its TransE vector. 0 (default): ARTIST's lattice.
     */
    neighbours: number;
    /**
     * Relations whose facts the expansion follows (names as in the KG), e.g. the ones that say
     * what an entity looks like; null (default): every relation.
     */
    relations: string[] | null;
  };
  vqgan: {
    model: VqganConfig;
    train: VqganTrainConfig;
    steps: number;
    checkpointEvery: number;
  };
  encode: {
    batchSize: number;
    shardSize: number;
  };
  gpt: {
    model: Omit<GptConfig, DerivedGptField>;
    train: GptTrainConfig;
    checkpointEvery: number;
    /**
     * Score the val split at every checkpoint too (the report's validation curve), not only at the
     * end. Costs one pass over the val split per checkpoint.
     */
    valAtCheckpoints: boolean;
  };
  eval: {
    sample: SampleConfig;
    /** Held-out captions to generate for (test split, in order). */
    maxCaptions: number;
    /**
     * Training captions (the first ones of the train split) also generated for, shown in the report
     * beside the held-out ones: what the model learned, against what it transfers. 0: none.
     */
    trainCaptions: number;
    /** Feature extractor for FID/KID: 'nsfwjs-inception' (offline default) or 'none'. */
    extractor: string;
    /** Reconstructions shown in the report and scored as the VQGAN upper bound. */
    reconstructions: number;
    /** Real test images in the FID/KID reference statistics, the first ones in file order (null: all). */
    realImages: number | null;
    /**
     * Knowledge guidance scales (s_kg) to measure: the held-out captions are sampled again at each
     * (eval.sample's other settings kept) and scored by the dataset's scorer (kg-shapes-zh). Needs
     * a GPT trained with `gpt.train.knowledgeDropout`; skipped for fusion `none`. Default none.
     */
    knowledgeGuidance: number[];
  };
  /**
   * Fine-tuning a released (or earlier) model on EasyNLP's files (`artist-train finetune`). With
   * `init` set, the run takes its VQGAN, GPT and entity vectors from these files instead of
   * training them (see FINETUNE_STAGES); `gpt.model` is then the init model's.
   */
  finetune: {
    /** pytorch_model.bin / .safetensors (imported), an imported folder (gpt/, vqgan/) or a run folder. */
    init: string | null;
    /** EasyNLP TSVs, raw (`idx, text, imgbase64`) or knowledge (`..., lex_id, pos_s, pos_e, token_len, imgbase64`). */
    train: string | null;
    val: string | null;
    /** Texts to predict for (`idx, text` or the 6-column knowledge layout); null: no predictions. */
    test: string | null;
    /** OpenKE entity2id.txt: names and ids of the entity-vector rows. */
    entities: string | null;
    /** entity2vec.pt (tensor or nn.Embedding state dict), .npy, OpenKE text, or ours. */
    entityVectors: string | null;
    /** Passes over the train split (EasyNLP epoch_num); sets gpt.train.totalSteps. null: totalSteps as set. */
    epochs: number | null;
    /** Importer overrides for what the weights cannot tell, e.g. {"nHead": 12} / {"numGroups": 32}. */
    importGpt: Record<string, unknown> | null;
    importVqgan: Record<string, unknown> | null;
  };
}

function gptModelSection(preset: keyof typeof GPT_PRESETS): Omit<GptConfig, DerivedGptField> {
  const full: Partial<GptConfig> = { ...GPT_PRESETS[preset] };
  for (const f of DERIVED_GPT_FIELDS) delete full[f];
  return full as Omit<GptConfig, DerivedGptField>;
}

/**
 * `config` with every seed set from `seed`: the run's (data build, model inits), TransE's, the
 * VQGAN's and GPT's training streams, and the eval's sampling. THE place that knows where seeds live.
 */
export function withSeed(config: TrainerConfig, seed: number): TrainerConfig {
  return {
    ...config,
    seed,
    kg: { ...config.kg, seed },
    vqgan: { ...config.vqgan, train: { ...config.vqgan.train, seed } },
    gpt: { ...config.gpt, train: { ...config.gpt.train, seed } },
    eval: { ...config.eval, sample: { ...config.eval.sample, seed } },
  };
}

function base(seed: number): TrainerConfig {
  return withSeed(unseeded(), seed);
}

function unseeded(): TrainerConfig {
  const seed = 0;
  return {
    name: 'demo',
    runsDir: 'runs',
    seed,
    backend: 'auto',
    data: { dataset: 'emoji-zh', size: 32, limit: null, input: null },
    kg: { ...transePreset('default'), seed },
    lattice: { vocab: null, textLen: 32, minFreq: 1, neighbours: 0, relations: null },
    vqgan: {
      model: { ...VQGAN_PRESETS.nano },
      // The small-model recipe (lr 2e-3, k-means init, frequent dead-code restarts): nano reaches
      // about 21 dB held-out PSNR on emoji-zh in 1500 steps with the whole codebook in use.
      train: { ...VQGAN_TRAIN_PRESETS.fast, batchSize: 8, seed },
      steps: 1500,
      checkpointEvery: 250,
    },
    encode: { batchSize: 32, shardSize: 2048 },
    gpt: {
      model: gptModelSection('small'),
      train: { ...GPT_TRAIN_DEFAULTS, seed },
      checkpointEvery: 200,
      valAtCheckpoints: true,
    },
    eval: {
      sample: { ...DEFAULT_SAMPLE_CONFIG, seed },
      maxCaptions: 64,
      trainCaptions: 12,
      extractor: 'nsfwjs-inception',
      reconstructions: 64,
      realImages: 256,
      knowledgeGuidance: [],
    },
    finetune: {
      init: null,
      train: null,
      val: null,
      test: null,
      entities: null,
      entityVectors: null,
      epochs: null,
      importGpt: null,
      importVqgan: null,
    },
  };
}

export const TRAINER_PRESETS: Record<string, () => TrainerConfig> = {
  /** The README's demo: emoji-zh at 32x32, nano VQGAN, a small GPT, in minutes on 2 cores. */
  demo: () => base(1234),
  /** ARTIST's published shapes: 256x256 images, f16 VQGAN with 16384 codes, the 12-layer GPT. */
  'artist-base': () => {
    const c = base(1234);
    c.name = 'artist-base';
    c.data.size = 256;
    c.vqgan.model = { ...VQGAN_PRESETS['artist-base'] };
    c.vqgan.train = { ...VQGAN_TRAIN_PRESETS.taming, seed: c.seed };
    c.vqgan.steps = 200000;
    c.gpt.model = gptModelSection('artist-base');
    c.gpt.train = { ...c.gpt.train, totalSteps: 100000, batchSize: 16 };
    c.gpt.valAtCheckpoints = false; // a val pass of the 12-layer GPT per checkpoint is minutes on CPU
    c.eval.maxCaptions = 1000;
    c.eval.realImages = null;
    return c;
  },
  /**
   * Fine-tune the released ARTIST with EasyNLP's defaults (`artist-train finetune`): lr 4e-5,
   * 2 epochs, micro-batch 8, checkpoint every 200 steps, seed 42, 32 text tokens (+ the init
   * model's 256 codes), 256x256 images, 4 images per test text.
   */
  finetune: () => {
    const c = TRAINER_PRESETS['artist-base']();
    c.name = 'finetune';
    c.seed = 42;
    c.gpt.train = { ...GPT_TRAIN_DEFAULTS, learningRate: 4e-5, batchSize: 8, seed: 42 };
    c.gpt.checkpointEvery = 200;
    c.eval.sample = { ...c.eval.sample, numSamples: 4, seed: 42 };
    c.eval.extractor = 'none';
    c.finetune.epochs = 2;
    return c;
  },
};

/** Package validators for each section (the trainer's schema check only knows kinds of values). */
export function validateSections(c: TrainerConfig): void {
  const wrap = (section: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(section, (err as Error).message);
    }
  };
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(c.backend)) {
    throw new ConfigError(
      'backend',
      `must be one of auto, tensorflow, wasm, cpu; got '${c.backend}'`,
    );
  }
  if (!/^[\w.-]+$/.test(c.name))
    throw new ConfigError('name', `must be a folder name ([A-Za-z0-9_.-]), got '${c.name}'`);
  wrap('kg', () => validateTransEConfig(c.kg));
  wrap('vqgan.model', () => validateVqganConfig(c.vqgan.model));
  wrap('vqgan.train', () => validateVqganTrainConfig(c.vqgan.train));
  wrap('gpt.train', () => validateGptTrainConfig(c.gpt.train));
  wrap('gpt.model', () =>
    validateGptConfig({
      ...c.gpt.model,
      textVocabSize: 128,
      imageLen: 4,
      imageVocabSize: 16,
      entityDim: c.kg.dim,
      textLen: c.lattice.textLen,
    }),
  );
  wrap('eval.sample', () => validateSampleConfig(c.eval.sample));
  if (!(Number.isInteger(c.lattice.neighbours) && c.lattice.neighbours >= 0)) {
    throw new ConfigError(
      'lattice.neighbours',
      `must be an integer >= 0 (0: no expansion), got ${JSON.stringify(c.lattice.neighbours)}`,
    );
  }
  const rel = c.lattice.relations;
  if (
    rel !== null &&
    !(Array.isArray(rel) && rel.length > 0 && rel.every((r) => typeof r === 'string' && r))
  ) {
    throw new ConfigError(
      'lattice.relations',
      `must be null (every relation) or a non-empty list of relation names, got ${JSON.stringify(rel)}`,
    );
  }
  // (a fine-tune's VQGAN is the init's, checked against data.size by its vqgan stage)
  if (c.finetune.init === null && c.vqgan.model.resolution !== c.data.size) {
    throw new ConfigError(
      'vqgan.model.resolution',
      `must equal data.size (${c.data.size}), got ${c.vqgan.model.resolution}`,
    );
  }
  if (
    c.eval.realImages !== null &&
    !(Number.isInteger(c.eval.realImages) && c.eval.realImages >= 2)
  ) {
    throw new ConfigError(
      'eval.realImages',
      `must be null (all) or an integer >= 2, got ${c.eval.realImages}`,
    );
  }
  if (!(Number.isInteger(c.eval.trainCaptions) && c.eval.trainCaptions >= 0)) {
    throw new ConfigError(
      'eval.trainCaptions',
      `must be an integer >= 0, got ${JSON.stringify(c.eval.trainCaptions)}`,
    );
  }
  const kgScales = c.eval.knowledgeGuidance;
  if (
    !Array.isArray(kgScales) ||
    !kgScales.every((x) => typeof x === 'number' && Number.isFinite(x))
  ) {
    throw new ConfigError(
      'eval.knowledgeGuidance',
      `must be a list of finite numbers (knowledge guidance scales), got ${JSON.stringify(kgScales)}`,
    );
  }
  validateFinetune(c);
  if (!['nsfwjs-inception', 'none'].includes(c.eval.extractor)) {
    throw new ConfigError(
      'eval.extractor',
      `must be 'nsfwjs-inception' or 'none', got '${c.eval.extractor}'`,
    );
  }
}

/**
 * A dotted override `a.b=value`: as typed after `--set`, or from another flag (`--name demo` is
 * `{text: 'name="demo"', label: '--name'}`), whose label errors then name.
 */
export type ConfigOverride = string | { text: string; label: string };

export interface ResolveOptions {
  preset?: string;
  /** Parsed JSON of a config file (and its path, for messages). */
  file?: { path: string; json: unknown };
  /** Overrides, applied in order after the file. */
  overrides?: ConfigOverride[];
}

/**
 * An error about `err.field` raised while applying `override`, or while validating the result:
 * restated in the override's own words (the dotted key as the user typed it, the flag it came in).
 */
function overrideError(override: ConfigOverride, err: ConfigError): ConfigError {
  const { text, label } =
    typeof override === 'string' ? { text: override, label: '--set' } : override;
  const key = keyOf(text);
  const detail = err.field === key ? err.detail : `'${err.field}': ${err.detail}`;
  return new ConfigError(key, detail, label === '--set' ? `--set ${text}` : label);
}

/** The dotted key of `a.b=value` as typed (the whole text when there is no '='). */
function keyOf(text: string): string {
  const eq = text.indexOf('=');
  return eq > 0 ? text.slice(0, eq) : text;
}

/** Is the override's key the field, inside it, or around it? */
function concerns(override: ConfigOverride, field: string): boolean {
  const key = keyOf(typeof override === 'string' ? override : override.text);
  return key === field || key.startsWith(`${field}.`) || field.startsWith(`${key}.`);
}

export function resolveConfig(options: ResolveOptions = {}): TrainerConfig {
  const presetName = options.preset ?? 'demo';
  const make = TRAINER_PRESETS[presetName];
  if (!make)
    throw new ConfigError(
      'preset',
      `unknown preset '${presetName}'; allowed: ${Object.keys(TRAINER_PRESETS).join(', ')}`,
    );
  const defaults = make() as unknown as ConfigObject;
  let cfg = options.file ? mergeConfig(defaults, options.file.json, options.file.path) : defaults;
  const overrides = options.overrides ?? [];
  for (const o of overrides) {
    try {
      cfg = mergeConfig(cfg, parseOverride(typeof o === 'string' ? o : o.text));
    } catch (err) {
      throw err instanceof ConfigError ? overrideError(o, err) : err;
    }
  }
  const c = cfg as unknown as TrainerConfig;
  try {
    validateSections(c);
  } catch (err) {
    // A bad value an override set: name the override (the last one that touched the field).
    const culprit =
      err instanceof ConfigError
        ? [...overrides].reverse().find((o) => concerns(o, err.field))
        : undefined;
    throw culprit ? overrideError(culprit, err as ConfigError) : err;
  }
  return c;
}

/** The finetune section: with `init`, the files the fine-tune reads must all be given. */
function validateFinetune(c: TrainerConfig): void {
  const f = c.finetune;
  if (f.epochs !== null && !(Number.isInteger(f.epochs) && f.epochs > 0))
    throw new ConfigError('finetune.epochs', `must be null or a positive integer, got ${f.epochs}`);
  for (const k of ['importGpt', 'importVqgan'] as const) {
    const v = f[k];
    if (v !== null && (typeof v !== 'object' || Array.isArray(v)))
      throw new ConfigError(
        `finetune.${k}`,
        `must be null or a JSON object, got ${JSON.stringify(v)}`,
      );
  }
  if (f.init === null) return;
  for (const k of ['train', 'val', 'entities', 'entityVectors'] as const) {
    if (f[k] === null) throw new ConfigError(`finetune.${k}`, 'required when finetune.init is set');
  }
  if (c.lattice.vocab === null)
    throw new ConfigError(
      'lattice.vocab',
      "required when finetune.init is set (the init model's vocab.txt)",
    );
}
