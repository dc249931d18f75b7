/**
 * Feature statistics (mean and covariance) in float64, streamed batch by batch, and their `.npz`
 * files in the layout of pytorch-fid / clean-fid / TTUR (`mu`, `sigma`). Does not load tfjs.
 */
import { readFile } from 'node:fs/promises';
import { atomicWriteFile } from '@artist-ts/core/files';
import { decodeNpz, encodeNpz, type NpyArray, NpyFormatError } from './npy';
import { type FeatureProtocol, validateFeatureProtocol } from './protocol';

/** Mean and covariance (ddof = 1, as `np.cov(x, rowvar=False)`) of a feature set. */
export interface FeatureStats {
  /** [d] */
  mu: Float64Array;
  /** [d, d] row-major, symmetric. */
  sigma: Float64Array;
  dim: number;
  /** Number of feature vectors; undefined for external files that do not record it. */
  count?: number;
  protocol?: FeatureProtocol;
}

/** A batch or a whole set of feature vectors: `count` rows of `dim` values, row-major. */
export interface FeatureMatrix {
  data: Float32Array | Float64Array;
  count: number;
  dim: number;
}

function checkMatrix(m: FeatureMatrix, where: string): void {
  if (!Number.isInteger(m.dim) || m.dim <= 0)
    throw new RangeError(`${where}.dim: expected a positive integer, got ${m.dim}`);
  if (!Number.isInteger(m.count) || m.count < 0)
    throw new RangeError(`${where}.count: expected a non-negative integer, got ${m.count}`);
  if (m.data.length !== m.count * m.dim) {
    throw new RangeError(
      `${where}.data: expected count*dim = ${m.count * m.dim} values, got ${m.data.length}`,
    );
  }
}

/**
 * Streaming mean and covariance in float64. Each batch is centred on its own mean and merged with
 * Chan et al.'s pairwise update, so the result matches a two-pass computation to rounding even
 * when features have a large common offset (no E[xx^T] - mu mu^T cancellation).
 */
export class StatsAccumulator {
  readonly dim: number;
  private n = 0;
  private readonly mean: Float64Array;
  /** Upper triangle of the co-moment sum(x - mean)(x - mean)^T. */
  private readonly comoment: Float64Array;
  private readonly bmean: Float64Array;
  private readonly y: Float64Array;

  constructor(dim: number) {
    if (!Number.isInteger(dim) || dim <= 0)
      throw new RangeError(`StatsAccumulator: dim must be a positive integer, got ${dim}`);
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.comoment = new Float64Array(dim * dim);
    this.bmean = new Float64Array(dim);
    this.y = new Float64Array(dim);
  }

  /** Number of vectors seen so far. */
  get count(): number {
    return this.n;
  }

