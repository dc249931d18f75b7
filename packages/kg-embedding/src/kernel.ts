/**
 * What the hot loops share: the trainable tables, the data an epoch reads, the config subset the
 * kernels read and each thread's scratch memory. The loops themselves: `train_step.ts` (the
 * training steps), `negatives.ts` (the one negative sampler), `step_math.ts` (loss and row
 * updates), `rank.ts` (link-prediction ranking). The same functions run on the calling thread
 * (`workers: 0`) and inside worker_threads over SharedArrayBuffers (hogwild), so one worker and
 * the calling thread give bit-identical results.
 */
import { Rng } from '@artist-ts/core/rng';
import type { TransEConfig } from './config';
import { FastRng } from './fast_rng';
import { NegativeSampler } from './negatives';
import type { SimdRanker, SimdTrainer, WasmTables } from './simd_kernels';
import type { TripleIndexData } from './triple_index';

/** The trainable tables, row-major. */
export interface Tables {
  dim: number;
  numEntities: number;
  numRelations: number;
  /** [N * dim] */
  entity: Float32Array;
  /** [R * dim] */
  relation: Float32Array;
  /** [N] row-wise Adagrad accumulators. */
  entityAcc: Float32Array;
  /** [R] */
  relationAcc: Float32Array;
  /**
   * Set when the tables and accumulators are views into a WebAssembly memory: training steps
   * then run on the f32x4 kernels of `simd_kernels.ts` (the classic one-negative step, or the
   * general K-negative step), whenever `regularization` is 0 and the dim is a multiple of 4.
   */
  wasm?: WasmTables;
}

/** What one training epoch reads. */
export interface TrainData {
  /** [n * 3] (h, r, t) */
  triples: Int32Array;
  count: number;
  /** [n] this epoch's visiting order. */
  order: Uint32Array;
  /** [R] probability of corrupting the head. */
  headProb: Float64Array;
  /** Known training triples (for `filterNegatives`). */
  index: TripleIndexData | null;
  /**
   * Entities per head block (`epoch_order.ts`: consecutive ids): fresh head-side negatives come
   * from the head's block; 0: from all.
   */
  blockEntities: number;
}

/** The subset of the config the kernel reads. */
export type KernelConfig = Pick<
  TransEConfig,
  | 'dim'
  | 'distance'
  | 'loss'
  | 'margin'
  | 'negatives'
  | 'sharedNegatives'
  | 'adversarialTemperature'
  | 'corruption'
  | 'filterNegatives'
  | 'optimizer'
  | 'learningRate'
  | 'lrSchedule'
  | 'warmupEpochs'
  | 'minLrRatio'
  | 'renorm'
  | 'regularization'
  | 'batchSize'
  | 'seed'
  | 'epochs'
>;

/** Coordinates per block of the evaluation lower bound. */
export const RANK_BLOCK_DIMS = 16;

/** Scratch memory of one thread. */
export class Workspace {
  readonly rng = new Rng(0);
  readonly fast = new FastRng();
  /** [(K + 1) * dim] difference vectors h + r - t of the positive and each negative. */
  readonly diff: Float64Array;
  readonly negDist: Float64Array;
  /** The one negative sampler of every step variant (`negEnt`, `negHead`, `shared` are its arrays). */
  readonly sampler: NegativeSampler;
  readonly negEnt: Int32Array;
  readonly negHead: Uint8Array;
  readonly negCoef: Float64Array;
  /** [loss, dLoss/d positive distance] of the current triple (weighNegatives). */
  readonly lossGp = new Float64Array(2);
  /** [K] entities shared by a group of positives. */
  readonly shared: Int32Array;
  readonly gH: Float64Array;
  readonly gT: Float64Array;
  readonly gR: Float64Array;
  readonly gE: Float64Array;
  readonly query: Float64Array;
  mask: Uint8Array;
  /** [N * blocks] per-entity sums over blocks of RANK_BLOCK_DIMS coordinates (evaluation lower bounds). */
  blockSums: Float64Array = new Float64Array(0);
  readonly queryBlocks: Float64Array;
  /** WebAssembly SIMD ranking state, created on first use. */
  simd: SimdRanker | null = null;
  /** WebAssembly SIMD training state, created on first use. */
  simdTrain: SimdTrainer | null = null;
  /** This thread's plan area in `Tables.wasm` (0 on the calling thread, i for worker i). */
  slot = 0;

  constructor(dim: number, negatives: number, numEntities: number) {
    this.diff = new Float64Array((negatives + 1) * dim);
    this.negDist = new Float64Array(negatives);
    this.sampler = new NegativeSampler(negatives);
    this.negEnt = this.sampler.ent;
    this.negHead = this.sampler.head;
    this.negCoef = new Float64Array(negatives);
    this.shared = this.sampler.shared;
    this.gH = new Float64Array(dim);
    this.gT = new Float64Array(dim);
    this.gR = new Float64Array(dim);
    this.gE = new Float64Array(dim);
    this.query = new Float64Array(dim);
    this.mask = new Uint8Array(numEntities);
    this.queryBlocks = new Float64Array(Math.ceil(dim / RANK_BLOCK_DIMS));
  }
}
