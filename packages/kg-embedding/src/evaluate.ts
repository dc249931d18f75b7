/**
 * Filtered link prediction: every test triple asks two queries, (h, r, ?) and (?, r, t). The
 * answer's rank counts the candidates scored strictly better, and ties are reported three ways:
 * optimistic (ties rank below the answer: OpenKE), pessimistic (above: DGL-KE, AmpliGraph) and
 * realistic, their mean (PyKEEN's recommendation; the headline number here).
 */
import type { Distance } from './config';
import { createExecutor, type Executor } from './executor';
import { RANK_BLOCK } from './jobs';
import type { Tables } from './kernel';
import type { TripleSet } from './kg_data';
import { allocArray } from './large_buffers';
import type { RankKernel } from './rank';
import { rankSampled } from './sampled_rank';
import { buildTripleIndex, type TripleIndexData } from './triple_index';

export type TiePolicy = 'realistic' | 'optimistic' | 'pessimistic';

export interface RankSummary {
  /** Mean rank. */
  mr: number;
  /** Mean reciprocal rank. */
  mrr: number;
  hits1: number;
  hits3: number;
  hits10: number;
}

export interface SideSummary {
  both: RankSummary;
  head: RankSummary;
  tail: RankSummary;
}

export interface LinkPredictionMetrics {
  /** Test triples ranked (each asks two queries). */
  triples: number;
  filtered: boolean;
  realistic: SideSummary;
  optimistic: SideSummary;
  pessimistic: SideSummary;
  seconds: number;
  /** Candidates per query under the sampled protocol; absent for exact ranking. */
  sampledCandidates?: number;
}

/** Per-query counts: strictly better candidates and tied candidates (known answers excluded when filtered). */
export interface RankCounts {
  /** [2q]: query 2i asks the tail of triple i, 2i + 1 its head. */
  better: Int32Array;
  ties: Int32Array;
}

/** The rank a tie policy gives: optimistic 1 + b, pessimistic 1 + b + t, realistic 1 + b + t / 2. */
export function rankOf(better: number, ties: number, policy: TiePolicy): number {
  if (policy === 'optimistic') return 1 + better;
  if (policy === 'pessimistic') return 1 + better + ties;
  return 1 + better + ties / 2;
}

/** Metrics from rank counts (float64 sums). */
export function summarizeRanks(
  counts: RankCounts,
  policy: TiePolicy,
  side: 'both' | 'head' | 'tail',
): RankSummary {
  let n = 0;
  let sr = 0;
  let srr = 0;
  let h1 = 0;
  let h3 = 0;
  let h10 = 0;
  for (let j = 0; j < counts.better.length; j++) {
    const isTail = (j & 1) === 0;
    if ((side === 'head' && isTail) || (side === 'tail' && !isTail)) continue;
    const rank = rankOf(counts.better[j], counts.ties[j], policy);
    n++;
    sr += rank;
    srr += 1 / rank;
    if (rank <= 1) h1++;
    if (rank <= 3) h3++;
    if (rank <= 10) h10++;
  }
  if (n === 0)
    return {
      mr: Number.NaN,
      mrr: Number.NaN,
      hits1: Number.NaN,
      hits3: Number.NaN,
      hits10: Number.NaN,
    };
  return { mr: sr / n, mrr: srr / n, hits1: h1 / n, hits3: h3 / n, hits10: h10 / n };
}

export function summarize(
  counts: RankCounts,
  filtered: boolean,
  seconds: number,
): LinkPredictionMetrics {
  const sides = (policy: TiePolicy): SideSummary => ({
    both: summarizeRanks(counts, policy, 'both'),
    head: summarizeRanks(counts, policy, 'head'),
    tail: summarizeRanks(counts, policy, 'tail'),
  });
  return {
    triples: counts.better.length / 2,
    filtered,
    realistic: sides('realistic'),
    optimistic: sides('optimistic'),
    pessimistic: sides('pessimistic'),
    seconds,
  };
}

/** Ranks `triples` with an executor whose tables are already set. */
export async function rankWithExecutor(
  exec: Executor,
  triples: TripleSet,
  index: TripleIndexData | null,
  distance: Distance,
  bound = true,
  kernel: RankKernel = 'simd',
): Promise<RankCounts> {
  const shared = exec.workers > 0;
  const q = triples.count * 2;
  const tri = allocArray(Int32Array, triples.count * 3, shared);
  tri.set(triples.data.subarray(0, triples.count * 3));
  const out = allocArray(Int32Array, q * 2, shared);
  await exec.setRankData({ triples: tri, index, out, bound, kernel });
  const counter = allocArray(Int32Array, 1, shared);
  await exec.rank({ queries: q, counter, distance });
  const better = new Int32Array(q);
  const ties = new Int32Array(q);
  for (let j = 0; j < q; j++) {
    better[j] = out[2 * j];
    ties[j] = out[2 * j + 1];
  }
  return { better, ties };
}

