/**
 * The set of known triples, for filtered evaluation and for negatives that skip known positives.
 *
 * Two CSR layouts: by head (each head's segment holds sorted keys r * N + t) and by tail (keys
 * r * N + h). A membership test is a binary search in one entity's segment; the answers of a
 * (h, r, ?) query are one contiguous key range. Keys stay below 2^53 for any N * R < 2^53.
 * Buffers can live in SharedArrayBuffers so workers read them without copies.
 */
import type { TripleSet } from './kg_data';
import { allocArray } from './large_buffers';

export interface TripleIndexData {
  numEntities: number;
  numRelations: number;
  /** [N + 1] segment starts into headKeys. */
  headOffsets: Int32Array;
  /** [M] sorted within each head segment: r * N + t. */
  headKeys: Float64Array;
  tailOffsets: Int32Array;
  /** [M] sorted within each tail segment: r * N + h. */
  tailKeys: Float64Array;
  /**
   * A one-hash bitmap of the triples (about 32 bits per triple): a clear bit proves a triple
   * unknown without the binary search, which is the common case for sampled negatives.
   */
  bloom?: Uint32Array;
}

/** The bitmap bit of (h, r, t): `bloom[bit >>> 5] & (1 << (bit & 31))`, with `mask` = bits - 1. */
export function tripleHash(h: number, r: number, t: number, mask: number): number {
  let x =
    Math.imul(h, 0x9e3779b1) ^ Math.imul(r + 0x7f4a7c15, 0x85ebca6b) ^ Math.imul(t, 0xc2b2ae35);
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) & mask;
}

/**
 * Builds the index over the union of `sets` (duplicates removed), with its bitmap unless `bitmap`
 * is false (lookups whose segments are in cache, as under head blocks, do better without it).
 */
export function buildTripleIndex(
  numEntities: number,
  numRelations: number,
  sets: readonly TripleSet[],
  shared = false,
  bitmap = true,
): TripleIndexData {
  if (numEntities * numRelations >= 2 ** 53) {
    throw new RangeError(
      `triple index: ${numEntities} entities x ${numRelations} relations overflow 2^53`,
    );
  }
  const build = (keyOf: 0 | 2, otherOf: 0 | 2) => {
    const counts = new Int32Array(numEntities + 1);
    for (const s of sets) for (let i = 0; i < s.count; i++) counts[s.data[3 * i + keyOf] + 1]++;
    for (let e = 0; e < numEntities; e++) counts[e + 1] += counts[e];
    const total = counts[numEntities];
    // Filled, sorted and compacted in place (duplicates are few): no second copy of the keys.
    const keys = allocArray(Float64Array, total, shared);
    const fill = counts.slice(0, numEntities);
    for (const s of sets) {
      const d = s.data;
      for (let i = 0; i < s.count; i++) {
        const e = d[3 * i + keyOf];
        keys[fill[e]++] = d[3 * i + 1] * numEntities + d[3 * i + otherOf];
      }
    }
    // Sort each segment and drop duplicates, compacting in place.
    const offsets = allocArray(Int32Array, numEntities + 1, shared);
    let w = 0;
    for (let e = 0; e < numEntities; e++) {
      const seg = keys.subarray(counts[e], counts[e + 1]).sort();
      offsets[e] = w;
      for (let j = 0; j < seg.length; j++) {
        if (j > 0 && seg[j] === seg[j - 1]) continue;
        keys[w++] = seg[j];
      }
    }
    offsets[numEntities] = w;
    return { offsets, keys: keys.subarray(0, w) };
  };
  const byHead = build(0, 2);
  const byTail = build(2, 0);
  const index: TripleIndexData = {
    numEntities,
    numRelations,
    headOffsets: byHead.offsets,
    headKeys: byHead.keys,
    tailOffsets: byTail.offsets,
    tailKeys: byTail.keys,
  };
  if (!bitmap) return index;
  // Bitmap: a power of two >= 32 bits per distinct triple (at least 1024 bits).
  const M = byHead.keys.length;
  let bits = 1024;
  while (bits < 32 * M && bits < 2 ** 31) bits *= 2;
  const bloom = allocArray(Uint32Array, bits / 32, shared);
  const mask = bits - 1;
  for (let h = 0; h < numEntities; h++) {
    for (let i = byHead.offsets[h]; i < byHead.offsets[h + 1]; i++) {
      const key = byHead.keys[i];
      const r = Math.floor(key / numEntities);
      const bit = tripleHash(h, r, key - r * numEntities, mask);
      bloom[bit >>> 5] |= 1 << (bit & 31);
    }
  }
  return { ...index, bloom };
}

