/**
 * Training: one-step function and a trainer with AdamW (warm-up then linear decay), global-norm
 * gradient clipping, optional text dropout (for classifier-free guidance), and `fit` on the shared
 * training-loop surface (`@artist-ts/core/train-loop`): progress callbacks, periodic checkpoints,
 * stop through an AbortSignal and exact resume (weights, AdamW slots, step, data position, RNG
 * streams).
 */

import os from 'node:os';
import { resolveCheckpointDir } from '@artist-ts/core/checkpoint-files';
import { type LrSchedule, learningRateAt, validateLrSchedule } from '@artist-ts/core/lr-schedule';
import {
  type TrainLoopOptions,
  type TrainLoopResult,
  validateTrainLoopOptions,
} from '@artist-ts/core/train-loop';
import {
  AdamW,
  assignWeights,
  clipScale,
  globalNorm,
  leanVariableGrads,
  loadCheckpoint,
  Rng,
  restoreOptimizer,
  runtimeInfo,
  saveCheckpoint,
} from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { attachedFacts, type BatchDropout, type GptExample, makeTrainBatch } from './batch';
import {
  frozenParameters,
  type GptConfig,
  type PresetName,
  parameterSpecs,
  validateGptConfig,
} from './config';
import { disposeKnowledge, knowledgeTensors } from './fusion';
import type { EntityTable } from './knowledge';
import { LoraAdapters, type LoraConfig, validateLoraConfig } from './lora';
import { KnowlGpt } from './model';
import {
  backendMemoryLimit,
  checkTrainingMemory,
  fewestRecomputedBlocks,
  type MemoryLimit,
  type TrainingMemoryOptions,
} from './training_memory';

export interface TrainConfig {
  /** Peak learning rate. */
  learningRate: number;
  /** Warm-up steps; null means warmupProportion * totalSteps (EasyNLP: 10 %). */
  warmupSteps: number | null;
  warmupProportion: number;
  /** Length of the schedule: the rate decays linearly to 0 at this step. */
  totalSteps: number;
  beta1: number;
  beta2: number;
  /** AdamW epsilon (EasyNLP: 1e-6). */
  epsilon: number;
  /** Decoupled weight decay on linear/embedding matrices (never on biases, LayerNorm, pos_emb). */
  weightDecay: number;
  /** Global gradient-norm clip (0 disables). */
  gradClip: number;
  /** Examples per forward/backward pass (EasyNLP's micro_batch_size). */
  batchSize: number;
  /**
   * Micro-batches whose gradients are summed before one update: the effective batch is
   * batchSize * gradAccumSteps, whatever batchSize (memory) allows.
   */
  gradAccumSteps: number;
  /**
   * Parameter groups left untouched (no gradient, no optimizer state): `embeddings`, `blocks`,
   * `blocks.N`, `blocks.A-B`, `ln_f`, `head`, `ent_emb`, or any parameter name or dotted prefix
   * (`frozenParameters`).
   */
  freeze: string[];
  /**
   * LoRA adapters (`LoraConfig`: rank, alpha, targets) instead of full fine-tuning: only the
   * adapters train, every base weight is frozen (no optimizer state); `mergeAdapters()` folds them
   * into plain weights. null: full fine-tuning.
   */
  lora: Partial<LoraConfig> | null;
  /**
   * Activation checkpointing: how many blocks (from the first) keep only their input for the
   * backward pass and run again during it, trading one more forward pass of those blocks for
   * their activations (same losses and gradients). `auto` (default): the fewest that let the
   * micro-batch fit the memory limit (0 when it fits as it is, or with no limit).
   */
  recomputeBlocks: number | 'auto';
  /**
   * Probability of replacing an example's text by padding (classifier-free guidance). Its entity
   * vectors go with it unless `knowledgeDropout` is a number.
   */
  textDropout: number;
  /**
   * Probability of removing an example's entity vectors, drawn independently of `textDropout`
   * (knowledge-aware guidance: the model learns text alone, entities alone, both and neither).
   * null (default): the entity vectors are removed exactly when the text is.
   */
  knowledgeDropout: number | null;
  /**
   * Probability of training an example on the knowledge attached to its entities alone: its text
   * and its matched entities' own vectors are removed, the vectors of what the graph says about
   * them (one-hop expansion, `GptExample.matchedEntities`) are kept. Only the attributes can then
   * explain the image, so the model learns them rather than each seen entity as a whole (what an
   * entity never seen in training can transfer). 0 (default): off.
   */
  attributeDropout: number;
  /**
   * Probability of training an example on one fact of its entities (`abstractExample`): the
   * matched names become padding, their own vectors are removed, and one of the facts attached to
   * them (one-hop expansion), drawn uniformly, or none of them (1 chance in facts + 1), is kept.
   * These are the conditionals that compositional sampling (`SampleConfig.composeScale`) multiplies.
   * Examples without attached facts are left as they are. 0 (default): off.
   */
  factDropout: number;
  /** Seed of the data order, text-dropout and dropout streams. */
  seed: number;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  learningRate: 3e-4,
  warmupSteps: null,
  warmupProportion: 0.1,
  totalSteps: 1000,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-6,
  weightDecay: 0.01,
  gradClip: 1.0,
  batchSize: 8,
  gradAccumSteps: 1,
  freeze: [],
  lora: null,
  recomputeBlocks: 'auto',
  textDropout: 0,
  knowledgeDropout: null,
  attributeDropout: 0,
  factDropout: 0,
  seed: 42,
};

