/**
 * VQGAN training (taming's VQModel + VQLPIPSWithDiscriminator) with codebook health: the loop,
 * checkpoints and resume. The configuration lives in train_config.ts, the generator objective and
 * taming's adaptive GAN weight in vq_loss.ts.
 *
 * Generator step: vq_loss's objective; discriminator step: discFactor * hinge(D(x), D(sg x^)).
 * Two Adam optimizers (taming: betas 0.5, 0.9), the runtime's AdamW with weight decay 0, whose
 * moments stay on the backend.
 *
 * Codebook health: per-epoch usage and perplexity, dead-code restart from a reservoir of recent
 * encoder outputs every `restartEvery` steps, optional k-means initialisation.
 *
 * Resume is exact: weights, both optimizers' slots, RNG streams, the data position, usage counts
 * and the latent reservoir are all in the checkpoint.
 */
import fs from 'node:fs';
import {
  type CheckpointReader,
  type CheckpointTensor,
  openCheckpoint,
  resolveCheckpointDir,
  type StoredTensor,
} from '@artist-ts/core/checkpoint-files';
import { Rng } from '@artist-ts/core/rng';
import {
  type TrainLoopOptions,
  type TrainLoopResult,
  validateTrainLoopOptions,
} from '@artist-ts/core/train-loop';
import type { RawTensor, TrainerState } from '@artist-ts/core/trainer-state';
import {
  AdamW,
  deferredTensor,
  explainWasmAbort,
  leanVariableGrads,
  rawToTensor,
  readStoredTensor,
} from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import {
  type CodebookStats,
  codebookStats,
  countCodes,
  kmeans,
  LatentReservoir,
  restartDeadCodes,
} from './codebook';
import type { ImageDataset } from './dataset';
import { hingeDLoss, NLayerDiscriminator } from './discriminator';
import { toModelInput } from './images';
import type { PerceptualLoss } from './lpips';
import { type VqganTrainConfig, validateVqganTrainConfig, vqganLrScale } from './train_config';
import {
  adaptiveGanWeight,
  type GeneratorLosses,
  generatorLosses,
  identityHook,
  readLosses,
  stackLosses,
} from './vq_loss';
import { Vqgan } from './vqgan';

/** What one optimizer step measured. */
export interface StepMetrics {
  step: number;
  epoch: number;
  /** Generator objective (nll + codebook + weighted GAN term). */
  loss: number;
  nll: number;
  l1: number;
  l2: number;
  perceptual: number | null;
  /** Quantizer loss (codebook + commitment, beta-weighted). */
  qLoss: number;
  codebookLoss: number;
  commitLoss: number;
  /** Generator GAN loss -mean D(x^) (null before discStart). */
  gLoss: number | null;
  /** Adaptive GAN weight lambda (null before discStart). */
  discWeight: number | null;
  dLoss: number | null;
  logitsReal: number | null;
  logitsFake: number | null;
  /** Generator learning rate used by this step (after any decay). */
  learningRate: number;
  /** Distinct codes in this batch. */
  batchCodes: number;
  /** Codes restarted after this step. */
  restarted: number;
}

export interface EpochStats extends CodebookStats {
  epoch: number;
  step: number;
}

/** `fit`'s options: the shared training-loop surface, plus per-epoch codebook statistics. */
export interface VqganFitOptions extends TrainLoopOptions<StepMetrics> {
  onEpoch?: (s: EpochStats) => void | Promise<void>;
}

/** What `fit` resolves to: the shared result, plus the epoch the trainer is in. */
export interface VqganFitResult extends TrainLoopResult<StepMetrics> {
  epoch: number;
}

export interface TrainerOptions {
  perceptualLoss?: PerceptualLoss;
}

const TRAINER_PREFIX = 'trainer.';

export class VqganTrainer {
  readonly config: VqganTrainConfig;
  readonly model: Vqgan;
  readonly discriminator: NLayerDiscriminator | null;
  readonly dataset: ImageDataset;
  private readonly perceptual: PerceptualLoss | null;
  private readonly genOpt: AdamW;
  private readonly discOpt: AdamW | null;
  private readonly genVars: Record<string, tf.Variable>;
  private readonly discVars: Record<string, tf.Variable>;
  private readonly engineToName = new Map<string, string>();
  /** Optimizer steps taken. */
  step = 0;
  epoch = 0;
  /** Batches consumed in the current epoch. */
  cursor = 0;
  private epochCounts: Float64Array;
  private restartCounts: Float64Array;
  private readonly reservoir: LatentReservoir;
  private readonly rngRestart: Rng;
  private readonly rngReservoir: Rng;
  private readonly rngKmeans: Rng;
  private kmeansDone = false;
  private order: Uint32Array | null = null;
  private orderEpoch = -1;

