/**
 * What the trainer's `eval` stage and a `fid` command call: images -> features -> statistics
 * (streamed, float64), cached real statistics in `.npz`, FID and KID with their fingerprints.
 */
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { type FeatureExtractor, resizeBilinear, uint8ToUnit } from './extractor';
import { type FidResult, type FrechetConfig, fid } from './frechet';
import { describeSource, type ImageSource, type RgbImage, readImages } from './images';
import { type KidConfig, type KidResult, kid } from './kid';
import { type FeatureProtocol, protocolDifference } from './protocol';
import {
  type FeatureMatrix,
  type FeatureStats,
  loadStatsNpz,
  StatsAccumulator,
  saveStatsNpz,
} from './stats';

export interface ExtractConfig {
  /** Images per forward pass (pytorch-fid 50, torch-fidelity 64; 16 suits a CPU). */
  batchSize: number;
  /** Keep every feature vector (needed for KID); statistics alone are streamed. */
  keepFeatures: boolean;
  /** Stop after this many images (null: all). */
  limit: number | null;
  /** Called after each batch with the number of images done. */
  onProgress?: (done: number) => void;
  /** Aborts between batches. */
  signal?: AbortSignal;
}

export const DEFAULT_EXTRACT_CONFIG: Readonly<ExtractConfig> = Object.freeze({
  batchSize: 16,
  keepFeatures: false,
  limit: null,
});

/** Copies `config`, fills defaults and throws an error naming the bad field. */
export function validateExtractConfig(config: Partial<ExtractConfig> = {}): ExtractConfig {
  const c: ExtractConfig = { ...DEFAULT_EXTRACT_CONFIG, ...config };
  if (!Number.isInteger(c.batchSize) || c.batchSize < 1) {
    throw new RangeError(`ExtractConfig.batchSize: expected an integer >= 1, got ${c.batchSize}`);
  }
  if (typeof c.keepFeatures !== 'boolean')
    throw new TypeError('ExtractConfig.keepFeatures: expected a boolean');
  if (c.limit !== null && !(Number.isInteger(c.limit) && c.limit >= 1)) {
    throw new RangeError(`ExtractConfig.limit: expected null or an integer >= 1, got ${c.limit}`);
  }
  return c;
}

export interface ExtractResult {
  stats: FeatureStats;
  /** Present when `keepFeatures` is set. */
  features?: FeatureMatrix;
}

/** Features of decoded images of any sizes: each is resized to the extractor's input, then batched. */
export function featuresOfImages(extractor: FeatureExtractor, images: RgbImage[]): Float32Array {
  const size = extractor.protocol.imageSize;
  const out = tf.tidy(() => {
    const batch = tf.concat(
      images.map((im) => {
        const x = uint8ToUnit(im.data, 1, im.height, im.width); // [1, h, w, 3]
        return resizeBilinear(x, size); // [1, S, S, 3]
      }),
      0,
    ) as tf.Tensor4D; // [b, S, S, 3]
    return extractor.features(batch); // [b, d]
  });
  try {
    const data = out.dataSync() as Float32Array;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!))
        throw new RangeError(`extractor produced a non-finite feature at index ${i}`);
    }
    return Float32Array.from(data);
  } finally {
    out.dispose();
  }
}

/**
 * Runs the extractor over an image source in batches and streams the features into float64
 * statistics. The next batch is decoded while the current one runs through the network.
 */
export async function extractStats(
  extractor: FeatureExtractor,
  source: ImageSource,
  config: Partial<ExtractConfig> = {},
): Promise<ExtractResult> {
  const c = validateExtractConfig(config);
  const d = extractor.protocol.featureDim;
  const acc = new StatsAccumulator(d);
  const kept: Float32Array[] = [];
  const it = readImages(source, c.limit ?? Number.POSITIVE_INFINITY);
  const nextBatch = async (): Promise<RgbImage[]> => {
    const batch: RgbImage[] = [];
    while (batch.length < c.batchSize) {
      const r = await it.next();
      if (r.done) break;
      batch.push(r.value.image);
    }
    return batch;
  };
  let pending = nextBatch();
  let done = 0;
  try {
    for (;;) {
      const batch = await pending;
      if (batch.length === 0) break;
      c.signal?.throwIfAborted();
      pending = nextBatch();
      const f = featuresOfImages(extractor, batch);
      acc.add(f, batch.length);
      if (c.keepFeatures) kept.push(f);
      done += batch.length;
      c.onProgress?.(done);
    }
  } finally {
    await pending.catch(() => undefined);
    await it.return(undefined);
  }
  if (done < 2)
    throw new RangeError(`image source yielded ${done} image(s); statistics need at least 2`);
  const stats = acc.finalize(extractor.protocol);
  const result: ExtractResult = { stats };
  if (c.keepFeatures) {
    const data = new Float32Array(done * d);
    let o = 0;
    for (const k of kept) {
      data.set(k, o);
      o += k.length;
    }
    result.features = { data, count: done, dim: d };
  }
  return result;
}