export function validateTrainConfig(
  config: Partial<TrainConfig> = {},
  where = 'TrainConfig',
): TrainConfig {
  const out: TrainConfig = { ...DEFAULT_TRAIN_CONFIG };
  for (const [k, v] of Object.entries(config)) {
    if (!(k in DEFAULT_TRAIN_CONFIG)) {
      throw new Error(
        `${where}.${k} is not a training option; allowed: ${Object.keys(DEFAULT_TRAIN_CONFIG).join(', ')}`,
      );
    }
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  const num = (f: keyof TrainConfig, ok: (x: number) => boolean, rule: string) => {
    const x = out[f] as number;
    if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) {
      throw new Error(`${where}.${f} ${rule}, got ${JSON.stringify(out[f])}`);
    }
  };
  num('learningRate', (x) => x >= 0, 'must be a number >= 0');
  num('warmupProportion', (x) => x >= 0 && x <= 1, 'must be in [0, 1]');
  num('totalSteps', (x) => Number.isInteger(x) && x > 0, 'must be a positive integer');
  num('beta1', (x) => x >= 0 && x < 1, 'must be in [0, 1)');
  num('beta2', (x) => x >= 0 && x < 1, 'must be in [0, 1)');
  num('epsilon', (x) => x > 0, 'must be > 0');
  num('weightDecay', (x) => x >= 0, 'must be >= 0');
  num('gradClip', (x) => x >= 0, 'must be >= 0 (0 disables clipping)');
  num('batchSize', (x) => Number.isInteger(x) && x > 0, 'must be a positive integer');
  num('gradAccumSteps', (x) => Number.isInteger(x) && x > 0, 'must be a positive integer');
  if (out.lora !== null) out.lora = validateLoraConfig(out.lora, `${where}.lora`);
  if (!Array.isArray(out.freeze) || out.freeze.some((g) => typeof g !== 'string' || g === '')) {
    throw new Error(
      `${where}.freeze must be an array of parameter-group names, got ${JSON.stringify(out.freeze)}`,
    );
  }
  if (out.recomputeBlocks !== 'auto') {
    num(
      'recomputeBlocks',
      (x) => Number.isInteger(x) && x >= 0,
      "must be 'auto' or an integer >= 0",
    );
  }
  num('textDropout', (x) => x >= 0 && x < 1, 'must be in [0, 1)');
  if (out.knowledgeDropout !== null) {
    num('knowledgeDropout', (x) => x >= 0 && x < 1, 'must be in [0, 1) or null');
  }
  num('attributeDropout', (x) => x >= 0 && x < 1, 'must be in [0, 1)');
  num('factDropout', (x) => x >= 0 && x < 1, 'must be in [0, 1)');
  num('seed', (x) => Number.isInteger(x), 'must be an integer');
  if (out.warmupSteps !== null) {
    num('warmupSteps', (x) => Number.isInteger(x) && x >= 0, 'must be an integer >= 0 or null');
  }
  return out;
}

