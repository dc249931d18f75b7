/**
 * TransE training: epochs of sparse per-triple updates on shared Float32Arrays, validation with
 * early stopping on filtered MRR (the best tables are kept and restored), checkpoints through
 * `@artist-ts/core/checkpoint-files` and exact resume: the tables, the Adagrad accumulators,
 * the shuffle RNG, the loss history and the early-stopping state are all saved, and every step's
 * negatives come from an RNG seeded by (seed, epoch, step), so a resumed run repeats the loss
 * sequence of an uninterrupted one bit for bit (with `workers` 0 or 1).
 */
import { Rng, type RngState } from '@artist-ts/core/rng';
import {
  type CheckpointEvent,
  type TrainLoopOptions,
  type TrainLoopResult,
  validateTrainLoopOptions,
} from '@artist-ts/core/train-loop';
import type { TrainerState } from '@artist-ts/core/trainer-state';
import {
  type CheckpointExtra,
  fingerprintTriples,
  type OpenCheckpoint,
  openTransECheckpoint,
  type ValidationEntry,
  writeTransECheckpoint,
} from './checkpoint';
import {
  stepLearningRate,
  type TransEConfig,
  transESchedule,
  validateTransEConfig,
} from './config';

export { fingerprintTriples, type ValidationEntry } from './checkpoint';

import { permuteRows, planEpochs, relabelTriples, shuffledPlan } from './epoch_order';
import { checkIds, type LinkPredictionMetrics, rankWithExecutor, summarize } from './evaluate';
import { createExecutor, type Executor } from './executor';
import { FastRng } from './fast_rng';
import type { EpochJob } from './jobs';
import type { KernelConfig, Tables } from './kernel';
import type { KgDataset, TripleSet } from './kg_data';
import { allocArray } from './large_buffers';
import {
  allocWasmTables,
  sharedWasmSupported,
  simdSupported,
  type WasmTables,
  wasmTablesFit,
} from './simd_kernels';
import { bernoulliHeadProbabilities, buildTripleIndex } from './triple_index';

export interface EpochReport {
  epoch: number;
  epochs: number;
  /** Mean loss per positive triple over the epoch. */
  loss: number;
  /** Learning rate of the epoch's last step. */
  learningRate: number;
  /** Positive triples per second over the epoch. */
  triplesPerSecond: number;
  seconds: number;
  /** Steps taken so far. */
  step: number;
}

export interface ValidationReport {
  epoch: number;
  metrics: LinkPredictionMetrics;
  /** Realistic filtered MRR on the validation (sub)set: the early-stopping criterion. */
  mrr: number;
  best: boolean;
  bestEpoch: number;
  bestMrr: number;
}

/** @deprecated Use the `TrainLoopOptions` names of `TrainOptions` (`onStep`, `onValidation`, `onCheckpoint`). */
export interface TrainCallbacks {
  onEpoch?: (report: EpochReport) => void | Promise<void>;
  onValidation?: (report: ValidationReport) => void | Promise<void>;
  onCheckpoint?: (dir: string, epoch: number) => void | Promise<void>;
}

/** A checkpoint written (the shared event, plus the epoch). */
export interface TransECheckpointEvent extends CheckpointEvent {
  epoch: number;
}

/**
 * The shared training-loop options of `@artist-ts/core/train-loop` (TransE's unit of progress is
 * the epoch: `onStep` receives one report per epoch and every stop happens at an epoch's end):
 * - `epochs`: stop after this many more epochs in this call (the schedule still spans
 *   `config.epochs`); `steps`: stop after the epoch in which this many steps in all are done;
 * - `checkpointEvery` (steps: a checkpoint after each epoch that crosses a multiple; default
 *   `config.checkpointEvery` epochs), `keepLast` (default `config.keepCheckpoints`);
 * - `signal`: stop after the current epoch, resolving with `aborted: true` after a checkpoint.
 */
