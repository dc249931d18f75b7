/**
 * TransE training configuration: the interface, its defaults, the validator and named presets.
 */
import { type LrSchedule as CoreLrSchedule, learningRateAt } from '@artist-ts/core/lr-schedule';

export type Distance = 'L1' | 'L2';
export type LossKind = 'margin' | 'logsigmoid';
export type Corruption = 'uniform' | 'bernoulli';
export type OptimizerKind = 'sgd' | 'adagrad';
export type LrSchedule = 'constant' | 'linear' | 'cosine';
export type Renorm = 'none' | 'max' | 'unit';
export type EpochOrderKind = 'auto' | 'shuffled' | 'head-blocks';

export interface TransEConfig {
  /** Embedding width of entities and relations (ARTIST uses 100). */
  dim: number;
  /** Distance d(h + r, t): 'L1' (sum of absolute values) or 'L2' (Euclidean, not squared). */
  distance: Distance;
  /**
   * 'margin': sum_i w_i * max(0, margin + d_pos - d_neg_i) (Bordes et al.; OpenKE MarginLoss).
   * 'logsigmoid': -log sigmoid(margin - d_pos) - sum_i w_i log sigmoid(d_neg_i - margin)
   * (RotatE paper, Sun et al. 2019).
   */
  loss: LossKind;
  /** The margin gamma of either loss. */
  margin: number;
  /** Negative triples drawn per positive triple. */
  negatives: number;
  /**
   * Consecutive positives (in a step) that share one draw of negative entities (1: every positive
   * draws its own). Sharing keeps the negative rows in cache, as DGL-KE's chunked sampling does.
   */
  sharedNegatives: number;
  /**
   * Self-adversarial temperature alpha: negative weights w_i = softmax(-alpha * d_neg_i), treated
   * as constants (RotatE). 0 gives uniform weights 1/negatives.
   */
  adversarialTemperature: number;
  /** Which side to corrupt: 'uniform' (head or tail with p = 1/2) or 'bernoulli' (Wang et al. 2014, tph/(tph+hpt)). */
  corruption: Corruption;
  /** Redraw a negative that is a known training triple (OpenKE filter_flag). */
  filterNegatives: boolean;
  /** 'sgd' or 'adagrad' (row-wise accumulator, as DGL-KE): both sparse, per-triple updates. */
  optimizer: OptimizerKind;
  learningRate: number;
  /** Learning-rate schedule over all steps: 'constant', 'linear' or 'cosine' decay to `minLrRatio`. */
  lrSchedule: LrSchedule;
  /** Linear warm-up length, in epochs (may be fractional). */
  warmupEpochs: number;
  /** Final learning rate as a fraction of `learningRate` for 'linear' and 'cosine'. */
  minLrRatio: number;
  /** Entity renormalisation after each update: 'none', 'max' (project onto the unit ball) or 'unit' (unit sphere). */
  renorm: Renorm;
  /** L2 penalty coefficient lambda on every row a step touches (lambda * ||row||^2). */
  regularization: number;
  /** Uniform init range: values in [-initRange, initRange]; 0 picks 6 / sqrt(dim) (Bordes et al.). */
  initRange: number;
  epochs: number;
  /** Positive triples per step (the unit of work a worker claims, and of the lr schedule). */
  batchSize: number;
  /**
   * The order an epoch visits the triples in (`epoch_order.ts`). 'shuffled': one uniform
   * permutation, every negative drawn from all entities. 'head-blocks': seeded random blocks of
   * entities whose rows take `blockBytes`, visited one block of heads at a time (blocks in a
   * random order, triples shuffled within), fresh head-side negatives drawn from the head's block
   * (PyTorch-BigGraph's random partitions, head side only): the step stops waiting for memory on
   * graphs of millions of entities. 'auto': 'head-blocks' when the entity table exceeds 256 MiB.
   */
  epochOrder: EpochOrderKind;
  /** Bytes of entity rows in one head block (1 MiB, a core's L2 cache here: 2,621 entities at dim 100). */
  blockBytes: number;
  /** worker_threads for training and evaluation; 0 runs on the calling thread. 1 is bit-for-bit reproducible. */
  workers: number;
  seed: number;
  /** Validate every this many epochs (0: never). */
  evalEvery: number;
  /** Stop after this many validations without a better validation MRR (0: no early stopping). */
  patience: number;
  /** Validate on at most this many validation triples (a fixed seeded subset; 0: all). */
  evalMaxTriples: number;
  /** Write a checkpoint every this many epochs when a checkpoint folder is given (0: only at the end). */
  checkpointEvery: number;
  /** Checkpoint folders to keep. */
  keepCheckpoints: number;
}