/**
 * The learning-rate schedule of a training config: linear warm-up to `learningRate` over
 * `warmupSteps` (or `warmupProportion` of `totalSteps`), then linear decay to 0 at `totalSteps`
 * (EasyNLP / HF `linear`).
 */
export function trainSchedule(c: TrainConfig): LrSchedule {
  return validateLrSchedule(
    {
      peak: c.learningRate,
      kind: 'linear',
      warmupSteps: c.warmupSteps ?? Math.round(c.warmupProportion * c.totalSteps),
      totalSteps: c.totalSteps,
      minRatio: 0,
    },
    'TrainConfig',
  );
}

export interface StepMetrics {
  /** Updates applied so far (this one included). */
  step: number;
  epoch: number;
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  learningRate: number;
  /** Wall time of this step in milliseconds. */
  stepMs: number;
}

/** `GptTrainer.fit` options: the shared training-loop options plus validation. */
export interface FitOptions extends TrainLoopOptions<StepMetrics> {
  /** Validation examples: mean image-code cross-entropy every `evalEvery` updates and at the end. */
  evalData?: readonly GptExample[];
  evalEvery?: number;
  /** Called with each validation loss (`best` is the lowest so far, this one included). */
  onEval?: (e: { step: number; loss: number; best: number }) => void | Promise<void>;
}

/** What `GptTrainer.fit` resolves to. */
export interface FitResult extends TrainLoopResult<StepMetrics> {
  /** Every update of this call, in order. */
  history: StepMetrics[];
  /** Completed passes over the data set. */
  epoch: number;
  /** Lowest validation loss seen (also across a resume), if any. */
  bestMetric: number | undefined;
}

export interface TrainerOptions {
  /** The frozen TransE table used by lattices (needed for knowledge fusion). */
  entityTable?: EntityTable;
  /**
   * What a training step may use; checked before the first step (`checkTrainingMemory`), which
   * throws a TrainingMemoryError naming the need, the limit and the largest micro-batch that fits.
   * Default: the backend's (`backendMemoryLimit`: 76 % of the wasm heap's 4 GiB, or the machine's
   * memory on cpu); null skips the check.
   */
  memoryLimit?: MemoryLimit | null;
}

/** Trains a KnowlGpt on in-memory examples. Owns its optimizer: call `dispose()`. */
export class GptTrainer {
  readonly model: KnowlGpt;
  readonly config: TrainConfig;
  /** The learning rate of each update (`trainSchedule(config)`). */
  readonly schedule: LrSchedule;
  readonly optimizer: AdamW;
  /** Completed passes over the data set. */
  epoch = 0;
  /** Position inside the current epoch's permutation. */
  cursor = 0;
  /** Lowest validation loss seen (stored in checkpoints as bestMetric). */
  bestMetric: number | undefined;
  private readonly entityTable?: EntityTable;
  private readonly textRng: Rng;
  private readonly dropoutRng: Rng;
  private readonly varByTfName = new Map<string, string>();
  /** The variables that train (every one not frozen by `config.freeze`). */
  private readonly trainable: tf.Variable[];
  /** Names of the frozen parameters (every model parameter with LoRA). */
  readonly frozen: ReadonlySet<string>;
  /** The LoRA adapters being trained (`config.lora`), or null. */
  readonly lora: LoraAdapters | null;
  /** What the optimizer updates and checkpoints hold: the model's variables and the adapters'. */
  private readonly allVariables: Record<string, tf.Variable>;
  private order: Uint32Array | null = null;
  private orderKey = '';
  private readonly memoryLimit: MemoryLimit | null | undefined;
  private memoryChecked = false;
  private recompute = 0;

