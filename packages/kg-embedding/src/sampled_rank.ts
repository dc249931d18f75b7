/**
 * Sampled link-prediction ranking, for graphs where exact ranking is too slow (exact filtered
 * ranking scores every entity for every query: 9 M distances per query on CN-DBpedia).
 *
 * Protocol (as OGB's wikikg2 and the large-graph benchmarks of PyTorch-BigGraph and GraphVite):
 * for each query (h, r, ?) or (?, r, t), `candidates` entities are drawn uniformly with
 * replacement from all entities by a seeded stream (`Rng(seed).fork('sampled-rank')`, one stream
 * for the whole call, queries in order: tail query of triple i, then its head query). A draw
 * equal to the answer, or (filtered) forming a known triple, is drawn again (up to 32 times, then
 * kept). The answer is ranked among itself and the K draws: `better` = draws strictly closer,
 * `ties` = draws at the same distance, and the three tie policies apply as in exact ranking. So
 * a sampled rank is in 1 .. K + 1, and the metrics are those of a K + 1-way choice: higher than
 * the exact ones, by an amount that shrinks as K grows (the README gives both on FB15k-237).
 *
 * Distances are float64 sums over the float32 tables in coordinate order (L1, or squared L2:
 * the same order as the L2 distance).
 */
import { Rng } from '@artist-ts/core/rng';
import type { Distance } from './config';
import type { RankCounts } from './evaluate';
import { FastRng, intLimit } from './fast_rng';
import type { TripleSet } from './kg_data';
import { hasTriple, type TripleIndexData } from './triple_index';

export interface SampledRankOptions {
  /** Entities drawn per query (K). */
  candidates: number;
  distance: Distance;
  /** Known triples: draws that form one are drawn again (filtered); null: raw. */
  index: TripleIndexData | null;
  seed: number;
}

/** sum_k |h_k + r_k - t_k| in coordinate order (float64). */
function l1Distance(
  E: Float32Array,
  Rt: Float32Array,
  hO: number,
  rO: number,
  tO: number,
  D: number,
): number {
  let s = 0;
  for (let k = 0; k < D; k++) s += Math.abs(E[hO + k] + Rt[rO + k] - E[tO + k]);
  return s;
}

/** sum_k (h_k + r_k - t_k)^2 in coordinate order (float64): orders as the L2 distance does. */
function l2Squared(
  E: Float32Array,
  Rt: Float32Array,
  hO: number,
  rO: number,
  tO: number,
  D: number,
): number {
  let s = 0;
  for (let k = 0; k < D; k++) {
    const x = E[hO + k] + Rt[rO + k] - E[tO + k];
    s += x * x;
  }
  return s;
}

/** Counts for every query of `triples` against sampled candidates (see the module comment). */
export function rankSampled(
  tables: { dim: number; numEntities: number; entity: Float32Array; relation: Float32Array },
  triples: TripleSet,
  o: SampledRankOptions,
): RankCounts {
  const { dim: D, numEntities: N, entity: E, relation: Rt } = tables;
  const K = o.candidates;
  const dist = o.distance === 'L1' ? l1Distance : l2Squared;
  const rng = new FastRng();
  rng.load(new Rng(o.seed).fork('sampled-rank'));
  const limitN = intLimit(N);
  const q = triples.count * 2;
  const better = new Int32Array(q);
  const ties = new Int32Array(q);
  const d = triples.data;
  for (let j = 0; j < q; j++) {
    const i = j >> 1;
    const h = d[3 * i];
    const r = d[3 * i + 1];
    const t = d[3 * i + 2];
    const tailQuery = (j & 1) === 0;
    const answer = tailQuery ? t : h;
    const target = dist(E, Rt, h * D, r * D, t * D, D);
    let b = 0;
    let tie = 0;
    for (let c = 0; c < K; c++) {
      let e = 0;
      for (let attempt = 0; attempt < 32; attempt++) {
        e = rng.int(N, limitN);
        if (e === answer) continue;
        if (
          o.index !== null &&
          (tailQuery ? hasTriple(o.index, h, r, e) : hasTriple(o.index, e, r, t))
        )
          continue;
        break;
      }
      const de = tailQuery
        ? dist(E, Rt, h * D, r * D, e * D, D)
        : dist(E, Rt, e * D, r * D, t * D, D);
      if (de < target) b++;
      else if (de === target) tie++;
    }
    better[j] = b;
    ties[j] = tie;
  }
  return { better, ties };
}
