/**
 * Pre-flight memory check for training: the bytes a configuration needs at a micro-batch, against
 * what the backend can hold (the wasm backend's heap stops at 4 GiB), so a run that cannot fit is
 * refused before its first step with the need, the limit and the largest micro-batch that fits,
 * instead of a raw `memory access out of bounds` minutes in. No tfjs here: pure arithmetic.
 *
 * A training step has two peaks, measured as the bytes of distinct tensor buffers alive after each
 * kernel (tfjs 4.22, wasm and cpu backends give the same counts):
 * - backward: weights (4 B/param), AdamW's two slots (8), every weight's gradient (4) plus the dense
 *   gradient of the token table (4 B per table entry), and the activations the backward pass reads,
 *   proportional to the micro-batch;
 * - update: weights, slots, gradients, their squares and clipped copies while the AdamW update
 *   writes new slots (24 B/param, 12 more per token-table entry), whatever the micro-batch.
 * Activation coefficients (floats per example) are least-squares fits over 14 shapes from 31 K to
 * 7.6 M parameters (T 23-159 tokens, d 32-256, 2-8 layers, 2-8 heads, mlpRatio 2 and 4, 512-2,048
 * codes) with @artist-ts/native-kernels' fused kernels, within 0.6 % of the measured slope at each
 * (4 shapes for the stock-kernel coefficients); `test/training_memory.test.ts` measures small
 * models again against the whole estimate.
 *
 * Notation: L layers, T = textLen + imageLen - 1 tokens, d width, m mlpRatio, h heads,
 * i image positions, v image vocabulary, x text length, s entity slots.
 */

import { countParameters, type GptConfig } from './config';

/** What one micro-batch of GPT training holds at its peaks, in bytes. */
export interface TrainingMemoryEstimate {
  batchSize: number;
  parameters: number;
  /** 4 bytes per parameter. */
  weights: number;
  /** AdamW's first and second moments: 8 bytes per parameter. */
  optimizerSlots: number;
  /** Every weight's gradient, plus the dense gradient of the token table (at the backward peak). */
  gradients: number;
  /** Activations the backward pass of one example reads. */
  activationsPerExample: number;
  /** `batchSize` times `activationsPerExample`. */
  activations: number;
  /** weights + optimizerSlots + gradients + activations. */
  backwardPeak: number;
  /** During the update: gradients, their squares and clipped copies, and the new AdamW slots. */
  updatePeak: number;
  /** The larger peak: what the backend must hold. */
  total: number;
}

export interface TrainingMemoryOptions {
  /**
   * Whether @artist-ts/native-kernels' fused LayerNorm, GELU and causal-attention kernels run
   * (default true); the stock tfjs ops keep about three times the activations.
   */
  fusedKernels?: boolean;
}

/** Floats per example kept for the backward pass (see the file comment for the fit). */
function activationFloats(c: GptConfig, fused: boolean): number {
  const L = c.nLayer;
  const d = c.nEmbd;
  const h = c.nHead;
  const x = c.textLen;
  const i = c.imageLen;
  const T = x + i - 1;
  // per block: residual-width tensors (LayerNorms, q/k/v, projections) and MLP-width ones
  const perBlockRows = (22.5 + 4.1 * c.mlpRatio) * (fused ? 1 : 2.96);
  let n = L * T * d * perBlockRows;
  n += L * h * T * T * (fused ? 1.05 : 6.3); // attention probabilities [h, T, T]
  n += 2.1 * i * c.imageVocabSize; // logits and their gradient over the image positions
  n += (fused ? 8 : 23) * T * d; // token gather, positions, final LayerNorm
  // attention dropout takes the unfused attention path (scores, mask, softmax, dropout mask)
  if (c.attnPdrop > 0) n += L * h * T * T * (fused ? 10.8 : 5.5);
  if (c.residPdrop > 0 || c.embdPdrop > 0) n += 11.2 * L * T * d; // dropout masks and outputs
  if (c.fusion === 'lattice') n += 14 * x * d + 25 * c.entitySlots * x;
  if (c.fusion === 'easynlp') n += 12 * c.entitySlots * x * d;
  return n;
}