  constructor(model: KnowlGpt, config: Partial<TrainConfig> = {}, options: TrainerOptions = {}) {
    this.model = model;
    this.config = validateTrainConfig(config);
    this.schedule = trainSchedule(this.config);
    this.entityTable = options.entityTable;
    this.memoryLimit = options.memoryLimit;
    const decayed = new Set(
      parameterSpecs(model.config)
        .filter((s) => s.decay)
        .map((s) => s.name),
    );
    this.optimizer = new AdamW({
      learningRate: this.config.learningRate,
      beta1: this.config.beta1,
      beta2: this.config.beta2,
      epsilon: this.config.epsilon,
      weightDecay: this.config.weightDecay,
      decay: (name) => decayed.has(name),
    });
    this.textRng = new Rng(`gpt-knowl/text-dropout/${this.config.seed}`);
    this.dropoutRng = new Rng(`gpt-knowl/dropout/${this.config.seed}`);
    this.lora = this.config.lora
      ? new LoraAdapters(model, this.config.lora, String(this.config.seed))
      : null;
    this.frozen = this.lora
      ? new Set(Object.keys(model.variables))
      : frozenParameters(model.config, this.config.freeze, 'TrainConfig.freeze');
    this.allVariables = { ...model.variables, ...this.lora?.variables };
    this.trainable = [];
    for (const [name, v] of Object.entries(this.allVariables)) {
      this.varByTfName.set(v.name, name);
      if (!this.frozen.has(name)) this.trainable.push(v);
    }
  }

  /** Folds the LoRA adapters (if any) into the model's weights: a plain model for sampling and export. */
  mergeAdapters(): void {
    this.lora?.merge();
  }

  /** Examples per update: batchSize * gradAccumSteps. */
  get effectiveBatchSize(): number {
    return this.config.batchSize * this.config.gradAccumSteps;
  }

  /** Updates applied so far. */
  get step(): number {
    return this.optimizer.step;
  }

  /** The next `effectiveBatchSize` examples in a seeded per-epoch permutation (advances the cursor). */
  nextBatch(dataset: readonly GptExample[]): GptExample[] {
    if (dataset.length === 0) throw new Error('GptTrainer: empty data set');
    const out: GptExample[] = [];
    while (out.length < this.effectiveBatchSize) {
      const key = `${dataset.length}/${this.epoch}`;
      if (this.orderKey !== key) {
        this.order = new Rng(`gpt-knowl/data/${this.config.seed}/${this.epoch}`).permutation(
          dataset.length,
        );
        this.orderKey = key;
      }
      out.push(dataset[this.order![this.cursor]]);
      this.cursor++;
      if (this.cursor >= dataset.length) {
        this.cursor = 0;
        this.epoch++;
      }
    }
    return out;
  }

  /** What `estimateTrainingMemory` needs to know about this trainer on the current backend. */
  memoryOptions(): TrainingMemoryOptions {
    const backend = tf.getBackend();
    const info = runtimeInfo();
    return {
      fusedKernels: info?.nativeKernels === true && info.backend === backend,
      freeze: this.config.freeze,
      lora: this.lora?.config ?? null,
      recomputeBlocks: this.recompute,
    };
  }

  /**
   * Blocks whose activations are recomputed (`TrainConfig.recomputeBlocks`, resolved against the
   * memory limit before the first step).
   */
  get recomputeBlocks(): number {
    this.checkMemory();
    return this.recompute;
  }

  /**
   * Resolves `recomputeBlocks` and refuses a micro-batch that cannot fit in the backend's memory
   * (once, before the first step): a clear TrainingMemoryError instead of a wasm crash mid-run.
   */
  private checkMemory(): void {
    if (this.memoryChecked) return;
    const c = this.model.config;
    const limit =
      this.memoryLimit === undefined
        ? backendMemoryLimit(tf.getBackend(), os.totalmem())
        : this.memoryLimit;
    const wanted = this.config.recomputeBlocks;
    if (wanted !== 'auto') this.recompute = Math.min(wanted, c.nLayer);
    else if (limit) {
      const fits = fewestRecomputedBlocks(c, this.config.batchSize, limit.bytes, {
        ...this.memoryOptions(),
      });
      this.recompute = fits ?? c.nLayer;
    }
    if (limit) checkTrainingMemory(c, this.config.batchSize, limit, this.memoryOptions());
    this.memoryChecked = true;
  }

