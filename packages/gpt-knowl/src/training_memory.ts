/**
 * Pre-flight memory check for training: the bytes a configuration needs at a micro-batch, against
 * what the backend can hold (the wasm backend's heap stops at 4 GiB), so a run that cannot fit is
 * refused before its first step with the need, the limit and the largest micro-batch that fits,
 * instead of a raw `memory access out of bounds` minutes in. No tensors here: pure arithmetic.
 *
 * The trainer differentiates with `leanVariableGrads`, whose backward pass frees each kernel's
 * saved tensors and each gradient once past them, and its blocks save 8 + mlpRatio rows of width
 * d per token (`linear`, `residualAdd` and `geluLinear` keep no output they do not need), so a
 * step has four peaks, measured as the bytes of distinct tensor buffers alive after each kernel
 * (tfjs 4.22, wasm and cpu backends give the same counts):
 * - the end of the forward pass: weights (4 B/param), AdamW's two slots (8 B per trainable
 *   parameter), every activation kept for the backward pass (proportional to the micro-batch) and
 *   the chunked head's loss (one chunk's logits and their gradient, the head's weight gradient);
 * - the last kept block's backward pass: the same activations, the head's gradient and the
 *   block's working set;
 * - with recomputed blocks, the first block's backward pass: weights, slots, every gradient but
 *   the token table's, each recomputed block's input and that block's activations and gradients;
 * - update: weights, slots and gradients (every trainable weight's, 4 B, plus the dense gradient
 *   of the token table and the head's) while the AdamW update writes one parameter's new weight
 *   and slots at a time (12 B per element of the largest trainable parameter).
 * Frozen parameters (`freeze`) and LoRA's frozen base weights get no gradient and no slots.
 * Activation coefficients (floats per example) come from 32 measured shapes from 0.2 M to 1.8 M
 * parameters (T 39-79 tokens, d 64 and 128, 2-6 layers, 4 and 8 heads, mlpRatio 2 and 4, 256
 * and 1,024 codes, micro-batch 2-16, 0 to every block recomputed, LoRA) with
 * @artist-ts/native-kernels' fused kernels: the estimate is 1.00-1.08 times the measured peak at
 * each, 1.12 for easynlp fusion with recomputed blocks (the stock-kernel figures are an earlier
 * fit, an upper bound). `test/training_memory.test.ts` measures small models again against the
 * whole estimate.
 *
 * Notation: L layers, T = textLen + imageLen - 1 tokens, d width, m mlpRatio, h heads,
 * i image positions, v image vocabulary, x text length, s entity slots.
 */

import { WASM_HEAP_BYTES } from '@artist-ts/runtime';
import { frozenParameters, type GptConfig, parameterSpecs } from './config';
import { type LoraConfig, validateLoraConfig } from './lora';

/** What one micro-batch of GPT training holds at its peaks, in bytes. */
export interface TrainingMemoryEstimate {
  batchSize: number;
  /** The model's parameters, plus LoRA adapters. */
  parameters: number;
  /** Those that train (not frozen, or the LoRA adapters): the only ones with gradients and slots. */
  trainableParameters: number;
  /** Blocks whose activations are recomputed in the backward pass. */
  recomputeBlocks: number;
  /** 4 bytes per parameter (with LoRA, plus the adapted copy of each targeted weight). */
  weights: number;
  /** AdamW's first and second moments: 8 bytes per trainable parameter. */
  optimizerSlots: number;
  /**
   * Every trainable weight's gradient, plus the dense gradient of the token table when it trains
   * (with LoRA, plus the gradient of each adapted weight), at the update.
   */
  gradients: number;
  /** Activations one example keeps for the backward pass at the end of the forward pass. */
  activationsPerExample: number;
  /** `batchSize` times `activationsPerExample`. */
  activations: number;
  /**
   * With recomputed blocks: one block's activations per example, held again while the first
   * block's backward pass runs (0 without).
   */
  recomputedBlockPerExample: number;
  /**
   * The largest of the end of the forward pass (weights + optimizerSlots + activations + the
   * chunked head's logits and weight gradient), the last kept block's backward pass (the same
   * activations, the head's gradient, the block's working set) and, with recomputed blocks, the
   * first block's backward pass (weights, slots, every gradient but the token table's, each
   * recomputed block's input and one block's activations again).
   */
  backwardPeak: number;
  /**
   * During the update: weights, slots and gradients, plus the clipped gradient and the new
   * weight and slots of the largest trainable parameter (the update runs one parameter at a time).
   */
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
  /** Parameter groups that do not train (`TrainConfig.freeze`): no gradient, no AdamW slots. */
  freeze?: readonly string[];
  /** LoRA adapters (`TrainConfig.lora`): only they train; every model parameter is frozen. */
  lora?: Partial<LoraConfig> | null;
  /** Blocks recomputed in the backward pass (`TrainConfig.recomputeBlocks`; default 0). */
  recomputeBlocks?: number;
}