export interface TrainOptions extends Omit<TrainLoopOptions<EpochReport>, 'onCheckpoint'> {
  onCheckpoint?: (event: TransECheckpointEvent) => void | Promise<void>;
  onValidation?: (report: ValidationReport) => void | Promise<void>;
  /** @deprecated Use `onStep`, `onValidation` and `onCheckpoint`. */
  callbacks?: TrainCallbacks;
  /**
   * 'auto' (default): WebAssembly SIMD kernels (float32 arithmetic) wherever they apply
   * (regularization 0, dim a multiple of 4, tables under 4 GiB), else the JavaScript kernels
   * (float64 arithmetic, float32 storage). 'js' forces JavaScript, 'simd' requires SIMD. A resume
   * with 'auto' continues on the kernel recorded in the checkpoint (bit-identical continuation).
   */
  kernel?: TrainKernel;
  /**
   * Tables larger than this many bytes are checkpointed as row blocks (default 1 GiB: each block
   * is one write, below Node's 2 GiB limit per I/O call). Lower it only to test the split.
   */
  checkpointPartBytes?: number;
}

export interface TransEEmbeddings {
  dim: number;
  distance: TransEConfig['distance'];
  entities: string[];
  relations: string[];
  numEntities: number;
  numRelations: number;
  /** [N * dim], row i = entity id i. */
  entity: Float32Array;
  /** [R * dim] */
  relation: Float32Array;
}

/** The shared result (`step`: steps done in all, `aborted`, `last` epoch report, `checkpoint`) plus TransE's. */
export interface TrainResult extends TrainLoopResult<EpochReport> {
  embeddings: TransEEmbeddings;
  config: TransEConfig;
  /** Mean loss per positive of every epoch run so far (including epochs before a resume). */
  lossHistory: number[];
  validation: ValidationEntry[];
  /** Epoch whose tables were returned (the best validation epoch under early stopping). */
  bestEpoch: number;
  bestMrr: number | null;
  /** Epochs completed. */
  epochs: number;
  stoppedEarly: boolean;
  /** Same as `aborted`. */
  interrupted: boolean;
  resumedFromEpoch: number | null;
  /** Training seconds in this call (validation included). */
  seconds: number;
}

/**
 * Which training kernel: 'auto' runs the WebAssembly SIMD kernels wherever they can train the
 * configuration (`simdTrainingPossible`), else the JavaScript ones.
 */
export type TrainKernel = 'auto' | 'simd' | 'js';

/** Whether the SIMD kernels can train this configuration here (either step). */
export function simdTrainingPossible(
  cfg: TransEConfig,
  numEntities: number,
  numRelations: number,
): boolean {
  return (
    cfg.regularization === 0 &&
    cfg.dim % 4 === 0 &&
    (cfg.workers > 0 ? sharedWasmSupported() : simdSupported()) &&
    wasmTablesFit(
      numEntities,
      numRelations,
      cfg.dim,
      cfg.batchSize,
      cfg.negatives,
      Math.max(1, cfg.workers),
    )
  );
}

/** Whether a run with `kernel` puts its tables in a WebAssembly memory; throws for 'simd' when it cannot. */
export function useSimdTraining(
  cfg: TransEConfig,
  kernel: TrainKernel,
  numEntities: number,
  numRelations: number,
): boolean {
  if (kernel === 'js') return false;
  const ok = simdTrainingPossible(cfg, numEntities, numRelations);
  if (kernel === 'simd' && !ok) {
    throw new RangeError(
      "trainTransE: kernel 'simd' needs regularization 0, dim a multiple of 4, tables under 4 GiB and WebAssembly SIMD",
    );
  }
  return ok;
}