  /**
   * Text, knowledge and attribute dropout of the next `n` examples, from the text-dropout stream:
   * one draw per example for the text, one more for its entities when `knowledgeDropout` is set,
   * one more for attributes-only when `attributeDropout` is above 0, one more (and the fact's
   * draw) when `factDropout` is (so a config without an option draws exactly what it drew before
   * the option existed).
   */
  private drawDropout(examples: readonly GptExample[]): Required<Omit<BatchDropout, 'where'>> {
    const pt = this.config.textDropout;
    const pk = this.config.knowledgeDropout;
    const pa = this.config.attributeDropout;
    const pf = this.config.factDropout;
    const dropText: boolean[] = [];
    const dropKnowledge: boolean[] = [];
    const attributesOnly: boolean[] = [];
    const oneFact: (number | null)[] = [];
    for (const ex of examples) {
      const t = pt > 0 && this.textRng.uniform() < pt;
      dropText.push(t);
      dropKnowledge.push(pk === null ? t : pk > 0 && this.textRng.uniform() < pk);
      attributesOnly.push(pa > 0 && this.textRng.uniform() < pa);
      let fact: number | null = null;
      if (pf > 0 && this.textRng.uniform() < pf) {
        const n = attachedFacts(ex);
        fact = this.textRng.int(n + 1);
        if (n === 0) fact = null;
      }
      oneFact.push(fact);
    }
    return { dropText, dropKnowledge, attributesOnly, oneFact };
  }

  /**
   * One AdamW update on `examples`, in micro-batches of `batchSize` whose gradients are summed
   * (each weighted by its share of the examples, so the update is the one of a single batch).
   */
  async trainStep(examples: readonly GptExample[]): Promise<StepMetrics> {
    this.checkMemory();
    const t0 = performance.now();
    const c = this.model.config;
    const { dropText, dropKnowledge, attributesOnly, oneFact } = this.drawDropout(examples);
    const lr = learningRateAt(this.schedule, this.step + 1);
    this.optimizer.learningRate = lr;
    const L = c.textLen + c.imageLen - 1;
    const micro = this.config.batchSize;
    let sum: Record<string, tf.Tensor> = {};
    let lossValue = 0;
    try {
      for (let start = 0; start < examples.length; start += micro) {
        const part = examples.slice(start, start + micro);
        const share = part.length / examples.length;
        const batch = makeTrainBatch(c, part, this.entityTable, {
          dropText: dropText.slice(start, start + micro),
          dropKnowledge: dropKnowledge.slice(start, start + micro),
          attributesOnly: attributesOnly.slice(start, start + micro),
          oneFact: oneFact.slice(start, start + micro),
        });
        const dropoutSeed = this.dropoutRng.nextUint32();
        const { loss, next } = tf.tidy(() => {
          const tokens = tf.tensor2d(batch.tokens, [batch.batch, L], 'int32');
          const targets = tf.tensor2d(batch.targets, [batch.batch, c.imageLen], 'int32');
          const knowledge = batch.knowledge ? knowledgeTensors(batch.knowledge, c) : null;
          const loss = () =>
            this.model.loss(tokens, targets, {
              knowledge,
              training: true,
              dropoutSeed,
              recomputeBlocks: this.recompute,
              fusedHead: true,
            });
          // frees each activation and gradient once the backward pass is past it
          const { value, grads } = leanVariableGrads(
            () => (this.lora ? this.lora.run(loss) : loss()),
            this.trainable,
          );
          const next: Record<string, tf.Tensor> = {};
          for (const [tfName, g] of Object.entries(grads)) {
            const name = this.varByTfName.get(tfName);
            if (!name) continue;
            const scaled = share === 1 ? g : tf.mul(g, share);
            next[name] = sum[name] ? tf.add(sum[name], scaled) : scaled;
          }
          disposeKnowledge(knowledge);
          return { loss: value, next };
        });
        tf.dispose(Object.values(sum));
        sum = next;
        lossValue += (await loss.data())[0] * share;
        loss.dispose();
      }
      // gradClip 0 disables clipping; the norm is still reported. The clip factor is applied one
      // parameter at a time inside the update (no clipped copy of every gradient).
      const norm = globalNorm(sum);
      const clip = this.config.gradClip > 0 ? this.config.gradClip : Number.POSITIVE_INFINITY;
      this.optimizer.applyGradients(this.allVariables, sum, { gradScale: clipScale(norm, clip) });
      return {
        step: this.step,
        epoch: this.epoch,
        loss: lossValue,
        gradNorm: norm,
        learningRate: lr,
        stepMs: performance.now() - t0,
      };
    } finally {
      tf.dispose(Object.values(sum));
    }
  }

