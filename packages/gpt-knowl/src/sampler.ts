/**
 * Autoregressive sampling of image codes: KV cache (default) or full recomputation per token
 * (EasyNLP's loop), temperature, top-k (ARTIST default 100, ties kept), top-p, classifier-free
 * guidance, n images per text, batched texts, a seed, per-token progress.
 *
 * Every output image has its own random stream, forked from the seed by (text index, sample
 * index), so an image does not depend on the batch it was sampled in, and the cached and uncached
 * paths draw the same numbers (they give the same codes up to float rounding of the logits).
 */
import { Rng } from '@artist-ts/core/rng';
import { decodeAttentionSupported, KvCache } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { abstractExample, jointText } from './batch';
import { blockSize, type GptConfig } from './config';
import { disposeKnowledge, type KnowledgeTensors, knowledgeTensors } from './fusion';
import { buildKnowledge, type EntityTable, type LatticeFields } from './knowledge';
import type { LayerCache } from './layers';
import type { KnowlGpt } from './model';
import { disposePacked, type PackedWeights } from './packed_inference';

export interface SampleConfig {
  /** Softmax temperature; 0 means greedy (argmax). */
  temperature: number;
  /** Keep the k most likely codes (ties with the k-th kept); 0 disables. ARTIST: 100. */
  topK: number;
  /** Nucleus: keep the smallest set of codes with probability >= topP; 1 disables. */
  topP: number;
  /**
   * Classifier-free guidance: logits = u + scale (c - u) with u the unconditional logits (empty text,
   * no entities). 1 disables (conditional only). Needs a model trained with text dropout.
   */
  guidanceScale: number;
  /**
   * Knowledge-aware guidance (separate scales for text and knowledge):
   * logits = u + guidanceScale (c_text - u) + knowledgeGuidanceScale (c_text+kg - c_text), with
   * c_text the logits of the text without its entity vectors and c_text+kg those with them. Needs a
   * model trained with `knowledgeDropout`. null (default): text and entities are one condition
   * (`guidanceScale` alone). No effect with fusion `none` (there, c_text+kg = c_text).
   */
  knowledgeGuidanceScale: number | null;
  /**
   * Compositional sampling: each of a text's facts (the knowledge attached to its matched
   * entities by one-hop expansion) is its own condition, with the matched names as padding and
   * no other entity vector (`abstractExample`), and logits = u + composeScale * sum_i (c_i - u),
   * u the same text with no fact: a product of the facts' conditionals (conjunction, as in
   * composable diffusion). Draws an entity the model never saw from its colour, shape, place...
   * Needs a model trained with `TrainConfig.factDropout` and texts with `matchedEntities`; a text
   * with no attached fact is sampled as it is, and so is every text with fusion `none`. null
   * (default): off. Not combined with the other guidances (`guidanceScale` 1,
   * `knowledgeGuidanceScale` null).
   */
  composeScale: number | null;
  /** Images per text (EasyNLP `max_generated_num`). */
  numSamples: number;
  seed: number;
  /** KV cache (default) or EasyNLP's full recomputation per token. */
  useCache: boolean;
  /** Images sampled together in one forward pass. */
  batchSize: number;
}

export const DEFAULT_SAMPLE_CONFIG: SampleConfig = {
  temperature: 1,
  topK: 100,
  topP: 1,
  guidanceScale: 1,
  knowledgeGuidanceScale: null,
  composeScale: null,
  numSamples: 1,
  seed: 0,
  useCache: true,
  batchSize: 8,
};

