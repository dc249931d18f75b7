/**
 * The order an epoch visits the training triples in. `'shuffled'` is one uniform permutation of
 * all of them (OpenKE, DGL-KE). `'head-blocks'` trains under a seeded random renumbering of the
 * entities, cuts the new ids into blocks of consecutive ids whose rows take `blockBytes` each,
 * visits the triples block of heads by block of heads (blocks in a random order, triples shuffled
 * within a block) and draws every fresh head-side negative from the head's own block
 * (`negatives.ts`): PyTorch-BigGraph's random entity partitions, on the head side only. On graphs
 * whose entity table is gigabytes, the step waits for memory, not for arithmetic; within a block
 * the head rows, the head-side negatives' rows, the triples (a renumbered copy grouped by block)
 * and the filter's index entries are a few contiguous megabytes that stay in the processor's
 * caches, so a positive misses on its tail row and a tail-side negative's only. The renumbering
 * keeps blocks random sets of entities whatever order the ids follow (neighbours numbered side by
 * side would otherwise make every head-side negative a near one); the trainer moves the table rows
 * into the new order for training and back for checkpoints and its result (`permuteRows`).
 */
import { Rng } from '@artist-ts/core/rng';
import type { EpochOrderKind, TransEConfig } from './config';
import { FastRng } from './fast_rng';
import type { TripleSet } from './kg_data';
import { allocArray } from './large_buffers';

export type { EpochOrderKind };

/** `'auto'` visits by head blocks when the entity table is larger than this (far beyond any cache). */
export const HEAD_BLOCKS_AUTO_BYTES = 256 * 1024 * 1024;

/**
 * Entities per head block for `cfg` on a graph of `numEntities`; 0 when the epoch is one
 * shuffled order. At least 2 (a head-side negative must be able to differ from the head).
 */
export function headBlockEntities(
  cfg: Pick<TransEConfig, 'epochOrder' | 'blockBytes' | 'dim'>,
  numEntities: number,
): number {
  const rowBytes = cfg.dim * 4;
  const on =
    cfg.epochOrder === 'head-blocks' ||
    (cfg.epochOrder === 'auto' && numEntities * rowBytes > HEAD_BLOCKS_AUTO_BYTES);
  if (!on) return 0;
  return Math.max(2, Math.min(numEntities, Math.floor(cfg.blockBytes / rowBytes)));
}

/** A renumbering of the entities: `toNew[old]` and its inverse `toOld[new]`, [N] each. */
export interface Relabel {
  toNew: Int32Array;
  toOld: Int32Array;
}

/** The seeded random renumbering of `numEntities` entities that training by head blocks uses. */
export function relabelEntities(numEntities: number, seed: number): Relabel {
  const toOld = new Int32Array(numEntities);
  const rng = new FastRng();
  rng.load(new Rng(seed).fork('head-blocks'));
  rng.permutationInto(new Uint32Array(toOld.buffer));
  const toNew = new Int32Array(numEntities);
  for (let i = 0; i < numEntities; i++) toNew[toOld[i]] = i;
  return { toNew, toOld };
}

/** `s` with its heads and tails renumbered by `toNew` (a new set). */
export function relabelTriples(s: TripleSet, toNew: Int32Array): TripleSet {
  const data = new Int32Array(s.count * 3);
  for (let i = 0; i < s.count * 3; i += 3) {
    data[i] = toNew[s.data[i]];
    data[i + 1] = s.data[i + 1];
    data[i + 2] = toNew[s.data[i + 2]];
  }
  return { data, count: s.count };
}

/**
 * Moves row i of `m` (rows of `width` values) to row `dest[i]`, in place: each cycle of the
 * permutation is followed once, with one row of scratch and a bitmap of the rows placed (no
 * second copy of a gigabyte table).
 */
export function permuteRows(m: Float32Array, width: number, dest: Int32Array): void {
  const n = dest.length;
  if (m.length !== n * width)
    throw new RangeError(`permuteRows: ${m.length} values are not ${n} rows of ${width}`);
  const done = new Uint32Array(Math.ceil(n / 32));
  const carry = new Float32Array(width);
  const swap = new Float32Array(width);
  for (let start = 0; start < n; start++) {
    if (done[start >>> 5] & (1 << (start & 31))) continue;
    const so = start * width;
    for (let k = 0; k < width; k++) carry[k] = m[so + k];
    // Follow the cycle: row i's values (in carry) go to dest[i], whose values go on.
    let i = start;
    do {
      done[i >>> 5] |= 1 << (i & 31);
      const jo = dest[i] * width;
      if (width >= 16) {
        // Rows of a table: three block copies beat a scalar swap.
        swap.set(m.subarray(jo, jo + width));
        m.set(carry, jo);
        carry.set(swap);
      } else {
        for (let k = 0; k < width; k++) {
          const v = m[jo + k];
          m[jo + k] = carry[k];
          carry[k] = v;
        }
      }
      i = dest[i];
    } while (i !== start);
  }
}