/** The bytes training `config` at micro-batch `batchSize` needs at its peaks. */
export function estimateTrainingMemory(
  config: GptConfig,
  batchSize: number,
  options: TrainingMemoryOptions = {},
): TrainingMemoryEstimate {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new RangeError(
      `estimateTrainingMemory: batchSize must be a positive integer, got ${batchSize}`,
    );
  }
  const P = countParameters(config);
  const table = (config.imageVocabSize + config.textVocabSize) * config.nEmbd; // tok_emb entries
  const weights = 4 * P;
  const optimizerSlots = 8 * P;
  const gradients = 4 * P + 4 * table;
  const activationsPerExample = 4 * activationFloats(config, options.fusedKernels !== false);
  const activations = batchSize * activationsPerExample;
  const backwardPeak = weights + optimizerSlots + gradients + activations;
  const updatePeak = 24 * P + 12 * table;
  return {
    batchSize,
    parameters: P,
    weights,
    optimizerSlots,
    gradients,
    activationsPerExample,
    activations,
    backwardPeak,
    updatePeak,
    total: Math.max(backwardPeak, updatePeak),
  };
}

/** The largest micro-batch whose estimate fits in `limitBytes` (0 when not even one example). */
export function largestFittingBatch(
  config: GptConfig,
  limitBytes: number,
  options: TrainingMemoryOptions = {},
): number {
  const one = estimateTrainingMemory(config, 1, options);
  if (one.total > limitBytes) return 0;
  const room = limitBytes - (one.backwardPeak - one.activations);
  return Math.max(1, Math.floor(room / one.activationsPerExample));
}

/** How much memory a backend offers training, and where that figure comes from. */
export interface MemoryLimit {
  bytes: number;
  /** E.g. "the wasm backend's heap (90 % of its 4 GiB maximum)". */
  what: string;
}

/** tfjs-backend-wasm's linear memory stops growing at 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * Share of the wasm heap tensors can use: the rest goes to the module itself, the native kernels'
 * scratch buffers and the allocator's fragmentation (ARTIST-base at micro-batch 4, estimated at
 * 97 % of the heap, fails at its second step: issue 19).
 */
export const WASM_HEAP_USABLE = 0.9;

/**
 * The limit training on `backend` must stay under: the wasm heap, or the machine's memory
 * (`totalMemory`, e.g. `os.totalmem()`) on the cpu backend; null where unknown (GPU backends).
 */
export function backendMemoryLimit(backend: string, totalMemory: number): MemoryLimit | null {
  if (backend === 'wasm') {
    return {
      bytes: WASM_HEAP_BYTES * WASM_HEAP_USABLE,
      what: `the wasm backend's heap (${WASM_HEAP_USABLE * 100} % of its 4 GiB maximum)`,
    };
  }
  if (backend === 'cpu') return { bytes: totalMemory, what: "this machine's memory" };
  return null;
}

const gib = (bytes: number) =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** A configuration whose training step cannot fit in the backend's memory. */
export class TrainingMemoryError extends Error {
  override readonly name = 'TrainingMemoryError';
  constructor(
    readonly estimate: TrainingMemoryEstimate,
    readonly limit: MemoryLimit,
    /** The largest micro-batch that fits (0: none does). */
    readonly largestBatchSize: number,
  ) {
    const e = estimate;
    const parts =
      `weights ${gib(e.weights)}, AdamW slots ${gib(e.optimizerSlots)}, gradients ${gib(e.gradients)}, ` +
      `activations ${e.batchSize} x ${gib(e.activationsPerExample)}`;
    const fix =
      largestBatchSize > 0
        ? `the largest micro-batch that fits is ${largestBatchSize} (set batchSize to ${largestBatchSize})`
        : 'no micro-batch fits: use a smaller model or a backend with more memory';
    super(
      `GPT training at micro-batch ${e.batchSize} needs about ${gib(e.total)} (${parts}; ` +
        `update peak ${gib(e.updatePeak)}), more than ${limit.what}, ${gib(limit.bytes)}: ${fix}`,
    );
  }
}

/** Throws a TrainingMemoryError when the estimate exceeds `limit`; returns the estimate. */
export function checkTrainingMemory(
  config: GptConfig,
  batchSize: number,
  limit: MemoryLimit,
  options: TrainingMemoryOptions = {},
): TrainingMemoryEstimate {
  const estimate = estimateTrainingMemory(config, batchSize, options);
  if (estimate.total > limit.bytes) {
    throw new TrainingMemoryError(
      estimate,
      limit,
      largestFittingBatch(config, limit.bytes, options),
    );
  }
  return estimate;
}