  constructor(
    model: Vqgan,
    dataset: ImageDataset,
    config: Partial<VqganTrainConfig> = {},
    options: TrainerOptions = {},
  ) {
    this.config = validateVqganTrainConfig(config);
    this.model = model;
    this.dataset = dataset;
    const mc = model.config;
    if (dataset.channels !== mc.inChannels) {
      throw new Error(
        `VqganTrainer: dataset has ${dataset.channels} channels, the model expects ${mc.inChannels}`,
      );
    }
    if (dataset.size < this.config.batchSize) {
      throw new Error(
        `VqganTrainer: dataset has ${dataset.size} images, fewer than batchSize ${this.config.batchSize}`,
      );
    }
    this.perceptual = options.perceptualLoss ?? null;
    const seed = String(this.config.seed);
    this.rngRestart = new Rng(`${seed}/restart`);
    this.rngReservoir = new Rng(`${seed}/reservoir`);
    this.rngKmeans = new Rng(`${seed}/kmeans`);
    this.genVars = {};
    for (const [name, v] of model.store.entries()) {
      if (!v.trainable) continue;
      this.genVars[name] = v;
      this.engineToName.set(v.name, name);
    }
    const { beta1, beta2 } = this.config;
    // Adam = AdamW without weight decay (taming's torch.optim.Adam, eps 1e-8).
    const adam = (learningRate: number) =>
      new AdamW({ learningRate, beta1, beta2, epsilon: 1e-8, weightDecay: 0 });
    this.genOpt = adam(this.config.learningRate);
    this.discVars = {};
    if (this.config.disc) {
      this.discriminator = new NLayerDiscriminator(
        { ...this.config.discriminator, inChannels: mc.inChannels },
        `${seed}/disc-init`,
      );
      for (const [name, v] of this.discriminator.store.entries()) {
        if (!v.trainable) continue;
        this.discVars[name] = v;
        this.engineToName.set(v.name, name);
      }
      this.discOpt = adam(this.config.discLearningRate);
    } else {
      this.discriminator = null;
      this.discOpt = null;
    }
    this.epochCounts = new Float64Array(mc.nEmbed);
    this.restartCounts = new Float64Array(mc.nEmbed);
    this.reservoir = new LatentReservoir(this.config.reservoirSize, mc.embedDim);
  }

  /** Full batches per epoch (the last partial batch is dropped). */
  get stepsPerEpoch(): number {
    return Math.floor(this.dataset.size / this.config.batchSize);
  }

  /** Usage and perplexity of the current (partial) epoch. */
  currentEpochStats(): CodebookStats {
    return codebookStats(this.epochCounts);
  }

  private epochOrder(): Uint32Array {
    if (this.orderEpoch !== this.epoch || !this.order) {
      // Each epoch's order depends only on the seed and the epoch: nothing to store for resume.
      this.order = new Rng(`${String(this.config.seed)}/data/epoch-${this.epoch}`).permutation(
        this.dataset.size,
      );
      this.orderEpoch = this.epoch;
    }
    return this.order;
  }

  /** Dataset indices of the batch the next step will use. */
  peekBatchIndices(): number[] {
    const order = this.epochOrder();
    const b = this.config.batchSize;
    return Array.from(order.subarray(this.cursor * b, (this.cursor + 1) * b));
  }