export function validateSampleConfig(
  config: Partial<SampleConfig> = {},
  where = 'SampleConfig',
): SampleConfig {
  const out: SampleConfig = { ...DEFAULT_SAMPLE_CONFIG };
  for (const [k, v] of Object.entries(config)) {
    if (!(k in DEFAULT_SAMPLE_CONFIG)) {
      throw new Error(
        `${where}.${k} is not a sampling option; allowed: ${Object.keys(DEFAULT_SAMPLE_CONFIG).join(', ')}`,
      );
    }
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  const check = (f: keyof SampleConfig, ok: boolean, rule: string) => {
    if (!ok) throw new Error(`${where}.${f} ${rule}, got ${JSON.stringify(out[f])}`);
  };
  const isInt = (x: unknown) => typeof x === 'number' && Number.isInteger(x);
  check(
    'temperature',
    typeof out.temperature === 'number' && out.temperature >= 0,
    'must be a number >= 0',
  );
  check('topK', isInt(out.topK) && out.topK >= 0, 'must be an integer >= 0 (0 disables)');
  check('topP', typeof out.topP === 'number' && out.topP > 0 && out.topP <= 1, 'must be in (0, 1]');
  check(
    'guidanceScale',
    typeof out.guidanceScale === 'number' && Number.isFinite(out.guidanceScale),
    'must be a finite number (1 disables guidance)',
  );
  check(
    'knowledgeGuidanceScale',
    out.knowledgeGuidanceScale === null ||
      (typeof out.knowledgeGuidanceScale === 'number' &&
        Number.isFinite(out.knowledgeGuidanceScale)),
    'must be a finite number or null (text and knowledge as one condition)',
  );
  check(
    'composeScale',
    out.composeScale === null ||
      (typeof out.composeScale === 'number' && Number.isFinite(out.composeScale)),
    'must be a finite number or null (off)',
  );
  if (out.composeScale !== null) {
    check('guidanceScale', out.guidanceScale === 1, 'must be 1 with composeScale');
    check(
      'knowledgeGuidanceScale',
      out.knowledgeGuidanceScale === null,
      'must be null with composeScale',
    );
  }
  check('numSamples', isInt(out.numSamples) && out.numSamples > 0, 'must be a positive integer');
  check('seed', isInt(out.seed), 'must be an integer');
  check('useCache', typeof out.useCache === 'boolean', 'must be true or false');
  check('batchSize', isInt(out.batchSize) && out.batchSize > 0, 'must be a positive integer');
  return out;
}

export interface SampleRequest {
  /** Text ids (BERT space) per text. */
  texts: ReadonlyArray<ArrayLike<number>>;
  /** Lattice per text, as `@artist-ts/lattice-data` makes them (optional; null = no entity). */
  lattices?: ReadonlyArray<LatticeFields | null | undefined>;
  /** TransE table the lattices index. */
  entityTable?: EntityTable;
  /**
   * Per text, how many leading lattice entries are matched entities (the rest: attached facts);
   * what `composeScale` reads. Absent: every entry is a match.
   */
  matchedEntities?: ReadonlyArray<number | undefined>;
}

export interface SampleProgress {
  /** Tokens sampled so far in this batch (1..imageLen). */
  token: number;
  imageLen: number;
  /** Batch index and count. */
  batch: number;
  numBatches: number;
  /** Images in this batch. */
  images: number;
  elapsedMs: number;
}

export interface SampleOptions {
  onToken?: (p: SampleProgress) => void;
  signal?: AbortSignal;
}

export interface SampleResult {
  /** One code array [imageLen] per image, text-major: image i * numSamples + j. */
  codes: Int32Array[];
  textIndex: number[];
  sampleIndex: number[];
  /** Image tokens sampled per second (all images). */
  tokensPerSecond: number;
  elapsedMs: number;
}

let selectScratch = new Float32Array(0);
let keptScratch = new Int32Array(0);

/** The k-th largest of a[0, n) (1-based), reordering a: quickselect, median-of-3 Hoare partition. */
function selectInPlace(a: Float32Array, n: number, k: number): number {
  const target = n - k; // index in ascending order
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const x = a[lo];
    const y = a[(lo + hi) >>> 1];
    const pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), a[hi])); // median of 3
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/** Sample size of `kthLargest`'s prefilter. */
const SELECT_SAMPLE = 1024;

