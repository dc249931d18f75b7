/**
 * Codebook health: usage counts, perplexity, dead-code restart from recent encoder outputs, and
 * k-means initialisation. Statistics are counted in float64 TypeScript.
 */
import type { Rng } from '@artist-ts/core/rng';
import * as tf from '@tensorflow/tfjs';
import { nearestCodes, oneHotFloat } from './quantizer';

export interface CodebookStats {
  /** Codes hit at least once / codebook size. */
  usage: number;
  /** Codes hit at least once. */
  usedCodes: number;
  /** exp(entropy) of the code histogram (nEmbed when uniform, 1 when collapsed). */
  perplexity: number;
  /** Code assignments counted. */
  assignments: number;
}

/** Usage fraction and perplexity of a histogram of code counts. */
export function codebookStats(counts: ArrayLike<number>): CodebookStats {
  let total = 0;
  let used = 0;
  for (let i = 0; i < counts.length; i++) {
    total += counts[i];
    if (counts[i] > 0) used += 1;
  }
  let entropy = 0;
  if (total > 0) {
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] > 0) {
        const p = counts[i] / total;
        entropy -= p * Math.log(p);
      }
    }
  }
  return {
    usage: used / counts.length,
    usedCodes: used,
    perplexity: Math.exp(entropy),
    assignments: total,
  };
}

/** Adds code indices to a histogram. */
export function countCodes(counts: Float64Array, indices: ArrayLike<number>): void {
  for (let i = 0; i < indices.length; i++) counts[indices[i]] += 1;
}

/**
 * A ring buffer of recent encoder outputs (rows of length dim), the source of restarted codes
 * (as in Jukebox / vector-quantize-pytorch's `kmeans`/`threshold_ema_dead_code`).
 */
export class LatentReservoir {
  readonly data: Float32Array;
  /** Rows filled so far (<= capacity). */
  filled = 0;
  /** Next row to overwrite. */
  next = 0;

  constructor(
    readonly capacity: number,
    readonly dim: number,
  ) {
    this.data = new Float32Array(capacity * dim);
  }

  /** Adds `rows` latents ([rows * dim] values); keeps at most `perCall` of them, chosen by `rng`. */
  add(values: Float32Array, rng: Rng, perCall = this.capacity): void {
    const rows = values.length / this.dim;
    const take = Math.min(rows, perCall, this.capacity);
    const pick = take < rows ? rng.permutation(rows).subarray(0, take) : null;
    for (let i = 0; i < take; i++) {
      const r = pick ? pick[i] : i;
      this.data.set(values.subarray(r * this.dim, (r + 1) * this.dim), this.next * this.dim);
      this.next = (this.next + 1) % this.capacity;
      if (this.filled < this.capacity) this.filled += 1;
    }
  }

  /** `n` distinct rows (or with repetition when fewer are stored). */
  sample(n: number, rng: Rng): Float32Array {
    if (this.filled === 0) throw new Error('LatentReservoir.sample: the reservoir is empty');
    const out = new Float32Array(n * this.dim);
    const perm = rng.permutation(this.filled);
    for (let i = 0; i < n; i++) {
      const r = i < this.filled ? perm[i] : rng.int(this.filled);
      out.set(this.data.subarray(r * this.dim, (r + 1) * this.dim), i * this.dim);
    }
    return out;
  }

  restore(data: Float32Array, filled: number, next: number): void {
    if (data.length !== this.data.length) {
      throw new Error(
        `LatentReservoir.restore: expected ${this.data.length} values, got ${data.length}`,
      );
    }
    this.data.set(data);
    this.filled = filled;
    this.next = next;
  }
}

/**
 * Replaces codebook rows whose hit count is below `threshold` with latents sampled from the
 * reservoir. Returns the restarted code indices.
 */
export function restartDeadCodes(
  codebook: tf.Variable<tf.Rank.R2>,
  hits: ArrayLike<number>,
  threshold: number,
  reservoir: LatentReservoir,
  rng: Rng,
): number[] {
  const dead: number[] = [];
  for (let i = 0; i < hits.length; i++) if (hits[i] < threshold) dead.push(i);
  if (dead.length === 0 || reservoir.filled === 0) return [];
  const [k, d] = codebook.shape;
  const table = Float32Array.from(codebook.dataSync() as Float32Array); // [k, d]
  const fresh = reservoir.sample(dead.length, rng);
  for (let i = 0; i < dead.length; i++) table.set(fresh.subarray(i * d, (i + 1) * d), dead[i] * d);
  tf.tidy(() => codebook.assign(tf.tensor2d(table, [k, d])));
  return dead;
}

export interface KMeansOptions {
  iterations: number;
}

/**
 * k-means (k-means++ seeding, then Lloyd iterations) of `points` [n, d] into `k` centroids [k, d].
 * With fewer points than k, the remaining centroids repeat random points. Deterministic given rng.
 */
export function kmeans(
  points: Float32Array,
  dim: number,
  k: number,
  rng: Rng,
  options: KMeansOptions,
): Float32Array {
  const n = points.length / dim;
  if (!Number.isInteger(n) || n === 0)
    throw new Error(`kmeans: points must hold whole rows of ${dim}, got ${points.length} values`);
  const centroids = new Float32Array(k * dim);
  // k-means++ seeding (float64 distances).
  const nearest = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  let chosen = rng.int(n);
  const seeds = Math.min(k, n);
  for (let c = 0; c < seeds; c++) {
    centroids.set(points.subarray(chosen * dim, (chosen + 1) * dim), c * dim);
    if (c === seeds - 1) break;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) {
        const diff = points[i * dim + j] - centroids[c * dim + j];
        s += diff * diff;
      }
      if (s < nearest[i]) nearest[i] = s;
    }
    let total = 0;
    for (let i = 0; i < n; i++) total += nearest[i];
    chosen = total > 0 ? rng.categorical(nearest) : rng.int(n);
  }
  for (let c = seeds; c < k; c++) {
    const r = rng.int(n);
    centroids.set(points.subarray(r * dim, (r + 1) * dim), c * dim);
  }
  if (n <= k) return centroids;
  // Lloyd iterations with tfjs distances; empty clusters keep their centroid.
  const pts = tf.tensor2d(points, [n, dim]);
  let cent = tf.tensor2d(centroids, [k, dim]);
  for (let it = 0; it < options.iterations; it++) {
    const next = tf.tidy(() => {
      const assign = nearestCodes(pts, cent); // [n]
      const oneHot = oneHotFloat(assign, k); // [n, k]
      const sums = tf.matMul(oneHot, pts, true, false); // [k, d]
      const counts = tf.sum(oneHot, 0).reshape([k, 1]); // [k, 1]
      const mean = tf.div(sums, tf.maximum(counts, 1));
      return tf.where(tf.greater(counts, 0).tile([1, dim]), mean, cent) as tf.Tensor2D;
    });
    cent.dispose();
    cent = next;
  }
  const out = Float32Array.from(cent.dataSync() as Float32Array);
  tf.dispose([pts, cent]);
  return out;
}