/** First index in [lo, hi) with keys[i] >= key. */
export function lowerBound(keys: Float64Array, lo: number, hi: number, key: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Is (h, r, t) a known triple? */
export function hasTriple(ix: TripleIndexData, h: number, r: number, t: number): boolean {
  const bloom = ix.bloom;
  if (bloom !== undefined) {
    const bit = tripleHash(h, r, t, bloom.length * 32 - 1);
    if ((bloom[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
  }
  const key = r * ix.numEntities + t;
  const end = ix.headOffsets[h + 1];
  const i = lowerBound(ix.headKeys, ix.headOffsets[h], end, key);
  return i < end && ix.headKeys[i] === key;
}

/** Known tails of (h, r, ?), ascending. */
export function knownTails(ix: TripleIndexData, h: number, r: number): number[] {
  return range(ix.headKeys, ix.headOffsets[h], ix.headOffsets[h + 1], r, ix.numEntities);
}

/** Known heads of (?, r, t), ascending. */
export function knownHeads(ix: TripleIndexData, r: number, t: number): number[] {
  return range(ix.tailKeys, ix.tailOffsets[t], ix.tailOffsets[t + 1], r, ix.numEntities);
}

function range(keys: Float64Array, lo: number, hi: number, r: number, n: number): number[] {
  const base = r * n;
  const out: number[] = [];
  for (let i = lowerBound(keys, lo, hi, base); i < hi && keys[i] < base + n; i++)
    out.push(keys[i] - base);
  return out;
}

/**
 * Bernoulli corruption probabilities (Wang et al. 2014): for each relation, the probability of
 * replacing the head, tph / (tph + hpt), from the training triples.
 *
 * Distinct (head, relation) and (tail, relation) pairs are counted without a Set (V8 caps a Set at
 * 2^24 entries, far fewer than a large graph's pairs): the triples are grouped by relation with a
 * counting sort (one Uint32Array of n), then one Int32Array per side remembers the last relation
 * that saw each entity. O(n + N + R) time, 4n + 8N bytes.
 */
export function bernoulliHeadProbabilities(train: TripleSet, numRelations: number): Float64Array {
  const d = train.data;
  const n = train.count;
  const triples = new Float64Array(numRelations);
  let maxEntity = 0;
  for (let i = 0; i < n; i++) {
    triples[d[3 * i + 1]]++;
    if (d[3 * i] > maxEntity) maxEntity = d[3 * i];
    if (d[3 * i + 2] > maxEntity) maxEntity = d[3 * i + 2];
  }
  const start = new Float64Array(numRelations + 1);
  for (let r = 0; r < numRelations; r++) start[r + 1] = start[r] + triples[r];
  const fill = start.slice(0, numRelations);
  const byRelation = new Uint32Array(n);
  for (let i = 0; i < n; i++) byRelation[fill[d[3 * i + 1]]++] = i;
  const lastHeadRel = new Int32Array(maxEntity + 1).fill(-1);
  const lastTailRel = new Int32Array(maxEntity + 1).fill(-1);
  const heads = new Float64Array(numRelations);
  const tails = new Float64Array(numRelations);
  for (let r = 0; r < numRelations; r++) {
    for (let j = start[r]; j < start[r + 1]; j++) {
      const i = byRelation[j];
      const h = d[3 * i];
      const t = d[3 * i + 2];
      if (lastHeadRel[h] !== r) {
        lastHeadRel[h] = r;
        heads[r]++;
      }
      if (lastTailRel[t] !== r) {
        lastTailRel[t] = r;
        tails[r]++;
      }
    }
  }
  const p = new Float64Array(numRelations);
  for (let r = 0; r < numRelations; r++) {
    if (triples[r] === 0) {
      p[r] = 0.5;
      continue;
    }
    const tph = triples[r] / heads[r];
    const hpt = triples[r] / tails[r];
    p[r] = tph / (tph + hpt);
  }
  return p;
}