/**
 * The k-th largest value of `values` (1-based; ties counted, so it equals the sorted array's
 * element V - k) in O(V), without sorting all V logits per token (16384 for ARTIST). For k much
 * smaller than V, a value g that a strided sample puts a little above rank k bounds the answer:
 * when at least k values are >= g, the answer is the k-th largest of those few (one filtering
 * pass plus a quickselect of ~2k values, instead of a quickselect of all V); otherwise (an unlucky
 * sample) a quickselect of all V. NaN-free input assumed (logits).
 */
export function kthLargest(values: Float32Array, k: number): number {
  const n = values.length;
  if (!(k >= 1 && k <= n)) throw new Error(`kthLargest: k = ${k} outside [1, ${n}]`);
  if (selectScratch.length < n) selectScratch = new Float32Array(n);
  const a = selectScratch;
  if (n >= 4 * SELECT_SAMPLE && 8 * k <= n) {
    const stride = Math.floor(n / SELECT_SAMPLE);
    for (let i = 0; i < SELECT_SAMPLE; i++) a[i] = values[i * stride];
    // about twice the sample's share of the top k, plus a margin
    const rank = Math.min(SELECT_SAMPLE, Math.ceil((2 * k * SELECT_SAMPLE) / n) + 8);
    const g = selectInPlace(a, SELECT_SAMPLE, rank);
    let count = 0;
    for (let i = 0; i < n; i++) if (values[i] >= g) a[count++] = values[i];
    if (count >= k) return selectInPlace(a, count, k);
  }
  a.set(values);
  return selectInPlace(a, n, k);
}

/**
 * Draws one code from `logits` (modified in place as scratch). Only the codes that top-k keeps
 * are visited after the threshold pass (100 of 16384 at ARTIST's default), in index order, so the
 * draw is the same as a pass over all V with the others at probability 0. Exported for tests.
 */
export function sampleFromLogits(
  logits: Float32Array,
  cfg: Pick<SampleConfig, 'temperature' | 'topK' | 'topP'>,
  rng: Rng,
): number {
  const V = logits.length;
  if (cfg.temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let threshold = Number.NEGATIVE_INFINITY;
  if (cfg.topK > 0 && cfg.topK < V) threshold = kthLargest(logits, cfg.topK);
  if (keptScratch.length < V) keptScratch = new Int32Array(V);
  const kept = keptScratch; // indices >= threshold, ascending
  let n = 0;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < V; i++) {
    if (logits[i] >= threshold) {
      kept[n++] = i;
      if (logits[i] > max) max = logits[i];
    }
  }
  const inv = 1 / cfg.temperature;
  let total = 0;
  let m = 0; // kept codes with a probability > 0 (exp can underflow)
  for (let r = 0; r < n; r++) {
    const i = kept[r];
    const p = Math.exp((logits[i] - max) * inv);
    logits[i] = p;
    total += p;
    if (p > 0) kept[m++] = i;
  }
  n = m;
  if (cfg.topP < 1) {
    const order = Array.from(kept.subarray(0, n));
    order.sort((a, b) => logits[b] - logits[a] || a - b);
    let cum = 0;
    let cut = order.length;
    for (let r = 0; r < order.length; r++) {
      cum += logits[order[r]] / total;
      if (cum >= cfg.topP) {
        cut = r + 1;
        break;
      }
    }
    total = 0;
    for (let r = 0; r < order.length; r++) {
      if (r < cut) total += logits[order[r]];
      else logits[order[r]] = 0;
    }
  }
  let u = rng.uniform() * total;
  let last = 0;
  for (let r = 0; r < n; r++) {
    const i = kept[r];
    if (logits[i] <= 0) continue;
    last = i;
    u -= logits[i];
    if (u < 0) return i;
  }
  return last;
}

/**
 * The conditions one image is sampled under (one batch row each) and how their logits combine:
 * `combine` leaves the logits to draw from in `logits[0]`.
 */
interface ImageConditions {
  rows: Array<{ text: Int32Array; lattice: LatticeFields | null }>;
  /** Combined logits in place of `logits[0]`. */
  combine(logits: Float32Array[]): void;
}

/**
 * Rows of plain sampling and of (knowledge-aware) classifier-free guidance: text + knowledge, then
 * the text alone and neither, as the scales need them.
 */