/** Why a cache file was (not) used. */
export type CacheStatus = 'hit' | 'miss' | 'stale';

/**
 * Statistics of `source`, read from `cachePath` when it holds statistics of the same protocol and
 * source (and features if `keepFeatures`), otherwise computed and written there atomically.
 */
export async function cachedStats(
  cachePath: string,
  extractor: FeatureExtractor,
  source: ImageSource,
  config: Partial<ExtractConfig> = {},
): Promise<ExtractResult & { cache: CacheStatus; staleReason?: string }> {
  const c = validateExtractConfig(config);
  const sourceId = `${await describeSource(source)}${c.limit !== null ? `:limit=${c.limit}` : ''}`;
  let staleReason: string | undefined;
  if (existsSync(cachePath)) {
    const cached = await loadStatsNpz(cachePath);
    const p = cached.stats.protocol;
    const diff = p ? protocolDifference(p, extractor.protocol) : null;
    if (!p) staleReason = 'no protocol recorded';
    else if (diff)
      staleReason = `${String(diff.field)} changed ('${String(diff.a)}' -> '${String(diff.b)}')`;
    else if (cached.sourceId !== sourceId) staleReason = 'image source changed';
    else if (c.keepFeatures && !cached.features) staleReason = 'features were not cached';
    if (!staleReason) {
      const out: ExtractResult & { cache: CacheStatus } = { stats: cached.stats, cache: 'hit' };
      if (cached.features) out.features = cached.features;
      return out;
    }
  }
  const r = await extractStats(extractor, source, c);
  const save: { sourceId: string; features?: FeatureMatrix } = { sourceId };
  if (r.features) save.features = r.features;
  await saveStatsNpz(cachePath, r.stats, save);
  return staleReason ? { ...r, cache: 'stale', staleReason } : { ...r, cache: 'miss' };
}

export interface EvaluateOptions {
  extractor: FeatureExtractor;
  /** Real images, or precomputed statistics (e.g. a pytorch-fid `.npz` already loaded). */
  real: ImageSource | FeatureStats;
  fake: ImageSource | FeatureStats;
  /** Cache file for the real statistics (and features when KID is on). */
  realCachePath?: string;
  extract?: Partial<ExtractConfig>;
  fid?: Partial<FrechetConfig>;
  /** KID settings, or false to skip KID (needs features on both sides). */
  kid?: Partial<KidConfig> | false;
  /**
   * Called after each batch with the side being extracted and the images done on that side
   * (real first, then fake; a side given as statistics or served from the cache is not reported).
   */
  onProgress?: (side: 'real' | 'fake', done: number) => void;
}

export interface EvaluateResult {
  fid: FidResult;
  kid: KidResult | null;
  real: FeatureStats;
  fake: FeatureStats;
  realCache: CacheStatus | null;
  /** The fingerprinted lines, one per metric. */
  summary: string[];
}

function isStats(x: ImageSource | FeatureStats): x is FeatureStats {
  return (x as FeatureStats).mu instanceof Float64Array;
}

/** FID (and KID unless disabled) between a real and a generated image set, one call. */
export async function evaluateImages(options: EvaluateOptions): Promise<EvaluateResult> {
  const wantKid = options.kid !== false;
  const extractFor = (side: 'real' | 'fake'): Partial<ExtractConfig> => {
    const c: Partial<ExtractConfig> = { ...options.extract, keepFeatures: wantKid };
    const inner = options.extract?.onProgress;
    const outer = options.onProgress;
    if (outer) {
      c.onProgress = (done) => {
        inner?.(done);
        outer(side, done);
      };
    }
    return c;
  };
  let real: ExtractResult;
  let realCache: CacheStatus | null = null;
  if (isStats(options.real)) {
    real = { stats: options.real };
  } else if (options.realCachePath) {
    const r = await cachedStats(
      options.realCachePath,
      options.extractor,
      options.real,
      extractFor('real'),
    );
    realCache = r.cache;
    real = r;
  } else {
    real = await extractStats(options.extractor, options.real, extractFor('real'));
  }
  const fake: ExtractResult = isStats(options.fake)
    ? { stats: options.fake }
    : await extractStats(options.extractor, options.fake, extractFor('fake'));
  const f = fid(real.stats, fake.stats, options.fid ?? {});
  let k: KidResult | null = null;
  if (wantKid && real.features && fake.features) {
    const protocol: FeatureProtocol | null = real.stats.protocol ?? null;
    k = kid(real.features, fake.features, options.kid || {}, protocol);
  }
  const summary = [f.summary];
  if (k) summary.push(k.summary);
  else if (wantKid) summary.push('KID skipped: a side was given as statistics without features');
  return { fid: f, kid: k, real: real.stats, fake: fake.stats, realCache, summary };
}