  /**
   * Trains until `options.steps` updates in all (default: `totalSteps`), on the shared
   * training-loop surface: with `checkpointDir` it first resumes from the newest checkpoint there
   * (unless `resume: false`), saves every `checkpointEvery` updates, at the end and when stopped
   * through `signal` (then it resolves with `aborted: true`; running it again continues exactly).
   */
  async fit(dataset: readonly GptExample[], options: FitOptions = {}): Promise<FitResult> {
    const where = 'GptTrainer.fit';
    // (the shared validator is typed for `TrainLoopOptions<unknown>`, whose onStep takes unknown)
    validateTrainLoopOptions(options, where);
    if (options.epochs !== undefined) {
      throw new RangeError(`${where}: 'epochs' is not supported; the GPT trainer counts 'steps'`);
    }
    const evalEvery = options.evalEvery ?? 0;
    if (!(Number.isInteger(evalEvery) && evalEvery >= 0)) {
      throw new RangeError(
        `${where}: 'evalEvery' must be an integer >= 0; got ${JSON.stringify(evalEvery)}`,
      );
    }
    const target = options.steps ?? this.config.totalSteps;
    if (target > this.config.totalSteps) {
      throw new RangeError(
        `${where}: 'steps' (${target}) is past the schedule's totalSteps (${this.config.totalSteps}), where the learning rate reaches 0`,
      );
    }
    this.checkMemory();
    const root = options.checkpointDir;
    if (root && options.resume !== false && resolveCheckpointDir(root)) await this.restore(root);
    const every = options.checkpointEvery ?? 0;
    const history: StepMetrics[] = [];
    let checkpoint: string | null = null;
    let savedAt = -1;
    let evaluatedAt = -1;
    const save = async () => {
      checkpoint = await this.save(root!, { keepLast: options.keepLast });
      savedAt = this.step;
      await options.onCheckpoint?.({ dir: checkpoint, step: this.step });
    };
    const evaluate = async () => {
      if (!options.evalData || options.evalData.length === 0 || evaluatedAt === this.step) return;
      const score = () =>
        evaluateLoss(this.model, options.evalData!, {
          batchSize: this.config.batchSize,
          entityTable: this.entityTable,
        });
      const loss = await (this.lora ? this.lora.runAsync(score) : score());
      evaluatedAt = this.step;
      if (this.bestMetric === undefined || loss < this.bestMetric) this.bestMetric = loss;
      await options.onEval?.({ step: this.step, loss, best: this.bestMetric });
    };
    while (this.step < target && !options.signal?.aborted) {
      const m = await this.trainStep(this.nextBatch(dataset));
      history.push(m);
      await options.onStep?.(m);
      if (evalEvery > 0 && this.step % evalEvery === 0) await evaluate();
      if (root && every > 0 && this.step % every === 0) await save();
    }
    const aborted = this.step < target;
    if (history.length > 0 && !aborted) await evaluate();
    if (root && history.length > 0 && savedAt !== this.step) await save();
    return {
      step: this.step,
      aborted,
      last: history.at(-1) ?? null,
      checkpoint,
      history,
      epoch: this.epoch,
      bestMetric: this.bestMetric,
    };
  }

  /** Writes weights, AdamW slots and the full trainer state as `root/step-N`. */
  async save(
    root: string,
    options: { keepLast?: number; metadata?: Record<string, unknown> } = {},
  ): Promise<string> {
    return saveCheckpoint(
      root,
      {
        weights: this.allVariables,
        optimizer: this.optimizer,
        state: {
          step: this.step,
          epoch: this.epoch,
          dataCursor: this.cursor,
          bestMetric: this.bestMetric,
          rng: { textDropout: this.textRng.getState(), dropout: this.dropoutRng.getState() },
          config: { model: this.model.config, train: this.config },
        },
        metadata: { ...gptMetadata(this.model.config), ...options.metadata },
      },
      { keepLast: options.keepLast },
    );
  }