function guidedConditions(
  cfg: SampleConfig,
  fusion: string,
  text: Int32Array,
  lattice: LatticeFields | null,
  padText: Int32Array,
): ImageConditions {
  const sText = cfg.guidanceScale;
  // Without fusion the entities change nothing: c_text+kg = c_text, so only the text scale acts.
  const sKg = fusion === 'none' ? null : cfg.knowledgeGuidanceScale;
  const rows = [{ text, lattice }];
  const textOnly = sKg !== null ? rows.push({ text, lattice: null }) - 1 : 0;
  const uncond = sText !== 1 ? rows.push({ text: padText, lattice: null }) - 1 : 0;
  return {
    rows,
    combine: (l) =>
      guide(l[0], { sText, sKg }, textOnly ? l[textOnly] : null, uncond ? l[uncond] : null),
  };
}

/** Rows of compositional sampling: no fact (u), then one per fact; see `composeScale`. */
function composedConditions(
  config: GptConfig,
  scale: number,
  text: ArrayLike<number>, // text ids (BERT space), as in the request
  lattice: LatticeFields,
  matched: number,
): ImageConditions {
  const facts = lattice.lexIds.length - matched;
  const rows = [];
  for (let f = facts; f >= 0; f--) {
    const a = abstractExample(text, lattice, matched, f, config.textPadId);
    rows.push({ text: jointText(config, a.text), lattice: a.lattice });
  }
  return {
    rows,
    combine: (l) => {
      const u = l[0];
      const sum = new Float32Array(u.length);
      for (let f = 1; f < l.length; f++) {
        const c = l[f];
        for (let i = 0; i < u.length; i++) sum[i] += c[i] - u[i];
      }
      for (let i = 0; i < u.length; i++) u[i] += scale * sum[i];
    },
  };
}

/**
 * Guided logits in place of `row` (c_text+kg): u + s_text (c - u) with one condition, or
 * u + s_text (c_text - u) + s_kg (c_text+kg - c_text) with knowledge-aware guidance (u = c_text
 * when s_text is 1, which needs no unconditional rows).
 */
export function guide(
  row: Float32Array,
  plan: { sText: number; sKg: number | null },
  textOnly: Float32Array | null,
  uncond: Float32Array | null,
): void {
  const { sText, sKg } = plan;
  if (sKg === null) {
    if (!uncond) return;
    for (let i = 0; i < row.length; i++) row[i] = uncond[i] + sText * (row[i] - uncond[i]);
    return;
  }
  const t = textOnly!;
  for (let i = 0; i < row.length; i++) {
    const u = uncond ? uncond[i] : t[i];
    row[i] = u + sText * (t[i] - u) + sKg * (row[i] - t[i]);
  }
}