/**
 * Floats per example kept for the backward pass (see the file comment for the fit): `kept`, what
 * the end of the forward pass holds, and `block`, what one recomputed block holds again while its
 * backward pass runs (the nested gradient of `recomputed` keeps all of it until the block is done).
 */
function activationFloats(
  c: GptConfig,
  fused: boolean,
  recompute: number,
): { kept: number; block: number; rest: number; working: number } {
  const L = c.nLayer;
  const d = c.nEmbd;
  const h = c.nHead;
  const x = c.textLen;
  const i = c.imageLen;
  const T = x + i - 1;
  // a block's activations and gradients at once (the recomputed block's backward pass): residual-
  // width tensors (LayerNorms, q/k/v, projections) and MLP-width ones, and the attention
  // probabilities [h, T, T]
  let block = T * d * (20.5 + 4.1 * c.mlpRatio) * (fused ? 1 : 2.96);
  block += h * T * T * (fused ? 1.05 : 6.3);
  // what a block saves for the backward pass (`leanVariableGrads` frees its gradients as it goes):
  // its input, LayerNorm outputs, q/k/v, attention and projection outputs, the MLP's two
  // mlpRatio-wide tensors, and h T T + h T floats of attention statistics (stock kernels: not
  // measured apart, the whole block above, an upper bound)
  let saved = fused ? T * d * (8 + c.mlpRatio) + h * T * (T + 1) : block;
  // attention dropout takes the unfused attention path (scores, mask, softmax, dropout mask)
  if (c.attnPdrop > 0) {
    block += h * T * T * (fused ? 10.8 : 5.5);
    saved += h * T * T * (fused ? 7.8 : 5.5);
  }
  if (c.residPdrop > 0) {
    block += 11.2 * T * d; // dropout masks and outputs
    saved += 8.1 * T * d;
  }
  // a recomputed block keeps its input only
  const k = Math.min(Math.max(0, recompute), L);
  let n = k * RECOMPUTED_BLOCK_ROWS * T * d;
  // token gather, positions, final LayerNorm, and the image rows the head reads and their gradient
  // (the chunked head's loss computes it in the forward pass)
  n += (fused ? 2.3 : 23) * T * d + HEAD_ROWS * i * d;
  if (c.embdPdrop > 0 && c.residPdrop === 0) n += 11.2 * T * d;
  if (c.fusion === 'lattice') n += 14 * x * d + 25 * c.entitySlots * x;
  if (c.fusion === 'easynlp') n += 7 * c.entitySlots * x * d;
  // a kept block's backward working set: its output's gradient, the GELU's input recomputed and
  // their gradients (three mlpRatio-wide tensors), the rows around the head's gradient
  const working = T * d * (WORKING_ROWS + 3 * c.mlpRatio);
  return { kept: (L - k) * saved + n, block, rest: n, working };
}

/** Rows of width d per token of a kept block's backward working set, besides its MLP's (measured). */
const WORKING_ROWS = 1;

/** Rows of width d per token a recomputed block keeps (its input). */
const RECOMPUTED_BLOCK_ROWS = 1;

/** Rows of width d per image position around the head (measured). */
const HEAD_ROWS = 3.9;

/**
 * Rows of the head's logits computed at a time in training (`linearSoftmaxCrossEntropy`): the
 * chunk's logits and their gradient exist while the forward pass ends.
 */
export const HEAD_CHUNK_ROWS = 1024;