  /** Adds `rows` vectors (default: all of `data`) stored row-major. Non-finite values are rejected. */
  add(data: ArrayLike<number>, rows = data.length / this.dim): this {
    const d = this.dim;
    if (!Number.isInteger(rows) || rows < 0 || rows * d > data.length) {
      throw new RangeError(
        `StatsAccumulator.add: ${data.length} values is not ${rows} rows of dim ${d}`,
      );
    }
    if (rows === 0) return this;
    const bm = this.bmean;
    bm.fill(0);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      for (let i = 0; i < d; i++) {
        const x = data[o + i]!;
        if (!Number.isFinite(x))
          throw new RangeError(
            `StatsAccumulator.add: non-finite feature ${x} at row ${r}, column ${i}`,
          );
        bm[i]! += x;
      }
    }
    for (let i = 0; i < d; i++) bm[i]! /= rows;
    const na = this.n;
    const nb = rows;
    const n = na + nb;
    const c = this.comoment;
    const y = this.y;
    // Batch co-moment, upper triangle.
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      for (let i = 0; i < d; i++) y[i] = data[o + i]! - bm[i]!;
      for (let i = 0; i < d; i++) {
        const yi = y[i]!;
        if (yi === 0) continue;
        const ri = i * d;
        for (let j = i; j < d; j++) c[ri + j]! += yi * y[j]!;
      }
    }
    // Merge: C += delta delta^T * na nb / n; mean += delta nb / n.
    if (na > 0) {
      const f = (na * nb) / n;
      for (let i = 0; i < d; i++) y[i] = bm[i]! - this.mean[i]!;
      for (let i = 0; i < d; i++) {
        const yi = y[i]! * f;
        const ri = i * d;
        for (let j = i; j < d; j++) c[ri + j]! += yi * y[j]!;
      }
      for (let i = 0; i < d; i++) this.mean[i]! += (y[i]! * nb) / n;
    } else {
      this.mean.set(bm);
    }
    this.n = n;
    return this;
  }

  /** Merges another accumulator of the same dim (e.g. from another worker). */
  merge(other: StatsAccumulator): this {
    if (other.dim !== this.dim)
      throw new RangeError(`StatsAccumulator.merge: dim ${other.dim} != ${this.dim}`);
    const na = this.n;
    const nb = other.n;
    if (nb === 0) return this;
    const d = this.dim;
    const n = na + nb;
    const c = this.comoment;
    for (let k = 0; k < c.length; k++) c[k]! += other.comoment[k]!;
    if (na > 0) {
      const f = (na * nb) / n;
      const y = this.y;
      for (let i = 0; i < d; i++) y[i] = other.mean[i]! - this.mean[i]!;
      for (let i = 0; i < d; i++) {
        const yi = y[i]! * f;
        for (let j = i; j < d; j++) c[i * d + j]! += yi * y[j]!;
      }
      for (let i = 0; i < d; i++) this.mean[i]! += (y[i]! * nb) / n;
    } else {
      this.mean.set(other.mean);
    }
    this.n = n;
    return this;
  }

  /** Mean and covariance with ddof = 1 (needs at least 2 vectors). */
  finalize(protocol?: FeatureProtocol): FeatureStats {
    const d = this.dim;
    if (this.n < 2)
      throw new RangeError(
        `StatsAccumulator.finalize: need at least 2 feature vectors, got ${this.n}`,
      );
    const sigma = new Float64Array(d * d);
    const inv = 1 / (this.n - 1);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const v = this.comoment[i * d + j]! * inv;
        sigma[i * d + j] = v;
        sigma[j * d + i] = v;
      }
    }
    const stats: FeatureStats = { mu: Float64Array.from(this.mean), sigma, dim: d, count: this.n };
    if (protocol) stats.protocol = protocol;
    return stats;
  }
}

/** Mean and covariance of a whole feature matrix (two-pass, float64). */
export function computeStats(features: FeatureMatrix, protocol?: FeatureProtocol): FeatureStats {
  checkMatrix(features, 'features');
  return new StatsAccumulator(features.dim).add(features.data, features.count).finalize(protocol);
}

/** Checks shapes and finiteness of statistics; errors name the field (`where.mu[3]`). */
export function validateStats(stats: FeatureStats, where = 'stats'): FeatureStats {
  const d = stats.dim;
  if (!Number.isInteger(d) || d <= 0)
    throw new RangeError(`${where}.dim: expected a positive integer, got ${d}`);
  if (stats.mu.length !== d)
    throw new RangeError(`${where}.mu: expected ${d} values, got ${stats.mu.length}`);
  if (stats.sigma.length !== d * d)
    throw new RangeError(`${where}.sigma: expected ${d}x${d} values, got ${stats.sigma.length}`);
  for (let i = 0; i < d; i++)
    if (!Number.isFinite(stats.mu[i]))
      throw new RangeError(`${where}.mu[${i}] is not finite (${stats.mu[i]})`);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const a = stats.sigma[i * d + j]!;
      const b = stats.sigma[j * d + i]!;
      if (!Number.isFinite(a))
        throw new RangeError(`${where}.sigma[${i}][${j}] is not finite (${a})`);
      if (Math.abs(a - b) > 1e-9 * (Math.abs(a) + Math.abs(b)) + 1e-300) {
        throw new RangeError(
          `${where}.sigma is not symmetric: [${i}][${j}] = ${a} but [${j}][${i}] = ${b}`,
        );
      }
    }
  }
  return stats;
}

/** Options for {@link saveStatsNpz}. */
export interface SaveStatsOptions {
  /** Deflate the archive like `np.savez_compressed` (default false, like pytorch-fid's `np.savez`). */
  compress?: boolean;
  /** Also store the raw features (float32, key `features`) so KID can reuse them. */
  features?: FeatureMatrix;
  /** Identity of the image set (key `source`), checked by cached statistics. */
  sourceId?: string;
}

/**
 * Writes `mu` and `sigma` (float64) as `.npz`, atomically, readable by pytorch-fid/clean-fid
 * (`np.load(path)['mu']`). The protocol (JSON string, key `protocol`), the count (int64, key
 * `count`) and optionally the features are extra keys those tools ignore.
 */
export async function saveStatsNpz(
  path: string,
  stats: FeatureStats,
  options: SaveStatsOptions = {},
): Promise<void> {
  await atomicWriteFile(path, encodeStatsNpz(stats, options));
}