/** Samples image codes for every text (numSamples each). */
export async function sampleCodes(
  model: KnowlGpt,
  request: SampleRequest,
  config: Partial<SampleConfig> = {},
  options: SampleOptions = {},
): Promise<SampleResult> {
  const cfg = validateSampleConfig(config);
  const c = model.config;
  const nTexts = request.texts.length;
  if (request.lattices && request.lattices.length !== nTexts) {
    throw new Error(
      `sampleCodes: ${request.lattices.length} lattices for ${nTexts} texts; give one per text`,
    );
  }
  const texts = request.texts.map((t, i) => jointText(c, t, `texts[${i}]`));
  const rows: { text: number; sample: number }[] = [];
  for (let i = 0; i < nTexts; i++) {
    for (let j = 0; j < cfg.numSamples; j++) rows.push({ text: i, sample: j });
  }
  const padText = new Int32Array(c.textLen).fill(c.imageVocabSize + c.textPadId);
  const conditionsOf = (t: number): ImageConditions => {
    const lattice = request.lattices?.[t] ?? null;
    const matched = Math.min(
      request.matchedEntities?.[t] ?? Number.POSITIVE_INFINITY,
      lattice?.lexIds.length ?? 0,
    );
    if (
      cfg.composeScale !== null &&
      c.fusion !== 'none' &&
      lattice &&
      matched < lattice.lexIds.length
    ) {
      return composedConditions(c, cfg.composeScale, request.texts[t], lattice, matched);
    }
    return guidedConditions(cfg, c.fusion, texts[t], lattice, padText);
  };
  const base = new Rng(cfg.seed);
  const codes: Int32Array[] = [];
  const numBatches = Math.ceil(rows.length / cfg.batchSize);
  const t0 = performance.now();
  const packed = model.packWeights();
  try {
    for (let bi = 0; bi < numBatches; bi++) {
      if (options.signal?.aborted) throw new Error('sampleCodes: aborted');
      const chunk = rows.slice(bi * cfg.batchSize, (bi + 1) * cfg.batchSize);
      const R = chunk.length;
      const rngs = chunk.map((r) => base.fork(`text/${r.text}/sample/${r.sample}`));
      // Batch rows: each image's conditions, image after image (rowImage: whose row).
      const conds = chunk.map((r) => conditionsOf(r.text));
      const rowImage: number[] = [];
      const first: number[] = []; // each image's first row
      const lattices: (LatticeFields | null)[] = [];
      const rowTexts: Int32Array[] = [];
      conds.forEach((cond, k) => {
        first.push(rowImage.length);
        for (const row of cond.rows) {
          rowImage.push(k);
          lattices.push(row.lattice);
          rowTexts.push(row.text);
        }
      });
      const R2 = rowImage.length;
      const text = new Int32Array(R2 * c.textLen);
      rowTexts.forEach((t, j) => {
        text.set(t, j * c.textLen);
      });
      const knowledge = buildKnowledge(c, lattices, request.entityTable, 'sampleCodes');
      const out = chunk.map(() => new Int32Array(c.imageLen));
      const kt = knowledge ? knowledgeTensors(knowledge, c) : null;
      try {
        const step = cfg.useCache
          ? cachedStepper(model, text, rowImage, kt, packed)
          : uncachedStepper(model, text, rowImage, kt, packed);
        try {
          for (let k = 0; k < c.imageLen; k++) {
            if (options.signal?.aborted) throw new Error('sampleCodes: aborted');
            const logitsT = await step.next(k, out);
            const logits = (await logitsT.data()) as Float32Array; // [R2, v]
            logitsT.dispose();
            const V = c.imageVocabSize;
            for (let r = 0; r < R; r++) {
              // views: each row of this step's logits is read by this image alone, and combined
              // (and filtered) in place
              const rowsOf = conds[r].rows.map((_, j) =>
                logits.subarray((first[r] + j) * V, (first[r] + j + 1) * V),
              );
              conds[r].combine(rowsOf);
              out[r][k] = sampleFromLogits(rowsOf[0], cfg, rngs[r]);
            }
            options.onToken?.({
              token: k + 1,
              imageLen: c.imageLen,
              batch: bi,
              numBatches,
              images: R,
              elapsedMs: performance.now() - t0,
            });
          }
        } finally {
          step.dispose();
        }
      } finally {
        disposeKnowledge(kt);
      }
      codes.push(...out);
    }
  } finally {
    disposePacked(packed);
  }
  const elapsedMs = performance.now() - t0;
  return {
    codes,
    textIndex: rows.map((r) => r.text),
    sampleIndex: rows.map((r) => r.sample),
    tokensPerSecond: (rows.length * c.imageLen) / (elapsedMs / 1000),
    elapsedMs,
  };
}

interface Stepper {
  /** Logits [R2, v] for image position k, given codes[0..k-1] already in `out`. */
  next(k: number, out: Int32Array[]): Promise<tf.Tensor2D>;
  dispose(): void;
}

/** Codes of position k-1 for every row (each row repeats its image's code). */
function lastCodes(out: Int32Array[], k: number, rowImage: readonly number[]): Int32Array {
  const ids = new Int32Array(rowImage.length);
  for (let r = 0; r < rowImage.length; r++) ids[r] = out[rowImage[r]][k - 1];
  return ids;
}