/** What the epochs of one training run read, and how each epoch's order is drawn. */
export interface EpochPlan {
  /** [count * 3] the triples `order` indexes: the training set, or its renumbered copy grouped by head block. */
  triples: Int32Array;
  /** Entities per head block (consecutive new ids); 0 for one shuffled order. */
  blockEntities: number;
  /** The renumbering the tables train under; null: the dataset's own ids. */
  relabel: Relabel | null;
  /** Fills `order` [count] with the next epoch's visiting order, drawing from `rng`. */
  fill(rng: FastRng, order: Uint32Array): void;
}

/** One uniform permutation per epoch over `triples` as they are. */
export function shuffledPlan(triples: Int32Array): EpochPlan {
  return {
    triples,
    blockEntities: 0,
    relabel: null,
    fill: (rng, order) => rng.permutationInto(order),
  };
}

/**
 * Lanes of a head-block epoch: its blocks are split into this many runs whose steps alternate
 * (step k comes from lane k mod LANES), so two threads that claim consecutive steps work on
 * different blocks instead of writing the same rows from two cores. A constant, not the worker
 * count: the order stays the same whatever the number of workers (a resume may change it).
 */
export const HEAD_BLOCK_LANES = 4;

/**
 * Training by head blocks of `blockEntities` new ids: a copy of `triples` [count * 3] renumbered
 * by `relabel` and grouped by the head's block (counting sort; in a SharedArrayBuffer when
 * `shared`), and per epoch the blocks in a random order, each block's positions shuffled in place,
 * dealt out in steps of `batchSize` from `HEAD_BLOCK_LANES` lanes in turn.
 */
export function headBlockPlan(
  triples: Int32Array,
  count: number,
  relabel: Relabel,
  blockEntities: number,
  batchSize: number,
  shared: boolean,
): EpochPlan {
  const { toNew } = relabel;
  const blocks = Math.ceil(toNew.length / blockEntities);
  const starts = new Float64Array(blocks + 1); // [blocks + 1] first position of each block
  for (let i = 0; i < count; i++) starts[Math.floor(toNew[triples[i * 3]] / blockEntities) + 1]++;
  for (let b = 0; b < blocks; b++) starts[b + 1] += starts[b];
  const next = starts.slice(0, blocks);
  const grouped = allocArray(Int32Array, count * 3, shared);
  for (let i = 0; i < count * 3; i += 3) {
    const h = toNew[triples[i]];
    const dst = next[Math.floor(h / blockEntities)]++ * 3;
    grouped[dst] = h;
    grouped[dst + 1] = triples[i + 1];
    grouped[dst + 2] = toNew[triples[i + 2]];
  }
  const blockOrder = new Uint32Array(blocks);
  const lanes = Math.min(HEAD_BLOCK_LANES, blocks);
  const run = lanes > 1 ? allocArray(Uint32Array, count, false) : null; // [count] before dealing
  return {
    triples: grouped,
    blockEntities,
    relabel,
    fill(rng, order) {
      const out = run ?? order;
      rng.permutationInto(blockOrder);
      let w = 0;
      for (let k = 0; k < blocks; k++) {
        const b = blockOrder[k];
        const s = starts[b];
        const e = starts[b + 1];
        for (let p = s; p < e; p++) out[w + p - s] = p;
        rng.shuffleRange(out, w, w + e - s);
        w += e - s;
      }
      if (run === null) return;
      // Lane j holds positions [j * count / lanes, (j + 1) * count / lanes) of the run; steps are
      // taken from the lanes in turn, a lane that is done is skipped.
      const cursor = new Float64Array(lanes + 1);
      for (let j = 0; j <= lanes; j++) cursor[j] = Math.floor((j * count) / lanes);
      const end = cursor.slice(1);
      let o = 0;
      while (o < count) {
        for (let j = 0; j < lanes; j++) {
          const take = Math.min(batchSize, end[j] - cursor[j]);
          if (take <= 0) continue;
          order.set(run.subarray(cursor[j], cursor[j] + take), o);
          cursor[j] += take;
          o += take;
        }
      }
    },
  };
}

/** The epoch plan `cfg` asks for on this training set. */
export function planEpochs(
  cfg: Pick<TransEConfig, 'epochOrder' | 'blockBytes' | 'dim' | 'seed' | 'batchSize'>,
  triples: Int32Array,
  count: number,
  numEntities: number,
  shared: boolean,
): EpochPlan {
  const size = headBlockEntities(cfg, numEntities);
  if (size === 0) return shuffledPlan(triples);
  const relabel = relabelEntities(numEntities, cfg.seed);
  return headBlockPlan(triples, count, relabel, size, cfg.batchSize, shared);
}