  /** k-means initialisation of the codebook from `kmeansBatches` random batches (encoder outputs). */
  initCodebookKmeans(): void {
    const { batchSize, kmeansBatches, kmeansIterations } = this.config;
    const d = this.model.config.embedDim;
    const chunks: Float32Array[] = [];
    for (let i = 0; i < kmeansBatches; i++) {
      const idx = Array.from({ length: batchSize }, () => this.rngKmeans.int(this.dataset.size));
      const x = toModelInput(
        this.dataset.batch(idx),
        this.model.config.inChannels,
        'dataset batch',
      );
      const ze = this.model.encodeLatents(x);
      chunks.push(Float32Array.from(ze.dataSync() as Float32Array));
      tf.dispose([x, ze]);
    }
    const all = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.length;
    }
    const centroids = kmeans(all, d, this.model.config.nEmbed, this.rngKmeans, {
      iterations: kmeansIterations,
    });
    tf.tidy(() =>
      this.model.codebook.assign(tf.tensor2d(centroids, [this.model.config.nEmbed, d])),
    );
    this.kmeansDone = true;
  }

  private gradsByName(grads: tf.NamedTensorMap): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [engineName, g] of Object.entries(grads)) {
      const name = this.engineToName.get(engineName);
      if (!name) throw new Error(`VqganTrainer: gradient for unknown variable '${engineName}'`);
      out[name] = g;
    }
    return out;
  }

  /**
   * One optimizer step (generator, then discriminator when active) on the next batch of the data
   * order. Returns the step's metrics, and the finished epoch's codebook statistics at an epoch end.
   */
  trainStep(): { metrics: StepMetrics; epochEnd: EpochStats | null } {
    try {
      return this.runStep();
    } catch (e) {
      const size = this.model.config.resolution;
      throw explainWasmAbort(
        e,
        `VQGAN training step at batch ${this.config.batchSize} of ${size}x${size} images`,
        'Use a smaller batchSize or image size, or a backend with more memory: tfjs-node-gpu, or ' +
          "cpu (the machine's memory, much slower).",
      );
    }
  }

  private runStep(): { metrics: StepMetrics; epochEnd: EpochStats | null } {
    const cfg = this.config;
    if (cfg.kmeansInit && !this.kmeansDone && this.step === 0) this.initCodebookKmeans();
    const x = toModelInput(
      this.dataset.batch(this.peekBatchIndices()),
      this.model.config.inChannels,
      'dataset batch',
    );
    const disc = this.discriminator;
    const discActive = disc !== null && this.step >= cfg.discStart;
    const discFactor = discActive ? cfg.discFactor : 0;

    let kept: { xrec: tf.Tensor4D; ze: tf.Tensor4D; idx: tf.Tensor; losses: tf.Tensor1D } | null =
      null;
    let dNll: tf.Tensor4D | null = null;
    let lambda: tf.Scalar | null = null;
    let hLast: tf.Tensor4D | null = null;
    const lastW = this.model.decoder.convOut.weight;

    const nllHook = identityHook((dy) => {
      dNll = tf.keep(tf.clone(dy)) as tf.Tensor4D;
      return tf.clone(dy);
    });
    const ganHook = identityHook((dy) => {
      let lam: tf.Scalar;
      if (cfg.adaptiveWeight) {
        if (!dNll || !hLast)
          throw new Error('VqganTrainer: adaptive weight hooks ran out of order');
        const k: [number, number] = [lastW.shape[0], lastW.shape[1]];
        lam = adaptiveGanWeight(hLast, dNll, dy as tf.Tensor4D, k, cfg.discWeight);
      } else {
        lam = tf.scalar(cfg.discWeight);
      }
      lambda = tf.keep(tf.clone(lam));
      return tf.mul(dy, tf.mul(lam, discFactor));
    });

    const genLoss = (): tf.Scalar => {
      const out = this.model.trainForward(x, { recompute: cfg.recompute });
      hLast = out.h;
      let gLoss: tf.Scalar | null = null;
      if (discActive && disc) {
        // Recorded first, so that backprop reaches it after the nll hook.
        gLoss = tf.neg(tf.mean(disc.forward(ganHook(out.xrec)))) as tf.Scalar;
      }
      const xr = discActive ? nllHook(out.xrec) : out.xrec;
      const losses = generatorLosses(x, xr, out.q, cfg, this.perceptual, gLoss);
      kept = {
        xrec: tf.keep(tf.clone(out.xrec)),
        ze: tf.keep(tf.clone(out.ze)),
        idx: tf.keep(tf.clone(out.q.indices)),
        losses: tf.keep(stackLosses(losses)),
      };
      // The GAN term enters with coefficient 1; its gradient is scaled by lambda * discFactor in ganHook.
      return gLoss ? tf.add(losses.reconstructionObjective, gLoss) : losses.reconstructionObjective;
    };

    const { value, grads } = leanVariableGrads(genLoss, Object.values(this.genVars));
    value.dispose();
    const lrScale = this.lrScale();
    this.genOpt.learningRate = cfg.learningRate * lrScale;
    this.genOpt.applyGradients(this.genVars, this.gradsByName(grads));
    tf.dispose(grads);
    if (!kept) throw new Error('VqganTrainer: generator step produced no outputs');
    const k = kept as { xrec: tf.Tensor4D; ze: tf.Tensor4D; idx: tf.Tensor; losses: tf.Tensor1D };
    const losses: GeneratorLosses<number> = readLosses(k.losses.dataSync(), {
      perceptual: this.perceptual !== null,
      gLoss: discActive,
    });
    const lam = lambda ? (lambda as tf.Scalar).dataSync()[0] : null;
    tf.dispose(
      [dNll as tf.Tensor | null, lambda as tf.Tensor | null].filter(
        (t): t is tf.Tensor => t !== null,
      ),
    );

    let dLoss: number | null = null;
    let logitsReal: number | null = null;
    let logitsFake: number | null = null;
    if (discActive && disc && this.discOpt) {
      let logits: tf.Tensor | null = null;
      const dl = (): tf.Scalar => {
        const lr = disc.forward(x, true);
        const lf = disc.forward(k.xrec);
        logits = tf.keep(tf.stack([tf.mean(lr), tf.mean(lf)]));
        return tf.mul(hingeDLoss(lr, lf), discFactor) as tf.Scalar;
      };
      const r = leanVariableGrads(dl, Object.values(this.discVars));
      dLoss = r.value.dataSync()[0];
      r.value.dispose();
      this.discOpt.learningRate = cfg.discLearningRate * lrScale;
      this.discOpt.applyGradients(this.discVars, this.gradsByName(r.grads));
      tf.dispose(r.grads);
      const lv = (logits as unknown as tf.Tensor).dataSync();
      logitsReal = lv[0];
      logitsFake = lv[1];
      (logits as unknown as tf.Tensor).dispose();
    }

    // Codebook statistics and restart candidates.
    const idx = k.idx.dataSync();
    countCodes(this.epochCounts, idx);
    countCodes(this.restartCounts, idx);
    const batchCodes = new Set(idx).size;
    this.reservoir.add(k.ze.dataSync() as Float32Array, this.rngReservoir, cfg.reservoirPerStep);
    tf.dispose([k.xrec, k.ze, k.idx, k.losses, x]);

    this.step += 1;
    this.cursor += 1;
    let restarted = 0;
    if (cfg.restartEvery > 0 && this.step % cfg.restartEvery === 0) {
      restarted = this.restartDeadCodes();
    }
    const { gLoss } = losses;
    const metrics: StepMetrics = {
      step: this.step,
      epoch: this.epoch,
      loss:
        losses.reconstructionObjective +
        (gLoss !== null && lam !== null ? lam * discFactor * gLoss : 0),
      nll: losses.nll,
      l1: losses.l1,
      l2: losses.l2,
      perceptual: losses.perceptual,
      qLoss: losses.qLoss,
      codebookLoss: losses.codebookLoss,
      commitLoss: losses.commitLoss,
      gLoss,
      discWeight: lam,
      dLoss,
      logitsReal,
      logitsFake,
      learningRate: cfg.learningRate * lrScale,
      batchCodes,
      restarted,
    };
    let epochEnd: EpochStats | null = null;
    if (this.cursor >= this.stepsPerEpoch) {
      epochEnd = { ...codebookStats(this.epochCounts), epoch: this.epoch, step: this.step };
      this.epoch += 1;
      this.cursor = 0;
      this.epochCounts.fill(0);
    }
    return { metrics, epochEnd };
  }

  /** Learning-rate multiplier of the next step (cosine decay to `minLrRatio`; 1 when off). */
  lrScale(): number {
    return vqganLrScale(this.config, this.step);
  }

  /** Restarts codes hit fewer than `restartThreshold` times since the last check. Returns how many. */
  restartDeadCodes(): number {
    const dead = restartDeadCodes(
      this.model.codebook,
      this.restartCounts,
      this.config.restartThreshold,
      this.reservoir,
      this.rngRestart,
    );
    this.restartCounts.fill(0);
    return dead.length;
  }

  /**
   * Trains until `steps` updates in all (counting those of a resumed checkpoint) or `epochs` more
   * epochs (default: one), reporting through the callbacks; the shared training-loop surface of
   * `@artist-ts/core/train-loop`. With `checkpointDir`, resumes from its newest checkpoint when it
   * is ahead of this trainer (`resume`, default true), writes a checkpoint every `checkpointEvery`
   * updates, at the end and when `signal` stops the run (then `aborted` is true).
   */
  async fit(options: VqganFitOptions = {}): Promise<VqganFitResult> {
    // (core's validator is typed for `unknown` reports; the checks do not look at the callbacks)
    validateTrainLoopOptions(options, 'VqganTrainer.fit');
    const root = options.checkpointDir;
    let savedStep: number | null = null;
    if (root && (options.resume ?? true) && resolveCheckpointDir(root)) {
      savedStep = await this.resumeFrom(root);
    }
    const target =
      options.steps ?? this.step + (options.epochs ?? 1) * this.stepsPerEpoch - this.cursor;
    const every = options.checkpointEvery ?? 0;
    let last: StepMetrics | null = null;
    let checkpoint: string | null = null;
    const save = async () => {
      if (!root) return;
      checkpoint = await this.save(root, { keepLast: options.keepLast });
      savedStep = this.step;
      await options.onCheckpoint?.({ dir: checkpoint, step: this.step });
    };
    while (this.step < target && !options.signal?.aborted) {
      const { metrics, epochEnd } = this.trainStep();
      last = metrics;
      await options.onStep?.(metrics);
      if (epochEnd) await options.onEpoch?.(epochEnd);
      if (every > 0 && this.step % every === 0) await save();
      await new Promise((r) => setImmediate(r));
    }
    const aborted = this.step < target && (options.signal?.aborted ?? false);
    if (savedStep !== this.step) await save();
    return { step: this.step, aborted, last, checkpoint, epoch: this.epoch };
  }

  /**
   * Loads the newest checkpoint under `root` into this trainer and its model when it is ahead of
   * the trainer. Returns the trainer's step when that checkpoint now holds it (restored, or
   * already there), null when the checkpoint is behind the trainer.
   */
  private async resumeFrom(root: string): Promise<number | null> {
    const reader = await openCheckpoint(root);
    try {
      const step = reader.state.step;
      if (step <= this.step) return step === this.step ? this.step : null;
      this.model.assignFromCheckpoint(reader);
      this.restore(reader);
    } finally {
      reader.close();
    }
    return this.step;
  }

  /**
   * The trainer state (without weights) for a checkpoint; `save` writes the optimizer slots beside
   * it (optimizer.bin), so its `optimizerSlots` is empty.
   */
  trainerState(): TrainerState {
    return {
      step: this.step,
      epoch: this.epoch,
      dataCursor: this.cursor,
      optimizerName: 'adam',
      optimizerSlots: [],
      rng: {
        restart: this.rngRestart.getState(),
        reservoir: this.rngReservoir.getState(),
        kmeans: this.rngKmeans.getState(),
      },
      config: { train: this.config },
      extra: {
        kmeansDone: this.kmeansDone,
        reservoirFilled: this.reservoir.filled,
        reservoirNext: this.reservoir.next,
      },
    };
  }

  /** The trainer's statistics (copied) and the discriminator's weights (read when written). */
  private extraTensors(): CheckpointTensor[] {
    const K = this.model.config.nEmbed;
    const out: CheckpointTensor[] = [
      {
        name: `${TRAINER_PREFIX}epoch_counts`,
        shape: [K],
        dtype: 'int32',
        data: Int32Array.from(this.epochCounts),
      },
      {
        name: `${TRAINER_PREFIX}restart_counts`,
        shape: [K],
        dtype: 'int32',
        data: Int32Array.from(this.restartCounts),
      },
      {
        name: `${TRAINER_PREFIX}reservoir`,
        shape: [this.reservoir.capacity, this.reservoir.dim],
        dtype: 'float32',
        data: Float32Array.from(this.reservoir.data),
      },
    ];
    if (this.discriminator) {
      for (const [name, v] of this.discriminator.store.entries()) out.push(deferredTensor(name, v));
    }
    return out;
  }

  /**
   * Saves model, discriminator, optimizer slots (`gen/...`, `disc/...`) and trainer state as one
   * checkpoint under `root`. Weights and slots are read back one tensor at a time as they are
   * written.
   */
  async save(root: string, options: { keepLast?: number } = {}): Promise<string> {
    const slots = (prefix: string, opt: AdamW | null) =>
      (opt?.checkpointSlots() ?? []).map((t) => ({ ...t, name: `${prefix}/${t.name}` }));
    return this.model.save(root, {
      state: this.trainerState(),
      extraTensors: this.extraTensors(),
      optimizerSlots: [...slots('gen', this.genOpt), ...slots('disc', this.discOpt)],
      keepLast: options.keepLast,
    });
  }

  /**
   * Rebuilds a trainer from a checkpoint written by `save` (a step folder or a root with `latest`).
   * The returned trainer owns a newly loaded model (dispose both).
   */
  static async resume(
    pathOrRoot: string,
    dataset: ImageDataset,
    options: TrainerOptions & { config?: Partial<VqganTrainConfig> } = {},
  ): Promise<VqganTrainer> {
    if (!fs.existsSync(pathOrRoot))
      throw new Error(`VqganTrainer.resume: '${pathOrRoot}' does not exist`);
    const reader = await openCheckpoint(pathOrRoot);
    try {
      const state = reader.state;
      const saved = (state.config as { train?: Partial<VqganTrainConfig> } | undefined)?.train;
      if (!saved) {
        throw new Error(
          `${reader.dir}/trainer_state.pb: config.train is missing (not a VqganTrainer checkpoint)`,
        );
      }
      const model = await Vqgan.load(reader.dir);
      let trainer: VqganTrainer | undefined;
      try {
        trainer = new VqganTrainer(
          model,
          dataset,
          { ...saved, ...(options.config ?? {}) },
          options,
        );
        trainer.restore(reader);
      } catch (e) {
        trainer?.dispose();
        model.dispose();
        throw e;
      }
      return trainer;
    } finally {
      reader.close();
    }
  }

  /**
   * Restores step, statistics, random streams, discriminator and optimizer slots from an opened
   * checkpoint, one tensor at a time (optimizer.bin, or the trainer state of older checkpoints).
   */
  private restore(reader: CheckpointReader): void {
    const { state, dir } = reader;
    const byName = new Map(reader.weights.map((t) => [t.name, t]));
    const need = (name: string): StoredTensor => {
      const t = byName.get(name);
      if (!t) throw new Error(`${dir}/weights.bin: tensor '${name}' is missing`);
      return t;
    };
    this.step = state.step;
    this.epoch = state.epoch;
    this.cursor = state.dataCursor;
    this.epochCounts = Float64Array.from(reader.read(need(`${TRAINER_PREFIX}epoch_counts`)).data);
    this.restartCounts = Float64Array.from(
      reader.read(need(`${TRAINER_PREFIX}restart_counts`)).data,
    );
    const extra = (state.extra ?? {}) as {
      kmeansDone?: boolean;
      reservoirFilled?: number;
      reservoirNext?: number;
    };
    this.kmeansDone = extra.kmeansDone ?? false;
    this.reservoir.restore(
      reader.read(need(`${TRAINER_PREFIX}reservoir`)).data as Float32Array,
      extra.reservoirFilled ?? 0,
      extra.reservoirNext ?? 0,
    );
    for (const [key, rng] of [
      ['restart', this.rngRestart],
      ['reservoir', this.rngReservoir],
      ['kmeans', this.rngKmeans],
    ] as const) {
      const s = state.rng[key];
      if (!s) throw new Error(`${dir}/trainer_state.pb: rng stream '${key}' is missing`);
      rng.setState(s);
    }
    if (this.discriminator) {
      for (const [name, v] of this.discriminator.store.entries()) {
        const t = need(name);
        if (t.shape.join() !== v.shape.join()) {
          throw new Error(
            `${dir}/weights.bin: '${name}' has shape [${t.shape}], expected [${v.shape}]`,
          );
        }
        const value = readStoredTensor(reader, t);
        v.assign(value);
        value.dispose();
      }
    }
    const slotOf = (t: StoredTensor | RawTensor): tf.Tensor =>
      'pieces' in t ? readStoredTensor(reader, t) : rawToTensor(t);
    const stored: Array<StoredTensor | RawTensor> =
      reader.slots.length > 0 ? [...reader.slots] : state.optimizerSlots;
    for (const [prefix, opt] of [
      ['gen', this.genOpt],
      ['disc', this.discOpt],
    ] as const) {
      if (!opt) continue;
      const named = stored
        .filter((t) => t.name.startsWith(`${prefix}/`))
        .map((t) => ({ name: t.name.slice(prefix.length + 1), tensor: slotOf(t) }));
      try {
        opt.setWeights(named);
      } finally {
        tf.dispose(named.map((s) => s.tensor));
      }
    }
  }

  /** Disposes the optimizers and discriminator (not the model). */
  dispose(): void {
    this.genOpt.dispose();
    this.discOpt?.dispose();
    this.discriminator?.dispose();
  }
}
