/**
 * Negative sampling, one loop for every step variant (classic and general, JavaScript and SIMD):
 * per positive, optionally a fresh shared draw every `sharedNegatives` positives, then for each of
 * the K negatives a corruption side (uniform or Bernoulli coin) and an entity that is not the
 * positive's own and (with `filterNegatives`) does not form a known training triple. Under head
 * blocks (`epoch_order.ts`) a fresh head-side entity comes from the head's block. The RNG calls
 * and their order define the negatives, so every variant draws exactly the same ones.
 */
import type { Rng } from '@artist-ts/core/rng';
import { type FastRng, intLimit } from './fast_rng';
import type { KernelConfig, TrainData } from './kernel';
import type { TripleIndexData } from './triple_index';

/** Is (h, r, t) in the index? (inlined copy of triple_index.hasTriple: no cross-module call in the loop) */
function known(ix: TripleIndexData, h: number, r: number, t: number): boolean {
  const bloom = ix.bloom;
  if (bloom !== undefined) {
    // Same hash as triple_index.tripleHash; a clear bit proves the triple unknown.
    let x =
      Math.imul(h, 0x9e3779b1) ^ Math.imul(r + 0x7f4a7c15, 0x85ebca6b) ^ Math.imul(t, 0xc2b2ae35);
    x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
    x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
    const bit = (x ^ (x >>> 16)) & (bloom.length * 32 - 1);
    if ((bloom[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
  }
  const keys = ix.headKeys;
  const key = r * ix.numEntities + t;
  let lo = ix.headOffsets[h];
  const end = ix.headOffsets[h + 1];
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < end && keys[lo] === key;
}

/**
 * The negatives of one step's positives, drawn from the thread's `FastRng` (loaded from the step's
 * `Rng` by `begin`, stored back by `end`). After `draw`, `ent[i]` is negative i's entity and
 * `head[i]` is 1 when it replaces the head.
 */
export class NegativeSampler {
  /** [K] the drawn entities. */
  readonly ent: Int32Array;
  /** [K] 1: the head is replaced, 0: the tail. */
  readonly head: Uint8Array;
  /** [K] entities shared by `sharedNegatives` consecutive positives. */
  readonly shared: Int32Array;
  private rng: FastRng | null = null;
  private state: Rng | null = null;
  private N = 2;
  private limitN = 0;
  private share = 1;
  private bern = false;
  private headProb: Float64Array = new Float64Array(0);
  private ix: TripleIndexData | null = null;
  private block = 0;
  private blockLimit = 0;

  constructor(negatives: number) {
    this.ent = new Int32Array(negatives);
    this.head = new Uint8Array(negatives);
    this.shared = new Int32Array(negatives);
  }

  /** Prepares a step over `data` with `cfg`: `rng` takes the step's stream from `state`. */
  begin(rng: FastRng, state: Rng, numEntities: number, data: TrainData, cfg: KernelConfig): void {
    rng.load(state);
    this.rng = rng;
    this.state = state;
    this.N = numEntities;
    this.limitN = intLimit(numEntities);
    this.share = cfg.sharedNegatives;
    this.bern = cfg.corruption === 'bernoulli';
    this.headProb = data.headProb;
    this.ix = cfg.filterNegatives ? data.index : null;
    this.block = data.blockEntities;
    this.blockLimit = this.block > 0 ? intLimit(this.block) : 0;
  }

  /** A fresh head-side entity: from the head's block under head blocks, else from all. */
  private headSide(rng: FastRng, h: number): number {
    const B = this.block;
    if (B === 0) return rng.int(this.N, this.limitN);
    const lo = h - (h % B);
    const size = Math.min(B, this.N - lo);
    if (size === B) return lo + rng.int(B, this.blockLimit);
    if (size < 2) return rng.int(this.N, this.limitN);
    return lo + rng.int(size, intLimit(size));
  }

  /** Ends the step: the stream's state goes back to the step's `Rng`. */
  end(): void {
    (this.rng as FastRng).store(this.state as Rng);
  }

  /** Draws K negatives of positive (h, r, t), the `k`-th positive of its step (0-based). */
  draw(k: number, h: number, r: number, t: number, K: number): void {
    const rng = this.rng as FastRng;
    const N = this.N;
    const limitN = this.limitN;
    const share = this.share;
    const ix = this.ix;
    const shared = this.shared;
    if (share > 1 && k % share === 0) for (let i = 0; i < K; i++) shared[i] = rng.int(N, limitN);
    const headCut = (this.bern ? this.headProb[r] : 0.5) * 4294967296;
    for (let i = 0; i < K; i++) {
      const corruptHead = rng.next() < headCut;
      // A shared entity that is invalid for this positive (its own entity, or a known triple) is
      // replaced by a fresh draw; after 32 attempts the last draw is kept.
      let e = 0;
      for (let attempt = 0; attempt < 32; attempt++) {
        if (attempt === 0 && share > 1) e = shared[i];
        else e = corruptHead ? this.headSide(rng, h) : rng.int(N, limitN);
        if (corruptHead) {
          if (e === h) continue;
          if (ix !== null && known(ix, e, r, t)) continue;
        } else {
          if (e === t) continue;
          if (ix !== null && known(ix, h, r, e)) continue;
        }
        break;
      }
      this.ent[i] = e;
      this.head[i] = corruptHead ? 1 : 0;
    }
  }
}