function initTables(
  cfg: TransEConfig,
  n: number,
  r: number,
  shared: boolean,
  simd: boolean,
  randomInit: boolean,
): Tables {
  const dim = cfg.dim;
  let entity: Float32Array;
  let relation: Float32Array;
  let entityAcc: Float32Array;
  let relationAcc: Float32Array;
  let wasm: WasmTables | undefined;
  if (simd) {
    const w = allocWasmTables(
      n,
      r,
      dim,
      cfg.batchSize,
      cfg.negatives,
      Math.max(1, cfg.workers),
      shared,
    );
    ({ entity, relation, entityAcc, relationAcc, wasm } = w);
  } else {
    entity = allocArray(Float32Array, n * dim, shared);
    relation = allocArray(Float32Array, r * dim, shared);
    entityAcc = allocArray(Float32Array, n, shared);
    relationAcc = allocArray(Float32Array, r, shared);
  }
  const a = cfg.initRange > 0 ? cfg.initRange : 6 / Math.sqrt(dim);
  const rng = new Rng(cfg.seed).fork('init');
  if (randomInit) {
    rng.fillUniform(entity, -a, a);
    rng.fillUniform(relation, -a, a);
  }
  if (randomInit && cfg.renorm !== 'none') {
    // Bordes et al.: relations start on the unit sphere, entities inside the unit ball.
    normalizeRows(relation, dim, true);
    normalizeRows(entity, dim, cfg.renorm === 'unit');
  }
  return {
    dim,
    numEntities: n,
    numRelations: r,
    entity,
    relation,
    entityAcc,
    relationAcc,
    ...(wasm ? { wasm } : {}),
  };
}

function normalizeRows(m: Float32Array, dim: number, always: boolean): void {
  for (let o = 0; o < m.length; o += dim) {
    let n2 = 0;
    for (let k = 0; k < dim; k++) n2 += m[o + k] * m[o + k];
    if (n2 > 0 && (always || n2 > 1)) {
      const inv = 1 / Math.sqrt(n2);
      for (let k = 0; k < dim; k++) m[o + k] *= inv;
    }
  }
}

function kernelConfig(c: TransEConfig): KernelConfig {
  return {
    dim: c.dim,
    distance: c.distance,
    loss: c.loss,
    margin: c.margin,
    negatives: c.negatives,
    sharedNegatives: c.sharedNegatives,
    adversarialTemperature: c.adversarialTemperature,
    corruption: c.corruption,
    filterNegatives: c.filterNegatives,
    optimizer: c.optimizer,
    learningRate: c.learningRate,
    lrSchedule: c.lrSchedule,
    warmupEpochs: c.warmupEpochs,
    minLrRatio: c.minLrRatio,
    renorm: c.renorm,
    regularization: c.regularization,
    batchSize: c.batchSize,
    seed: c.seed,
    epochs: c.epochs,
  };
}

/** A seeded subset of `s` with at most `max` triples (all when max is 0 or larger than s). */
export function subsetTriples(s: TripleSet, max: number, rng: Rng): TripleSet {
  if (max <= 0 || max >= s.count) return s;
  const pick = rng.permutation(s.count).subarray(0, max).sort();
  const data = new Int32Array(max * 3);
  for (let i = 0; i < max; i++) data.set(s.data.subarray(pick[i] * 3, pick[i] * 3 + 3), i * 3);
  return { data, count: max };
}

/**
 * Trains TransE on `dataset.train`, validating on `dataset.valid` when `evalEvery` > 0: the
 * package's `fit` (options and result follow `@artist-ts/core/train-loop`).
 */