/** The bytes {@link saveStatsNpz} writes. */
export function encodeStatsNpz(stats: FeatureStats, options: SaveStatsOptions = {}): Uint8Array {
  validateStats(stats);
  const d = stats.dim;
  const arrays: Record<string, { shape: number[]; data: NpyArray['data'] }> = {
    mu: { shape: [d], data: stats.mu },
    sigma: { shape: [d, d], data: stats.sigma },
  };
  if (stats.count !== undefined)
    arrays['count'] = { shape: [], data: BigInt64Array.of(BigInt(stats.count)) };
  if (stats.protocol) arrays['protocol'] = { shape: [], data: [JSON.stringify(stats.protocol)] };
  if (options.sourceId !== undefined) arrays['source'] = { shape: [], data: [options.sourceId] };
  if (options.features) {
    const f = options.features;
    checkMatrix(f, 'options.features');
    if (f.dim !== d) throw new RangeError(`options.features.dim ${f.dim} != stats.dim ${d}`);
    arrays['features'] = {
      shape: [f.count, f.dim],
      data: f.data instanceof Float32Array ? f.data : Float32Array.from(f.data),
    };
  }
  return encodeNpz(arrays, options.compress ? { compress: true } : {});
}

function toFloat64(a: NpyArray, where: string): Float64Array {
  if (a.data instanceof Float64Array) return a.data;
  if (a.data instanceof Float32Array) return Float64Array.from(a.data);
  throw new NpyFormatError(`${where}: expected a float array, got dtype ${a.dtype}`);
}

/** What a statistics `.npz` holds. */
export interface LoadedStats {
  stats: FeatureStats;
  features?: FeatureMatrix;
  sourceId?: string;
}

/** Parses `.npz` statistics bytes; `where` names the file in errors. */
export function decodeStatsNpz(bytes: Uint8Array, where = '<npz>'): LoadedStats {
  const arrays = decodeNpz(bytes, where);
  const mu = arrays['mu'];
  const sigma = arrays['sigma'];
  if (!mu)
    throw new NpyFormatError(
      `${where}: no 'mu' array (keys: ${Object.keys(arrays).join(', ') || 'none'})`,
    );
  if (!sigma)
    throw new NpyFormatError(
      `${where}: no 'sigma' array (keys: ${Object.keys(arrays).join(', ')})`,
    );
  if (mu.shape.length !== 1)
    throw new NpyFormatError(`${where}: 'mu' must be 1-D, has shape [${mu.shape}]`);
  const d = mu.shape[0]!;
  if (sigma.shape.length !== 2 || sigma.shape[0] !== d || sigma.shape[1] !== d) {
    throw new NpyFormatError(
      `${where}: 'sigma' must have shape [${d}, ${d}], has [${sigma.shape}]`,
    );
  }
  const stats: FeatureStats = {
    mu: toFloat64(mu, `${where}:mu`),
    sigma: toFloat64(sigma, `${where}:sigma`),
    dim: d,
  };
  const count = arrays['count'];
  if (count) {
    const v = count.data[0];
    stats.count = typeof v === 'bigint' ? Number(v) : Number(v);
  }
  const protocol = arrays['protocol'];
  if (protocol && Array.isArray(protocol.data)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(protocol.data[0]!);
    } catch {
      throw new NpyFormatError(`${where}: 'protocol' is not valid JSON`);
    }
    stats.protocol = validateFeatureProtocol(parsed, `${where}:protocol`);
  }
  validateStats(stats, where);
  const out: LoadedStats = { stats };
  const source = arrays['source'];
  if (source && Array.isArray(source.data)) out.sourceId = source.data[0]!;
  const feats = arrays['features'];
  if (feats) {
    if (feats.shape.length !== 2 || feats.shape[1] !== d) {
      throw new NpyFormatError(
        `${where}: 'features' must have shape [n, ${d}], has [${feats.shape}]`,
      );
    }
    const data =
      feats.data instanceof Float32Array || feats.data instanceof Float64Array ? feats.data : null;
    if (!data)
      throw new NpyFormatError(`${where}: 'features' must be float, has dtype ${feats.dtype}`);
    out.features = { data, count: feats.shape[0]!, dim: d };
  }
  return out;
}

/** Reads statistics written by this package, pytorch-fid (`--save-stats`), clean-fid or TTUR. */
export async function loadStatsNpz(path: string): Promise<LoadedStats> {
  const bytes = await readFile(path);
  return decodeStatsNpz(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}