export const DEFAULT_TRANSE_CONFIG: Readonly<TransEConfig> = Object.freeze({
  dim: 100,
  distance: 'L1',
  loss: 'margin',
  margin: 5,
  negatives: 8,
  sharedNegatives: 1,
  adversarialTemperature: 0,
  corruption: 'bernoulli',
  filterNegatives: true,
  optimizer: 'adagrad',
  learningRate: 0.1,
  lrSchedule: 'constant',
  warmupEpochs: 0,
  minLrRatio: 0.1,
  renorm: 'max',
  regularization: 0,
  initRange: 0,
  epochs: 100,
  batchSize: 1024,
  epochOrder: 'auto',
  blockBytes: 1024 * 1024,
  workers: 1,
  seed: 42,
  evalEvery: 0,
  patience: 0,
  evalMaxTriples: 0,
  checkpointEvery: 10,
  keepCheckpoints: 2,
} satisfies TransEConfig);

const ENUMS: Partial<Record<keyof TransEConfig, readonly string[]>> = {
  distance: ['L1', 'L2'],
  loss: ['margin', 'logsigmoid'],
  corruption: ['uniform', 'bernoulli'],
  optimizer: ['sgd', 'adagrad'],
  lrSchedule: ['constant', 'linear', 'cosine'],
  renorm: ['none', 'max', 'unit'],
  epochOrder: ['auto', 'shuffled', 'head-blocks'],
};

const POSITIVE_INTS: (keyof TransEConfig)[] = [
  'dim',
  'negatives',
  'sharedNegatives',
  'epochs',
  'batchSize',
  'blockBytes',
];
const NON_NEGATIVE_INTS: (keyof TransEConfig)[] = [
  'workers',
  'evalEvery',
  'patience',
  'evalMaxTriples',
  'checkpointEvery',
];
const NON_NEGATIVE_NUMBERS: (keyof TransEConfig)[] = [
  'margin',
  'adversarialTemperature',
  'warmupEpochs',
  'regularization',
  'initRange',
];