export async function trainTransE(
  dataset: KgDataset,
  config: Partial<TransEConfig> = {},
  options: TrainOptions = {},
): Promise<TrainResult> {
  const cfg = validateTransEConfig(config);
  const N = dataset.entities.length;
  const R = dataset.relations.length;
  if (N < 2 || R < 1)
    throw new RangeError(`trainTransE: need >= 2 entities and >= 1 relation; got ${N} and ${R}`);
  if (dataset.train.count === 0) throw new RangeError('trainTransE: the training set is empty');
  for (const [name, s] of [
    ['train', dataset.train],
    ['valid', dataset.valid],
    ['test', dataset.test],
  ] as const) {
    try {
      checkIds(s, N, R);
    } catch (e) {
      throw new RangeError(`trainTransE: ${name}: ${(e as Error).message}`);
    }
  }
  const t0 = performance.now();
  // (core's bound is TrainLoopOptions<unknown>, which a typed onStep does not satisfy)
  validateTrainLoopOptions(options as unknown as TrainLoopOptions, 'trainTransE');
  const old = options.callbacks ?? {};
  const onStep = options.onStep ?? old.onEpoch;
  const onValidation = options.onValidation ?? old.onValidation;
  const onCheckpoint =
    options.onCheckpoint ??
    (old.onCheckpoint
      ? (e: TransECheckpointEvent) => old.onCheckpoint?.(e.dir, e.epoch)
      : undefined);
  const keepLast = options.keepLast ?? cfg.keepCheckpoints;
  const shared = cfg.workers > 0;
  const n = dataset.train.count;
  const stepsPerEpoch = Math.ceil(n / cfg.batchSize);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const warmupSteps = Math.round(cfg.warmupEpochs * stepsPerEpoch);
  const fingerprint = fingerprintTriples(dataset.train);

  const shuffle = new Rng(cfg.seed).fork('shuffle');
  const fastShuffle = new FastRng();
  let extra: CheckpointExtra = {
    lossHistory: [],
    validation: [],
    bestEpoch: 0,
    bestMrr: null,
    badEvals: 0,
    stoppedEarly: false,
    numEntities: N,
    numRelations: R,
    trainFingerprint: fingerprint,
  };
  let best: { entity: Float32Array; relation: Float32Array } | null = null;
  let startEpoch = 0;
  let resumedFromEpoch: number | null = null;
  const restored: OpenCheckpoint | null =
    options.checkpointDir && options.resume !== false
      ? await openTransECheckpoint(options.checkpointDir, cfg, fingerprint, N, R)
      : null;
  // 'auto' resumes on the kernel the checkpoint was trained with (checkpoints that do not say
  // were written by the JavaScript kernel), so the continuation is bit-identical.
  let kernel: TrainKernel = options.kernel ?? 'auto';
  if (kernel === 'auto' && restored) {
    kernel = restored.extra.kernel === 'simd' && simdTrainingPossible(cfg, N, R) ? 'simd' : 'js';
  }
  const simd = useSimdTraining(cfg, kernel, N, R);
  extra.kernel = simd ? 'simd' : 'js';
  const tables = initTables(cfg, N, R, shared, simd, restored === null);
  if (restored) {
    // Straight from weights.bin into the (shared or WebAssembly) tables: no intermediate copy.
    await restored.readInto('entity', tables.entity);
    await restored.readInto('relation', tables.relation);
    tables.entityAcc.set(restored.slot('entity_acc', N));
    tables.relationAcc.set(restored.slot('relation_acc', R));
    if (restored.hasBest) {
      best = { entity: new Float32Array(N * cfg.dim), relation: new Float32Array(R * cfg.dim) };
      await restored.readInto('best/entity', best.entity);
      await restored.readInto('best/relation', best.relation);
    }
    shuffle.setState(restored.state.rng.shuffle as RngState);
    extra = { ...restored.extra, kernel: extra.kernel };
    startEpoch = restored.state.epoch;
    resumedFromEpoch = startEpoch;
  }

  // Training data in (possibly shared) memory: a copy grouped by head block, or the dataset's own
  // array when workers can read it (readOpenKEFolder allocates SharedArrayBuffers), else one copy.
  const own = dataset.train.data.subarray(0, n * 3);
  let plan = planEpochs(cfg, own, n, N, shared);
  if (plan.relabel === null && shared && !(own.buffer instanceof SharedArrayBuffer)) {
    const copy = allocArray(Int32Array, n * 3, true);
    copy.set(own);
    plan = shuffledPlan(copy);
  }
  // Under head blocks the tables train in the renumbered order (epoch_order.ts): rows move there
  // now, back for every checkpoint and for the result.
  const relabel = plan.relabel;
  const reorder = (dest: Int32Array) => {
    permuteRows(tables.entity, cfg.dim, dest);
    permuteRows(tables.entityAcc, 1, dest);
    if (best) permuteRows(best.entity, cfg.dim, dest);
  };
  if (relabel && restored) reorder(relabel.toNew);
  const inTraining = (s: TripleSet) => (relabel ? relabelTriples(s, relabel.toNew) : s);
  const trainSet: TripleSet = { data: plan.triples, count: n };
  const headProb = allocArray(Float64Array, R, shared);
  if (cfg.corruption === 'bernoulli') headProb.set(bernoulliHeadProbabilities(dataset.train, R));
  else headProb.fill(0.5);
  const order = allocArray(Uint32Array, n, shared);
  // Under head blocks the filter's lookups stay in the block's cached index segments; its bitmap,
  // one random word in hundreds of megabytes per lookup, would only add misses.
  const trainIndex = cfg.filterNegatives
    ? buildTripleIndex(N, R, [trainSet], shared, plan.blockEntities === 0)
    : null;
  const validating = cfg.evalEvery > 0 && dataset.valid.count > 0;
  const evalIndex = validating
    ? buildTripleIndex(
        N,
        R,
        [trainSet, inTraining(dataset.valid), inTraining(dataset.test)],
        shared,
      )
    : null;
  const validSubset = validating
    ? inTraining(
        subsetTriples(dataset.valid, cfg.evalMaxTriples, new Rng(cfg.seed).fork('valid-subset')),
      )
    : null;

  const exec: Executor = createExecutor(cfg.workers);
  const counter = allocArray(Int32Array, 1, shared);
  const stepLoss = allocArray(Float64Array, stepsPerEpoch, shared);
  let interrupted = false;
  let epoch = startEpoch;
  let lastCheckpoint: string | null = null;
  let last: EpochReport | null = null;
  // Where this call stops (an epoch boundary): the schedule's end, or the options' limits.
  let stopEpoch = cfg.epochs;
  if (options.epochs !== undefined) stopEpoch = Math.min(stopEpoch, startEpoch + options.epochs);
  if (options.steps !== undefined)
    stopEpoch = Math.min(stopEpoch, Math.max(startEpoch, Math.ceil(options.steps / stepsPerEpoch)));
  const checkpointDue = (e: number) =>
    options.checkpointEvery !== undefined
      ? options.checkpointEvery > 0 &&
        Math.floor((e * stepsPerEpoch) / options.checkpointEvery) >
          Math.floor(((e - 1) * stepsPerEpoch) / options.checkpointEvery)
      : cfg.checkpointEvery > 0 && e % cfg.checkpointEvery === 0;
  const save = async () => {
    if (!options.checkpointDir) return;
    const state: TrainerState = {
      step: epoch * stepsPerEpoch,
      epoch,
      optimizerName: cfg.optimizer === 'adagrad' ? 'adagrad-rowwise' : 'sgd',
      optimizerSlots: [
        { name: 'entity_acc', shape: [N], dtype: 'float32', data: tables.entityAcc },
        { name: 'relation_acc', shape: [R], dtype: 'float32', data: tables.relationAcc },
      ],
      rng: { shuffle: shuffle.getState() },
      dataCursor: 0,
      config: cfg,
      extra,
    };
    if (extra.bestMrr !== null) state.bestMetric = extra.bestMrr;
    if (relabel) reorder(relabel.toOld);
    let dir: string;
    try {
      dir = await writeTransECheckpoint(
        options.checkpointDir,
        { dim: cfg.dim, entity: tables.entity, relation: tables.relation, best },
        state,
        keepLast,
        options.checkpointPartBytes,
      );
    } finally {
      if (relabel) reorder(relabel.toNew);
    }
    lastCheckpoint = dir;
    await onCheckpoint?.({ dir, step: epoch * stepsPerEpoch, epoch });
  };

  try {
    await exec.setTables(tables, cfg.negatives);
    await exec.setTrainData(
      {
        triples: plan.triples,
        count: n,
        order,
        headProb,
        index: trainIndex,
        blockEntities: plan.blockEntities,
      },
      kernelConfig(cfg),
    );
    while (epoch < stopEpoch && !extra.stoppedEarly) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      const e0 = performance.now();
      fastShuffle.load(shuffle);
      plan.fill(fastShuffle, order);
      fastShuffle.store(shuffle);
      counter[0] = 0;
      stepLoss.fill(0);
      const job: EpochJob = {
        epoch,
        steps: stepsPerEpoch,
        stepBase: epoch * stepsPerEpoch,
        totalSteps,
        warmupSteps,
        counter,
        stepLoss,
      };
      await exec.runEpoch(job);
      let sum = 0;
      for (let s = 0; s < stepsPerEpoch; s++) sum += stepLoss[s];
      const loss = sum / n;
      if (!Number.isFinite(loss)) {
        throw new Error(
          `trainTransE: loss is ${loss} at epoch ${epoch + 1}; lower learningRate (now ${cfg.learningRate})`,
        );
      }
      epoch++;
      extra.lossHistory.push(loss);
      const seconds = (performance.now() - e0) / 1000;
      last = {
        epoch,
        epochs: cfg.epochs,
        loss,
        learningRate: stepLearningRate(
          transESchedule(cfg, totalSteps, warmupSteps),
          epoch * stepsPerEpoch - 1,
        ),
        triplesPerSecond: n / seconds,
        seconds,
        step: epoch * stepsPerEpoch,
      };
      await onStep?.(last);
      if (validating && validSubset && (epoch % cfg.evalEvery === 0 || epoch === cfg.epochs)) {
        const v0 = performance.now();
        const counts = await rankWithExecutor(exec, validSubset, evalIndex, cfg.distance);
        const metrics = summarize(counts, true, (performance.now() - v0) / 1000);
        const mrr = metrics.realistic.both.mrr;
        const isBest = extra.bestMrr === null || mrr > extra.bestMrr;
        if (isBest) {
          extra.bestMrr = mrr;
          extra.bestEpoch = epoch;
          extra.badEvals = 0;
          // One buffer for the best tables, refilled (a large table is not reallocated per best epoch).
          if (best === null)
            best = { entity: tables.entity.slice(), relation: tables.relation.slice() };
          else {
            best.entity.set(tables.entity);
            best.relation.set(tables.relation);
          }
        } else {
          extra.badEvals++;
          if (cfg.patience > 0 && extra.badEvals >= cfg.patience) extra.stoppedEarly = true;
        }
        extra.validation.push({ epoch, mrr, hits10: metrics.realistic.both.hits10 });
        await onValidation?.({
          epoch,
          metrics,
          mrr,
          best: isBest,
          bestEpoch: extra.bestEpoch,
          bestMrr: extra.bestMrr ?? mrr,
        });
      }
      const finalEpoch = epoch === stopEpoch || extra.stoppedEarly;
      if (finalEpoch || checkpointDue(epoch) || options.signal?.aborted) {
        await save();
      }
    }
    if (options.signal?.aborted && epoch < stopEpoch && !extra.stoppedEarly) interrupted = true;
  } finally {
    await exec.close();
    if (relabel) reorder(relabel.toOld);
  }

  // Return the best validated tables (PyKEEN#419: early stopping must restore the best epoch).
  const useBest = best !== null && extra.bestEpoch !== epoch;
  const embeddings: TransEEmbeddings = {
    dim: cfg.dim,
    distance: cfg.distance,
    entities: dataset.entities,
    relations: dataset.relations,
    numEntities: N,
    numRelations: R,
    // The tables themselves (this call allocated them): no second copy of a large entity table.
    entity: useBest && best ? best.entity : tables.entity,
    relation: useBest && best ? best.relation : tables.relation,
  };
  return {
    embeddings,
    config: cfg,
    lossHistory: extra.lossHistory.slice(),
    validation: extra.validation.slice(),
    bestEpoch: useBest ? extra.bestEpoch : epoch,
    bestMrr: extra.bestMrr,
    epochs: epoch,
    stoppedEarly: extra.stoppedEarly,
    interrupted,
    resumedFromEpoch,
    seconds: (performance.now() - t0) / 1000,
    step: epoch * stepsPerEpoch,
    aborted: interrupted,
    last,
    checkpoint: lastCheckpoint,
  };
}

/** `trainTransE` under the name every trainer's entry has. */
export const fitTransE = trainTransE;
