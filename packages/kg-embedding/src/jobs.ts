/**
 * Work distribution shared by the calling thread and the workers: steps (training) and query
 * blocks (evaluation) are claimed from a shared counter with Atomics.add, so any number of
 * threads split an epoch without a coordinator. Each step seeds its own RNG stream from
 * (seed, epoch, step), so results do not depend on which thread ran it.
 */
import { stepLearningRate, transESchedule } from './config';
import { stepSeed } from './fast_rng';
import type { KernelConfig, Tables, TrainData, Workspace } from './kernel';
import { prepareRanking, type RankData, rankRange } from './rank';
import { rankTablesFit, SimdRanker, simdSupported } from './simd_kernels';
import { trainRange } from './train_step';

export interface EpochJob {
  epoch: number;
  /** Steps in this epoch. */
  steps: number;
  /** Global index of this epoch's first step (for the lr schedule). */
  stepBase: number;
  totalSteps: number;
  warmupSteps: number;
  /** [1] next step to claim. */
  counter: Int32Array;
  /** [steps] summed loss of each step. */
  stepLoss: Float64Array;
}

export function runEpoch(
  ws: Workspace,
  t: Tables,
  data: TrainData,
  cfg: KernelConfig,
  job: EpochJob,
): void {
  const B = cfg.batchSize;
  const schedule = transESchedule(cfg, job.totalSteps, job.warmupSteps);
  for (;;) {
    const s = Atomics.add(job.counter, 0, 1);
    if (s >= job.steps) return;
    const start = s * B;
    const end = Math.min(start + B, data.count);
    ws.rng.reseed(stepSeed(cfg.seed, job.epoch, s));
    const lr = stepLearningRate(schedule, job.stepBase + s);
    job.stepLoss[s] = trainRange(ws, t, data, cfg, start, end, lr);
  }
}

export const RANK_BLOCK = 32;

export interface RankJob {
  /** Number of queries (2 per triple). */
  queries: number;
  /** [1] next block to claim. */
  counter: Int32Array;
  distance: 'L1' | 'L2';
}

export function runRank(ws: Workspace, t: Tables, data: RankData, job: RankJob): void {
  const simd = data.kernel !== 'js' && simdSupported() && rankTablesFit(t.numEntities, t.dim);
  if (simd) {
    if (ws.simd === null) ws.simd = new SimdRanker();
    ws.simd.prepare(t);
  } else {
    prepareRanking(ws, t);
  }
  const blocks = Math.ceil(job.queries / RANK_BLOCK);
  for (;;) {
    const b = Atomics.add(job.counter, 0, 1);
    if (b >= blocks) return;
    const qEnd = Math.min(job.queries, (b + 1) * RANK_BLOCK);
    if (simd && ws.simd !== null) {
      ws.simd.rankRange(t, data.triples, data.index, data.out, job.distance, b * RANK_BLOCK, qEnd);
      continue;
    }
    rankRange(
      ws,
      t,
      data,
      job.distance,
      b * RANK_BLOCK,
      Math.min(job.queries, (b + 1) * RANK_BLOCK),
    );
  }
}