/** Copies `partial` over the defaults and checks every field; throws naming the bad field. */
export function validateTransEConfig(partial: Partial<TransEConfig> = {}): TransEConfig {
  if (partial === null || typeof partial !== 'object') {
    throw new TypeError('TransEConfig must be an object');
  }
  const known = new Set(Object.keys(DEFAULT_TRANSE_CONFIG));
  for (const key of Object.keys(partial)) {
    if (!known.has(key)) {
      throw new RangeError(
        `TransEConfig: unknown field '${key}' (allowed: ${[...known].join(', ')})`,
      );
    }
  }
  const c: TransEConfig = { ...DEFAULT_TRANSE_CONFIG, ...stripUndefined(partial) };
  for (const [key, allowed] of Object.entries(ENUMS)) {
    const v = c[key as keyof TransEConfig];
    if (!allowed?.includes(v as string)) {
      throw new RangeError(
        `TransEConfig.${key} must be one of ${allowed?.join(', ')}; got ${String(v)}`,
      );
    }
  }
  for (const key of POSITIVE_INTS) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new RangeError(`TransEConfig.${key} must be an integer >= 1; got ${String(v)}`);
    }
  }
  for (const key of NON_NEGATIVE_INTS) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new RangeError(`TransEConfig.${key} must be an integer >= 0; got ${String(v)}`);
    }
  }
  for (const key of NON_NEGATIVE_NUMBERS) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`TransEConfig.${key} must be a finite number >= 0; got ${String(v)}`);
    }
  }
  if (
    !(typeof c.learningRate === 'number' && Number.isFinite(c.learningRate) && c.learningRate > 0)
  ) {
    throw new RangeError(
      `TransEConfig.learningRate must be a finite number > 0; got ${String(c.learningRate)}`,
    );
  }
  if (!(typeof c.minLrRatio === 'number' && c.minLrRatio >= 0 && c.minLrRatio <= 1)) {
    throw new RangeError(`TransEConfig.minLrRatio must be in [0, 1]; got ${String(c.minLrRatio)}`);
  }
  if (typeof c.filterNegatives !== 'boolean') {
    throw new RangeError(
      `TransEConfig.filterNegatives must be a boolean; got ${String(c.filterNegatives)}`,
    );
  }
  if (!Number.isInteger(c.seed)) {
    throw new RangeError(`TransEConfig.seed must be an integer; got ${String(c.seed)}`);
  }
  if (c.keepCheckpoints < 1 || !Number.isInteger(c.keepCheckpoints)) {
    throw new RangeError(
      `TransEConfig.keepCheckpoints must be an integer >= 1; got ${c.keepCheckpoints}`,
    );
  }
  if (c.workers > 64) throw new RangeError(`TransEConfig.workers must be <= 64; got ${c.workers}`);
  return c;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o))
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * Named configurations.
 * - `tiny`: unit tests and smoke runs on toy graphs.
 * - `default`: ARTIST-style 100-d vectors (what gpt-knowl consumes).
 * - `fb15k237-best`: the best configuration found for FB15k-237 within 30 minutes on 2 cores
 *   (see the README's benchmark table).
 * - `wn18rr-best`: the same recipe tuned for WN18RR.
 */
export const PRESETS: Record<string, Partial<TransEConfig>> = {
  tiny: {
    dim: 16,
    negatives: 4,
    epochs: 50,
    batchSize: 32,
    learningRate: 0.05,
    margin: 2,
    checkpointEvery: 0,
  },
  default: {
    dim: 100,
    distance: 'L1',
    loss: 'logsigmoid',
    margin: 9,
    negatives: 32,
    sharedNegatives: 16,
    adversarialTemperature: 1,
    corruption: 'bernoulli',
    filterNegatives: true,
    optimizer: 'adagrad',
    learningRate: 0.1,
    lrSchedule: 'cosine',
    minLrRatio: 0.05,
    renorm: 'none',
    initRange: 0.11,
    epochs: 50,
    batchSize: 1024,
    workers: 2,
  },
  'fb15k237-best': {
    dim: 200,
    distance: 'L1',
    loss: 'logsigmoid',
    margin: 9,
    negatives: 32,
    sharedNegatives: 16,
    adversarialTemperature: 1,
    corruption: 'bernoulli',
    filterNegatives: true,
    optimizer: 'adagrad',
    learningRate: 0.1,
    lrSchedule: 'cosine',
    minLrRatio: 0.05,
    renorm: 'none',
    initRange: 0.055,
    epochs: 40,
    batchSize: 1024,
    workers: 2,
    evalEvery: 5,
    patience: 3,
    evalMaxTriples: 2000,
  },
  'wn18rr-best': {
    dim: 200,
    distance: 'L1',
    loss: 'logsigmoid',
    margin: 6,
    negatives: 32,
    sharedNegatives: 16,
    adversarialTemperature: 1,
    corruption: 'bernoulli',
    filterNegatives: true,
    optimizer: 'adagrad',
    learningRate: 0.1,
    lrSchedule: 'cosine',
    minLrRatio: 0.05,
    renorm: 'none',
    initRange: 0.04,
    epochs: 100,
    batchSize: 1024,
    workers: 2,
    evalEvery: 10,
    patience: 3,
    evalMaxTriples: 2000,
  },
};

/** A preset's full configuration, with `overrides` applied on top. */
export function presetConfig(name: string, overrides: Partial<TransEConfig> = {}): TransEConfig {
  const preset = PRESETS[name];
  if (!preset) {
    throw new RangeError(
      `unknown TransE preset '${name}' (available: ${Object.keys(PRESETS).join(', ')})`,
    );
  }
  return validateTransEConfig({ ...preset, ...overrides });
}

/** The run's learning-rate schedule in `@artist-ts/core/lr-schedule` terms (steps are positive batches). */
export function transESchedule(
  c: Pick<TransEConfig, 'learningRate' | 'lrSchedule' | 'minLrRatio'>,
  totalSteps: number,
  warmupSteps: number,
): CoreLrSchedule {
  return {
    peak: c.learningRate,
    kind: c.lrSchedule,
    warmupSteps,
    totalSteps,
    minRatio: c.minLrRatio,
  };
}

/**
 * Learning rate of 0-based step `step`: the core schedule at update step + 1, with decay counted
 * from the first step after warm-up (`decayOffset` -1), the numbers this package has always used.
 */
export function stepLearningRate(schedule: CoreLrSchedule, step: number): number {
  return learningRateAt(schedule, step + 1, -1);
}
