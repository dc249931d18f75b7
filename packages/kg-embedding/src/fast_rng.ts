/**
 * Random streams of the sampling loops: `FastRng` (the core `Rng` stream, xoshiro128**, stepped
 * with its state in number fields) and the per-step seed that makes a step's negatives independent
 * of the thread that runs it.
 */
import { RNG_ALGORITHM, type Rng } from '@artist-ts/core/rng';

function fmix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The seed of one step's RNG stream: independent of which worker runs the step. */
export function stepSeed(seed: number, epoch: number, step: number): number {
  let h = fmix32(seed ^ 0x9e3779b9);
  h = fmix32(h ^ fmix32(epoch + 0x7f4a7c15));
  return fmix32(h ^ fmix32(step + 0x165667b1));
}

/**
 * The `Rng` stream (xoshiro128**) with its state in four number fields, for the sampling loops:
 * `load` copies an `Rng`'s state in, `store` writes it back, and `next` / `int` give exactly the
 * values `Rng.nextUint32` / `Rng.int` would (int without the argument check and the double
 * modulo: floor(x / n) is exact for x < 2^32).
 */
export class FastRng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private words: number[] = [0, 0, 0, 0];

  load(rng: Rng): void {
    const st = rng.getState();
    this.words = st.words;
    this.a = st.words[0] | 0;
    this.b = st.words[1] | 0;
    this.c = st.words[2] | 0;
    this.d = st.words[3] | 0;
  }

  store(rng: Rng): void {
    const w = this.words.slice();
    w[0] = this.a >>> 0;
    w[1] = this.b >>> 0;
    w[2] = this.c >>> 0;
    w[3] = this.d >>> 0;
    rng.setState({ algorithm: RNG_ALGORITHM, words: w });
  }

  next(): number {
    const s1 = this.b;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    let c = this.c ^ this.a;
    const d = this.d ^ s1;
    this.b = s1 ^ c;
    this.a = this.a ^ d;
    c ^= t;
    this.c = c;
    this.d = (d << 11) | (d >>> 21);
    return result;
  }

  /**
   * Fills `out` with the permutation `Rng.permutation(out.length)` would return (identity, then
   * Fisher-Yates from the end), without allocating.
   */
  permutationInto(out: Uint32Array): void {
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = i;
    this.shuffleRange(out, 0, n);
  }

  /** Fisher-Yates over `out[start .. end)` from the end (what `permutationInto` applies to the identity). */
  shuffleRange(out: Uint32Array, start: number, end: number): void {
    for (let i = end - 1; i > start; i--) {
      const m = i - start + 1;
      const j = start + this.int(m, intLimit(m));
      const tmp = out[i];
      out[i] = out[j];
      out[j] = tmp;
    }
  }

  /** Uniform integer in [0, n); `limit` = `intLimit(n)`, computed once by callers in hot loops. */
  int(n: number, limit: number): number {
    for (;;) {
      const x = this.next();
      if (x < limit) return x - Math.floor(x / n) * n;
    }
  }
}

/** The rejection bound of `FastRng.int(n, limit)`: 2^32 - (2^32 mod n), below which x mod n is uniform. */
export function intLimit(n: number): number {
  return 4294967296 - (4294967296 % n);
}