/**
 * KV-cached decoding: the text in one forward pass, then one code per row and step. Where the
 * native decoding attention kernel is registered (`decodeAttentionSupported()`: cpu and wasm with
 * the addon), the text's keys/values are copied into a `KvCache` that every later step extends in
 * place; elsewhere (tfjs-node, no addon) the cache is tensors grown by concatenation.
 */
function cachedStepper(
  model: KnowlGpt,
  text: Int32Array,
  rowImage: readonly number[],
  knowledge: KnowledgeTensors | null,
  packed: PackedWeights,
): Stepper {
  const c = model.config;
  const R2 = rowImage.length;
  let cache: LayerCache[] | null = null;
  let kv: KvCache | null = null;
  const dropCache = () => {
    if (cache) tf.dispose(cache.flatMap((l) => [l.k, l.v]));
    cache = null;
  };
  return {
    async next(k, out) {
      if (k > 0 && kv) {
        const kvCache = kv;
        return tf.tidy(() => {
          const x = model.embedCodes(lastCodes(out, k, rowImage), c.textLen + k - 1, packed);
          const r = model.forwardEmbedded(x, { knowledge, fuse: false, kvCache, packed });
          return tf.reshape(r.logits, [R2, c.imageVocabSize]) as tf.Tensor2D;
        });
      }
      const input =
        k === 0 ? { ids: text, len: c.textLen } : { ids: lastCodes(out, k, rowImage), len: 1 };
      const res = tf.tidy(() => {
        const opts = {
          knowledge,
          fuse: k === 0,
          cache,
          returnCache: true,
          logitsFrom: input.len - 1,
          packed,
        };
        // after the text, one image code per row: its input row is summed on the CPU
        const r =
          k === 0
            ? model.forward(tf.tensor2d(input.ids, [R2, input.len], 'int32'), opts)
            : model.forwardEmbedded(model.embedCodes(input.ids, c.textLen + k - 1, packed), opts);
        // [logits [R2, v], k0, v0, k1, v1, ...]
        return [
          tf.reshape(r.logits, [R2, c.imageVocabSize]),
          ...r.cache!.flatMap((l) => [l.k, l.v]),
        ];
      });
      dropCache();
      const next: LayerCache[] = [];
      for (let l = 0; l < c.nLayer; l++) {
        next.push({ k: res[1 + 2 * l] as tf.Tensor4D, v: res[2 + 2 * l] as tf.Tensor4D });
      }
      cache = next;
      if (k === 0 && decodeAttentionSupported()) {
        // the text's keys/values [R2, h, textLen, hd] into a cache of the full sequence
        kv = new KvCache(c.nLayer, R2, c.nHead, c.nEmbd / c.nHead, blockSize(c));
        for (let l = 0; l < c.nLayer; l++) {
          kv.setPrefix(l, await next[l].k.data(), await next[l].v.data(), c.textLen);
        }
        dropCache();
      }
      return res[0] as tf.Tensor2D;
    },
    dispose: dropCache,
  };
}

function uncachedStepper(
  model: KnowlGpt,
  text: Int32Array,
  rowImage: readonly number[],
  knowledge: KnowledgeTensors | null,
  packed: PackedWeights,
): Stepper {
  const c = model.config;
  const R2 = rowImage.length;
  return {
    async next(k, out) {
      const T = c.textLen + k;
      const ids = new Int32Array(R2 * T);
      for (let r = 0; r < R2; r++) {
        ids.set(text.subarray(r * c.textLen, (r + 1) * c.textLen), r * T);
        ids.set(out[rowImage[r]].subarray(0, k), r * T + c.textLen);
      }
      return tf.tidy(() => {
        const tokens = tf.tensor2d(ids, [R2, T], 'int32');
        const r = model.forward(tokens, { knowledge, fuse: k === 0, logitsFrom: T - 1, packed });
        return tf.reshape(r.logits, [R2, c.imageVocabSize]) as tf.Tensor2D;
      });
    },
    dispose() {},
  };
}