  /** Restores weights, optimizer, step, data position and RNG streams from a checkpoint. */
  async restore(pathOrRoot: string): Promise<void> {
    const ck = await loadCheckpoint(pathOrRoot);
    try {
      assignWeights(this.allVariables, ck.weights, { source: ck.dir });
    } finally {
      tf.dispose(Object.values(ck.weights));
    }
    await restoreOptimizer(this.optimizer, ck.state);
    if (this.optimizer.step !== ck.state.step) {
      throw new Error(
        `${ck.dir}: optimizer step ${this.optimizer.step} disagrees with trainer step ${ck.state.step}`,
      );
    }
    this.epoch = ck.state.epoch;
    this.cursor = ck.state.dataCursor;
    this.bestMetric = ck.state.bestMetric;
    const rng = ck.state.rng;
    if (rng.textDropout) this.textRng.setState(rng.textDropout);
    if (rng.dropout) this.dropoutRng.setState(rng.dropout);
    this.orderKey = '';
  }

  dispose(): void {
    this.optimizer.dispose();
    this.lora?.dispose();
  }
}

/**
 * Mean image-code cross-entropy of `examples` (no gradients, no dropout, no text dropout), as
 * EasyNLP's evaluator reports it.
 */
export async function evaluateLoss(
  model: KnowlGpt,
  examples: readonly GptExample[],
  options: { batchSize?: number; entityTable?: EntityTable } = {},
): Promise<number> {
  const c = model.config;
  const bs = options.batchSize ?? 8;
  if (examples.length === 0) throw new Error('evaluateLoss: no examples');
  const L = c.textLen + c.imageLen - 1;
  let total = 0;
  for (let i = 0; i < examples.length; i += bs) {
    const chunk = examples.slice(i, i + bs);
    const batch = makeTrainBatch(c, chunk, options.entityTable, { where: `eval[${i}..]` });
    const loss = tf.tidy(() => {
      const tokens = tf.tensor2d(batch.tokens, [batch.batch, L], 'int32');
      const targets = tf.tensor2d(batch.targets, [batch.batch, c.imageLen], 'int32');
      const knowledge = batch.knowledge ? knowledgeTensors(batch.knowledge, c) : null;
      return model.loss(tokens, targets, { knowledge });
    });
    total += (await loss.data())[0] * chunk.length;
    loss.dispose();
  }
  return total / examples.length;
}

/** Metadata stored in model.json so `loadGpt` can rebuild the model. */
export function gptMetadata(config: GptConfig): Record<string, unknown> {
  return { modelClass: 'KnowlGpt', gptConfig: config };
}

/** Saves model weights only (no optimizer), e.g. for release. */
export async function saveGpt(
  model: KnowlGpt,
  root: string,
  options: { keepLast?: number; step?: number } = {},
): Promise<string> {
  return saveCheckpoint(
    root,
    {
      weights: model.variables,
      state: { step: options.step ?? 0, config: { model: model.config } },
      metadata: gptMetadata(model.config),
    },
    { keepLast: options.keepLast },
  );
}

/** Loads a model saved by `saveGpt` or `GptTrainer.save` (config from its metadata). */
export async function loadGpt(
  pathOrRoot: string,
  overrides: Partial<GptConfig> & { preset?: PresetName } = {},
): Promise<KnowlGpt> {
  const ck = await loadCheckpoint(pathOrRoot);
  try {
    const stored = ck.metadata?.gptConfig as Partial<GptConfig> | undefined;
    if (!stored) {
      throw new Error(
        `${ck.dir}: model.json metadata has no gptConfig (not a gpt-knowl checkpoint)`,
      );
    }
    const config = validateGptConfig({ ...stored, ...overrides }, `${ck.dir} gptConfig`);
    return new KnowlGpt(config, { weights: { tensors: ck.weights, source: ck.dir } });
  } finally {
    tf.dispose(Object.values(ck.weights));
  }
}