export interface EvaluateOptions {
  /** Triples whose other answers are filtered out of each ranking (usually train + valid + test). Empty: raw ranks. */
  filter?: readonly TripleSet[];
  distance?: Distance;
  /** Worker threads (0: the calling thread). Default 2. */
  workers?: number;
  /** JS kernel: skip candidates by a block-sum lower bound on their distance (exact; default true). */
  lowerBound?: boolean;
  /**
   * 'simd' (default where the engine supports WebAssembly SIMD): all candidates scored by an
   * f32x4 kernel, 8 queries per pass over the table, float32 sums. 'js': float64 scalar loops
   * with lower-bound pruning and early abandoning (the reference implementation).
   */
  kernel?: RankKernel;
  /**
   * Sampled protocol (see `sampled_rank.ts`): rank each answer among this many uniformly drawn
   * entities instead of all of them (0 or absent: exact ranking). For graphs of millions of
   * entities; the metrics are those of a K + 1-way choice, higher than exact ones.
   */
  sampledCandidates?: number;
  /** Seed of the sampled candidates (default 1). */
  seed?: number;
}

/** Embedding tables to evaluate (e.g. from `loadEmbeddings` or a training result). */
export interface EmbeddingTables {
  dim: number;
  numEntities: number;
  numRelations: number;
  /** [N * dim] */
  entity: Float32Array;
  /** [R * dim] */
  relation: Float32Array;
}

/** Filtered (or raw) link prediction of `triples` with TransE distances. */
export async function evaluateLinkPrediction(
  emb: EmbeddingTables,
  triples: TripleSet,
  options: EvaluateOptions = {},
): Promise<LinkPredictionMetrics> {
  const workers = options.workers ?? 2;
  if (!Number.isInteger(workers) || workers < 0)
    throw new RangeError(`evaluate: workers must be an integer >= 0; got ${workers}`);
  const distance = options.distance ?? 'L1';
  if (distance !== 'L1' && distance !== 'L2')
    throw new RangeError(`evaluate: distance must be L1 or L2; got ${distance}`);
  if (options.kernel !== undefined && options.kernel !== 'simd' && options.kernel !== 'js')
    throw new RangeError(`evaluate: kernel must be simd or js; got ${options.kernel}`);
  if (
    emb.entity.length !== emb.numEntities * emb.dim ||
    emb.relation.length !== emb.numRelations * emb.dim
  ) {
    throw new RangeError('evaluate: table sizes do not match numEntities/numRelations x dim');
  }
  checkIds(triples, emb.numEntities, emb.numRelations);
  const t0 = performance.now();
  const filter = options.filter ?? [];
  const sampled = options.sampledCandidates ?? 0;
  if (!Number.isInteger(sampled) || sampled < 0)
    throw new RangeError(`evaluate: sampledCandidates must be an integer >= 0; got ${sampled}`);
  if (sampled > 0) {
    const index =
      filter.length > 0
        ? buildTripleIndex(emb.numEntities, emb.numRelations, [...filter, triples])
        : null;
    const counts = rankSampled(emb, triples, {
      candidates: sampled,
      distance,
      index,
      seed: options.seed ?? 1,
    });
    const m = summarize(counts, index !== null, (performance.now() - t0) / 1000);
    return { ...m, sampledCandidates: sampled };
  }
  const shared = workers > 0;
  // Tables already in shared memory (a training result) are used in place: no copy of a large table.
  const inPlace = (a: Float32Array) => !shared || a.buffer instanceof SharedArrayBuffer;
  const entity = inPlace(emb.entity)
    ? emb.entity
    : allocArray(Float32Array, emb.entity.length, true);
  if (entity !== emb.entity) entity.set(emb.entity);
  const relation = inPlace(emb.relation)
    ? emb.relation
    : allocArray(Float32Array, emb.relation.length, true);
  if (relation !== emb.relation) relation.set(emb.relation);
  const tables: Tables = {
    dim: emb.dim,
    numEntities: emb.numEntities,
    numRelations: emb.numRelations,
    entity,
    relation,
    entityAcc: allocArray(Float32Array, 0, shared),
    relationAcc: allocArray(Float32Array, 0, shared),
  };
  const index =
    filter.length > 0
      ? buildTripleIndex(emb.numEntities, emb.numRelations, [...filter, triples], shared)
      : null;
  const exec = createExecutor(workers);
  try {
    await exec.setTables(tables, 1);
    const counts = await rankWithExecutor(
      exec,
      triples,
      index,
      distance,
      options.lowerBound ?? true,
      options.kernel ?? 'simd',
    );
    return summarize(counts, index !== null, (performance.now() - t0) / 1000);
  } finally {
    await exec.close();
  }
}

export function checkIds(triples: TripleSet, numEntities: number, numRelations: number): void {
  const d = triples.data;
  for (let i = 0; i < triples.count; i++) {
    const h = d[3 * i];
    const r = d[3 * i + 1];
    const t = d[3 * i + 2];
    if (h < 0 || h >= numEntities || t < 0 || t >= numEntities || r < 0 || r >= numRelations) {
      throw new RangeError(
        `triple ${i} (${h}, ${r}, ${t}) has an id outside ${numEntities} entities / ${numRelations} relations`,
      );
    }
  }
}

export { RANK_BLOCK };
