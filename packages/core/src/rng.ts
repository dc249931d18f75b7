/**
 * Seeded random numbers for every package: weight init, shuffling, negative sampling, dropout
 * masks, sampling. The generator is xoshiro128** (Blackman & Vigna), seeded through splitmix32,
 * so a stream is fully described by four uint32 words that checkpoints store and restore.
 *
 * This entry does not load tfjs (`@artist-ts/core/rng`).
 */

export const RNG_ALGORITHM = 'xoshiro128**';

/** Serializable state of one stream. */
export interface RngState {
  algorithm: string;
  words: number[];
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function hashString(text: string): number {
  // FNV-1a, 32 bit: derives a stream seed from a label.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class Rng {
  private readonly s = new Uint32Array(4);
  private spareNormal: number | null = null;

  /** `seed` is any integer (taken modulo 2^32) or a string label. */
  constructor(seed: number | string = 0) {
    this.reseed(seed);
  }

  reseed(seed: number | string): void {
    const value = typeof seed === 'string' ? hashString(seed) : seed;
    if (!Number.isFinite(value))
      throw new RangeError(`Rng seed must be a finite number, got ${seed}`);
    const next = splitmix32(Math.floor(value) >>> 0);
    for (let i = 0; i < 4; i++) this.s[i] = next();
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
    this.spareNormal = null;
  }

  /** An independent stream derived from this one's current state and a label; this one is not advanced. */
  fork(label: string): Rng {
    const child = new Rng(0);
    const h = hashString(label);
    const mix = splitmix32(
      h ^ this.s[0] ^ Math.imul(this.s[1], 3) ^ Math.imul(this.s[2], 5) ^ this.s[3],
    );
    for (let i = 0; i < 4; i++) child.s[i] = mix() ^ this.s[i];
    if ((child.s[0] | child.s[1] | child.s[2] | child.s[3]) === 0) child.s[0] = 1;
    return child;
  }

  /** Next uint32 in [0, 2^32). */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n) without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) {
      throw new RangeError(`Rng.int(n) needs an integer 1 <= n <= 2^32, got ${n}`);
    }
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal (Marsaglia polar method). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const r = u * u + v * v;
      if (r > 0 && r < 1) {
        const f = Math.sqrt((-2 * Math.log(r)) / r);
        this.spareNormal = v * f;
        return u * f;
      }
    }
  }

  /** Fills `out` with N(mean, std^2) samples, optionally truncated at 2 std (as tf.truncatedNormal). */
  fillNormal(out: Float32Array, mean = 0, std = 1, truncated = false): Float32Array {
    for (let i = 0; i < out.length; i++) {
      let z = this.normal();
      while (truncated && Math.abs(z) > 2) z = this.normal();
      out[i] = mean + std * z;
    }
    return out;
  }

  /** Fills `out` with U[lo, hi) samples. */
  fillUniform(out: Float32Array, lo = 0, hi = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** Index drawn from unnormalised non-negative weights. */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i];
    if (!(total > 0)) throw new RangeError('Rng.categorical needs at least one positive weight');
    let u = this.uniform() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  getState(): RngState {
    // The cached spare normal is part of the stream; store it as a fifth and sixth word pair.
    const words = Array.from(this.s);
    if (this.spareNormal !== null) {
      const buf = new DataView(new ArrayBuffer(8));
      buf.setFloat64(0, this.spareNormal);
      words.push(buf.getUint32(0), buf.getUint32(4));
    }
    return { algorithm: RNG_ALGORITHM, words };
  }

  setState(state: RngState): void {
    if (state.algorithm !== RNG_ALGORITHM) {
      throw new Error(`RNG state algorithm '${state.algorithm}' is not '${RNG_ALGORITHM}'`);
    }
    if (state.words.length !== 4 && state.words.length !== 6) {
      throw new Error(`RNG state needs 4 or 6 words, got ${state.words.length}`);
    }
    for (let i = 0; i < 4; i++) this.s[i] = state.words[i] >>> 0;
    if (state.words.length === 6) {
      const buf = new DataView(new ArrayBuffer(8));
      buf.setUint32(0, state.words[4] >>> 0);
      buf.setUint32(4, state.words[5] >>> 0);
      this.spareNormal = buf.getFloat64(0);
    } else {
      this.spareNormal = null;
    }
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