/** Parameters of the model, the trainable ones, and what LoRA adds (see `estimateTrainingMemory`). */
function parameterCounts(config: GptConfig, options: TrainingMemoryOptions) {
  const specs = parameterSpecs(config);
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const lora = options.lora ? validateLoraConfig(options.lora) : null;
  const frozen = lora
    ? new Set(specs.map((s) => s.name))
    : frozenParameters(config, options.freeze ?? []);
  let model = 0;
  let trainable = 0;
  let largest = 0;
  let adapters = 0;
  let adapted = 0;
  for (const s of specs) {
    const n = size(s.shape);
    model += n;
    if (!frozen.has(s.name)) {
      trainable += n;
      largest = Math.max(largest, n);
    }
    // LoRA: rank-r A [in, r] and B [r, out] per target, and the adapted copy W + (alpha/r) A B
    if (lora?.targets.some((t) => s.name.endsWith(`.${t}.weight`))) {
      const [inDim, outDim] = s.shape;
      adapters += lora.rank * (inDim + outDim);
      largest = Math.max(largest, lora.rank * Math.max(inDim, outDim));
      adapted += n;
    }
  }
  return {
    model,
    trainable: trainable + adapters,
    adapters,
    adapted,
    largest,
    tokenTableTrains: !frozen.has('tok_emb.weight'),
  };
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
  const p = parameterCounts(config, options);
  const table = (config.imageVocabSize + config.textVocabSize) * config.nEmbd; // tok_emb entries
  const recomputeBlocks = Math.min(Math.max(0, options.recomputeBlocks ?? 0), config.nLayer);
  const weights = 4 * (p.model + p.adapters + p.adapted);
  const optimizerSlots = 8 * p.trainable;
  // the head's weight gradient is computed in the forward pass and scaled in the backward pass
  const head = config.nEmbd * config.imageVocabSize;
  const gradients =
    4 * p.trainable + (p.tokenTableTrains ? 4 * table : 0) + 4 * p.adapted + 4 * head;
  const a = activationFloats(config, options.fusedKernels !== false, recomputeBlocks);
  const activationsPerExample = 4 * a.kept;
  const activations = batchSize * activationsPerExample;
  // the forward pass ends in the chunked head: every kept activation, one chunk's logits and
  // their gradient, and the head's weight gradient (summed over chunks: 3 copies at once)
  const rows = batchSize * config.imageLen;
  const headPeak =
    4 * (2 * Math.min(rows, HEAD_CHUNK_ROWS) * config.imageVocabSize) +
    4 * head * (rows > HEAD_CHUNK_ROWS ? 3 : 1);
  // with LoRA, each adapted weight W + (alpha/r) A B also keeps its A B and scaled A B
  const forwardEnd = weights + optimizerSlots + activations + headPeak + 8 * p.adapted;
  // the last kept block's backward pass: every kept activation, the head's weight gradient and
  // its scaled copy, and the block's working set (the MLP's gradients, its GELU recomputed)
  const lastBlock =
    recomputeBlocks < config.nLayer
      ? weights +
        optimizerSlots +
        activations +
        4 * batchSize * a.working +
        8 * head +
        8 * p.adapted
      : 0;
  // the backward pass frees each block's activations once past it; with recomputed blocks, the
  // first one's holds its activations again while every gradient but the token table's (the last
  // one computed: 8 B per entry) exists
  const recomputedBlockPerExample = recomputeBlocks > 0 ? 4 * a.block : 0;
  const beforeTable = p.tokenTableTrains ? 8 * table : 0;
  const recomputedPeak =
    recomputeBlocks > 0
      ? weights +
        optimizerSlots +
        gradients -
        beforeTable +
        batchSize * (4 * a.rest + recomputedBlockPerExample)
      : 0;
  const backwardPeak = Math.max(forwardEnd, lastBlock, recomputedPeak);
  const updatePeak = weights + optimizerSlots + gradients + 12 * p.largest;
  return {
    batchSize,
    parameters: p.model + p.adapters,
    trainableParameters: p.trainable,
    recomputeBlocks,
    weights,
    optimizerSlots,
    gradients,
    activationsPerExample,
    activations,
    recomputedBlockPerExample,
    backwardPeak,
    updatePeak,
    total: Math.max(backwardPeak, updatePeak),
  };
}

/**
 * The fewest recomputed blocks (`TrainConfig.recomputeBlocks`) with which micro-batch
 * `batchSize` fits in `limitBytes`, or null when even recomputing every block does not.
 */
export function fewestRecomputedBlocks(
  config: GptConfig,
  batchSize: number,
  limitBytes: number,
  options: TrainingMemoryOptions = {},
): number | null {
  for (let k = 0; k <= config.nLayer; k++) {
    const e = estimateTrainingMemory(config, batchSize, { ...options, recomputeBlocks: k });
    if (e.total <= limitBytes) return k;
  }
  return null;
}

/** The largest micro-batch whose estimate fits in `limitBytes` (0 when not even one example). */
export function largestFittingBatch(
  config: GptConfig,
  limitBytes: number,
  options: TrainingMemoryOptions = {},
): number {
  const fits = (b: number) => estimateTrainingMemory(config, b, options).total <= limitBytes;
  if (!fits(1)) return 0;
  // the estimate grows with the micro-batch: double, then bisect
  let lo = 1;
  let hi = 2;
  while (fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** How much memory a backend offers training, and where that figure comes from. */
export interface MemoryLimit {
  bytes: number;
  /** E.g. "the wasm backend's heap (76 % of its 4 GiB maximum)". */
  what: string;
}

/**
 * Share of the wasm heap tensors can use: the rest goes to the module itself, the native kernels'
 * scratch buffers and the allocator's fragmentation, which grows over the first steps. Measured on
 * ARTIST-base (issue 19), before `leanVariableGrads`: micro-batch 4 estimated at 97 % of the
 * heap fails at its second step; micro-batch 8 with 8 of 12 blocks recomputed, estimated at 86 %,
 * at its third; 10 blocks (73 %) ran 5 steps and micro-batch 16 with 12 (74 %) 4 steps. With it
 * (2026-12-05, easynlp fusion): micro-batch 8 with 1 block recomputed and 16 with 7 (estimates
 * 74 % and 75 %) ran 5 steps each, and 5 with none; so did 8 with none under an earlier, larger
 * activation layout whose heap grew to 3.97 GB.
 */
export const WASM_HEAP_USABLE = 0.76;

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
