/**
 * The knowledge-fused GPT (EasyNLP `GPT_knowl`, taming/minGPT underneath).
 *
 * Sequence: [textLen text tokens | image codes], joint vocabulary (image codes 0..Vi-1, text id t
 * at Vi + t), one shared token table, learned absolute positions (zero init), pre-LN blocks with
 * fully causal attention, exact GELU, `ln_f`, and a head over image codes only (untied).
 * The block pieces are in `layers.ts`, knowledge fusion in `fusion.ts`, the folded weights of the
 * fast decode path in `packed_inference.ts`.
 *
 * Notation in shape comments: b batch, t tokens in this call, p past (cached) tokens, d width,
 * v image vocabulary.
 */

import { Rng } from '@artist-ts/core/rng';
import { assertWeightsMatch } from '@artist-ts/core/weight-match';
import {
  type KvCache,
  linearSoftmaxCrossEntropy,
  recomputed,
  sparseSoftmaxCrossEntropy,
} from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import {
  blockSize,
  type GptConfig,
  type PresetName,
  parameterSpecs,
  validateGptConfig,
} from './config';
import { fuseFinalStates, fuseTextEmbeddings, type KnowledgeTensors } from './fusion';
import {
  type AttentionCall,
  CausalMasks,
  type LayerCache,
  type Layers,
  residualAdd,
  variableLayers,
} from './layers';
import { embedCodes, type PackedWeights, packedLayers, packWeights } from './packed_inference';
import { HEAD_CHUNK_ROWS } from './training_memory';

export interface ForwardOptions {
  knowledge?: KnowledgeTensors | null;
  /** Enables dropout (no effect when every *Pdrop is 0). */
  training?: boolean;
  /** Seed of this call's dropout masks (derive it from an Rng so runs resume exactly). */
  dropoutSeed?: number;
  /**
   * `easynlp` fusion only: whether to apply it in this call. EasyNLP applies it in training and at
   * the first sampling step only (default true).
   */
  fuse?: boolean;
  /** Keys/values of earlier positions; the tokens of this call follow them. */
  cache?: LayerCache[] | null;
  /** Return the keys/values of all positions (past + this call). */
  returnCache?: boolean;
  /**
   * Keys/values of earlier positions in a `KvCache` that the native decoding attention kernel
   * reads and extends in place (`decodeAttentionSupported()`): one token per row, with `packed`
   * weights, and neither `cache` nor `returnCache`. Each call appends its position to every layer.
   */
  kvCache?: KvCache | null;
  /** Compute logits only from this position of the call onwards (default 0). */
  logitsFrom?: number;
  /** Run on folded inference weights (`packWeights`) instead of the variables. */
  packed?: PackedWeights | null;
  /**
   * Activation checkpointing: the first `recomputeBlocks` blocks keep only their input for the
   * backward pass and run again during it (`recomputed`), trading one more forward pass of those
   * blocks for their activations. Default 0; ignored with a cache or packed weights.
   */
  recomputeBlocks?: number;
}

/** `KnowlGpt.loss` options: a training forward pass, plus how the head's loss is computed. */
export interface LossOptions extends Omit<ForwardOptions, 'cache' | 'returnCache' | 'logitsFrom'> {
  /**
   * Compute the head and the loss in row chunks (`linearSoftmaxCrossEntropy`), never holding the
   * [b, imageLen, v] logits; its gradients are computed in the forward pass, so use it only where
   * the loss is differentiated (training). Default false.
   */
  fusedHead?: boolean;
}

export interface ForwardResult {
  logits: tf.Tensor3D; // [b, t - logitsFrom, v]
  cache?: LayerCache[];
}

let modelCounter = 0;

function prod(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export interface KnowlGptOptions {
  /** Seed or label of the init stream (default 'gpt-knowl/init'). */
  seed?: number | string;
  /** An explicit init stream (wins over `seed`). */
  rng?: Rng;
  /** Create zero-filled weights without drawing random numbers (for loading checkpoints). */
  skipInit?: boolean;
  /**
   * Take these tensors as the weights (e.g. read from a checkpoint): each variable shares its
   * tensor's memory (no copy, no initial values made); every name and shape must match (else a
   * WeightMismatchError naming `source`). The caller still disposes its tensors.
   */
  weights?: { tensors: Record<string, tf.Tensor>; source: string };
}

/** The knowledge-fused GPT. Owns its variables: call `dispose()`. */
export class KnowlGpt {
  readonly config: GptConfig;
  /** Variables keyed by EasyNLP state-dict key (minus `transformer.`); see `parameterSpecs`. */
  readonly variables: Record<string, tf.Variable>;
  private readonly masks = new CausalMasks();
  private disposed = false;

  constructor(
    config: Partial<GptConfig> & { preset?: PresetName } = {},
    options: KnowlGptOptions = {},
  ) {
    this.config = validateGptConfig(config);
    const rng = options.rng ?? new Rng(options.seed ?? 'gpt-knowl/init');
    const id = modelCounter++;
    this.variables = {};
    const specs = parameterSpecs(this.config);
    const given = options.weights;
    if (given) {
      assertWeightsMatch(
        given.source,
        specs.map((s) => [s.name, s.shape] as const),
        Object.entries(given.tensors).map(([name, t]) => [name, t.shape] as const),
      );
      for (const s of specs) {
        const t = given.tensors[s.name];
        if (t.dtype !== 'float32') {
          throw new Error(`${given.source}: weight '${s.name}' is ${t.dtype}, expected float32`);
        }
        this.variables[s.name] = tf.variable(t, true, `gpt_knowl_${id}/${s.name}`);
      }
      return;
    }
    for (const s of specs) {
      const data = new Float32Array(prod(s.shape));
      if (s.init === 'normal' && !options.skipInit) rng.fillNormal(data, 0, this.config.initStd);
      else if (s.init === 'ones') data.fill(1);
      this.variables[s.name] = tf.tidy(() =>
        tf.variable(tf.tensor(data, s.shape), true, `gpt_knowl_${id}/${s.name}`),
      );
    }
  }

  /** Parameters actually held (compare with `countParameters(config)`). */
  numParameters(): number {
    let n = 0;
    for (const v of Object.values(this.variables)) n += v.size;
    return n;
  }

  /** Folds weights for inference (see `PackedWeights`). Caller disposes with `disposePacked`. */
  packWeights(): PackedWeights {
    this.checkAlive();
    return packWeights(this.variables, this.config);
  }

  /**
   * Block inputs [n, 1, d] for image codes at one position: token row + position row, summed on
   * the CPU from the packed host tables (the same float32 sum the `forward` kernels compute).
   * Feed them to `forwardEmbedded`. Caller disposes.
   */
  embedCodes(codes: ArrayLike<number>, position: number, packed: PackedWeights): tf.Tensor3D {
    return embedCodes(this.config, codes, position, packed);
  }

  /**
   * Logits for `tokens` (joint ids). Synchronous; call it inside `tf.tidy`.
   * With `cache`, `tokens` continue the cached positions.
   */
  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    return this.forwardEmbedded(this.embed(tokens, opts), opts);
  }

  /** Block inputs for `tokens`: token rows (lattice fusion applied) plus positions. */
  private embed(tokens: tf.Tensor2D, opts: ForwardOptions): tf.Tensor3D {
    const [B, T] = tokens.shape; // [b, t]
    const { past, knowledge } = this.checkCall(T, opts);
    const c = this.config;
    const w = this.variables;
    let x = tf.reshape(tf.gather(w['tok_emb.weight'], tf.reshape(tokens, [-1])), [
      B,
      T,
      c.nEmbd,
    ]) as tf.Tensor3D; // [b, t, d]
    if (knowledge?.mode === 'lattice') x = fuseTextEmbeddings(x, knowledge, past, c, w);
    const positions = tf.reshape(tf.slice(w.pos_emb, [0, past, 0], [1, T, c.nEmbd]), [T, c.nEmbd]);
    return tf.add(x, positions) as tf.Tensor3D; // [b, t, d]
  }

  /**
   * The blocks and the head on block inputs `x` (token embeddings, lattice fusion applied, plus
   * positions), e.g. from `embedCodes`. Synchronous; call it inside `tf.tidy`.
   */
  forwardEmbedded(x: tf.Tensor3D, opts: ForwardOptions = {}): ForwardResult {
    const { states, layers, batch, tokens, cache } = this.finalStates(x, opts);
    const logits = tf.reshape(layers.head(states), [
      batch,
      tokens,
      this.config.imageVocabSize,
    ]) as tf.Tensor3D; // [b, t', v]
    return cache ? { logits, cache } : { logits };
  }

  /**
   * The blocks, the `easynlp` fusion and `ln_f` on block inputs `x`: the rows the head reads
   * ([b*t', d], positions from `logitsFrom` on), and the layers that computed them.
   */
  private finalStates(
    x: tf.Tensor3D,
    opts: ForwardOptions,
  ): { states: tf.Tensor; layers: Layers; batch: number; tokens: number; cache?: LayerCache[] } {
    const c = this.config;
    const [B, T, C] = x.shape; // [b, t, d]
    const { past, knowledge } = this.checkCall(T, opts);
    if (C !== c.nEmbd) throw new Error(`forwardEmbedded: width ${C}, expected ${c.nEmbd}`);
    let drops = 0;
    const dropout = (z: tf.Tensor, rate: number): tf.Tensor =>
      opts.training && rate > 0
        ? tf.dropout(z, rate, undefined, (opts.dropoutSeed ?? 0) + 7919 * drops++)
        : z;
    const layers = opts.packed
      ? packedLayers(opts.packed, this.variables, c)
      : variableLayers(this.variables, c, opts.training === true);
    const call: AttentionCall = {
      batch: B,
      tokens: T,
      past,
      heads: c.nHead,
      cache: opts.cache ?? null,
      newCache: opts.returnCache ? [] : null,
      kvCache: opts.kvCache ?? null,
      masks: this.masks,
      dropout: (z) => dropout(z, c.attnPdrop),
      rows: layers.rows(B * T),
    };

    const block = (ls: Layers, l: number, x: tf.Tensor): tf.Tensor => {
      const y = residualAdd(x, dropout(ls.attn(l, ls.ln1(l, x), call), c.residPdrop)); // [b*t, d]
      return residualAdd(y, dropout(ls.mlp(l, ls.ln2(l, y)), c.residPdrop)); // [b*t, d]
    };
    const recompute =
      opts.packed || opts.cache || opts.returnCache
        ? 0
        : Math.min(c.nLayer, Math.max(0, opts.recomputeBlocks ?? 0));
    const training = opts.training === true;
    let r = tf.reshape(dropout(x, c.embdPdrop), call.rows); // [b*t, d]
    for (let l = 0; l < c.nLayer; l++) {
      if (l >= recompute) {
        // the block's intermediates go once it is done (a gradient tape keeps what it saved),
        // unless they are the keys/values returned
        r = call.newCache ? block(layers, l, r) : tf.tidy(() => block(layers, l, r));
        continue;
      }
      // the block's weights as inputs (with LoRA, the adapted tensors in place of the variables)
      const names = Object.keys(this.variables).filter((n) => n.startsWith(`blocks.${l}.`));
      const first = drops; // the recomputation draws the same dropout masks
      r = recomputed(
        (input, ...weights) => {
          drops = first;
          const wl: Record<string, tf.Tensor> = {};
          names.forEach((n, i) => {
            wl[n] = weights[i];
          });
          return block(variableLayers(wl, c, training), l, input);
        },
        [r, ...names.map((n) => this.variables[n])],
      );
    }

    if (knowledge?.mode === 'easynlp' && opts.fuse !== false) {
      const hidden = tf.reshape(r, [B, T, C]) as tf.Tensor3D; // [b, t, d]
      r = tf.reshape(fuseFinalStates(hidden, knowledge, past, c, this.variables), call.rows);
    }
    const from = opts.logitsFrom ?? 0;
    if (from < 0 || from >= T) throw new Error(`forward: logitsFrom ${from} outside [0, ${T})`);
    const tOut = T - from;
    if (from > 0) {
      const kept = tf.slice(tf.reshape(r, [B, T, C]), [0, from, 0], [B, tOut, C]); // [b, t', d]
      r = tf.reshape(kept, layers.rows(B * tOut)); // [b*t', d]
    }
    const states = layers.lnF(r); // [b*t', d]
    const out = { states, layers, batch: B, tokens: tOut };
    return call.newCache ? { ...out, cache: call.newCache } : out;
  }

  /** Positions cached before a call of `T` tokens, and the knowledge it fuses (checked). */
  private checkCall(
    T: number,
    opts: ForwardOptions,
  ): { past: number; knowledge: KnowledgeTensors | null } {
    this.checkAlive();
    const c = this.config;
    if (opts.kvCache) checkKvCall(opts, T, c);
    const past = opts.kvCache ? opts.kvCache.length : opts.cache ? opts.cache[0].k.shape[2] : 0;
    if (past + T > blockSize(c)) {
      throw new Error(
        `forward: ${past} cached + ${T} new positions exceed the position table (${blockSize(c)})`,
      );
    }
    const knowledge = c.fusion === 'none' ? null : (opts.knowledge ?? null);
    if (knowledge && knowledge.mode !== c.fusion) {
      throw new Error(
        `forward: knowledge of mode '${knowledge.mode}' given to a '${c.fusion}' model`,
      );
    }
    return { past, knowledge };
  }

  /**
   * Mean cross-entropy of the image codes (EasyNLP `compute_loss`): position textLen-1+i predicts
   * code i; text positions carry no loss. Synchronous; call inside `tf.tidy` / a gradient function.
   */
  loss(
    tokens: tf.Tensor2D, // [b, textLen + imageLen - 1] joint ids
    targets: tf.Tensor2D, // [b, imageLen] image codes
    opts: LossOptions = {},
  ): tf.Scalar {
    const c = this.config;
    const expected = c.textLen + c.imageLen - 1;
    if (tokens.shape[1] !== expected) {
      throw new Error(`loss: tokens have ${tokens.shape[1]} positions, expected ${expected}`);
    }
    const o: ForwardOptions = { ...opts, logitsFrom: c.textLen - 1 };
    if (!opts.fusedHead) {
      const { logits } = this.forward(tokens, o); // [b, imageLen, v]
      return imageCrossEntropy(logits, targets);
    }
    const { states } = this.finalStates(this.embed(tokens, o), o); // [b*imageLen, d]
    const labels = tf.reshape(checkedTargets(targets, c.imageVocabSize), [-1]) as tf.Tensor1D;
    return linearSoftmaxCrossEntropy(
      states as tf.Tensor2D,
      this.variables['head.weight'] as tf.Tensor2D,
      labels,
      HEAD_CHUNK_ROWS,
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose(Object.values(this.variables));
    this.masks.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('KnowlGpt: used after dispose()');
  }
}

/** The rules of a forward call with a `KvCache` (see `ForwardOptions.kvCache`). */
function checkKvCall(opts: ForwardOptions, T: number, c: GptConfig): void {
  const kv = opts.kvCache!;
  const rule = (ok: boolean, msg: string) => {
    if (!ok) throw new Error(`forward: with kvCache, ${msg}`);
  };
  rule(!!opts.packed, 'pass packed weights (the kernel reads the packed q|k|v projection)');
  rule(!opts.cache && !opts.returnCache, 'cache and returnCache must be unset');
  rule(T === 1, `give one token per row, got ${T}`);
  rule(
    kv.layers === c.nLayer && kv.heads === c.nHead && kv.headDim === c.nEmbd / c.nHead,
    `the cache's ${kv.layers} layers x ${kv.heads} heads x ${kv.headDim} must match the model's ${c.nLayer} x ${c.nHead} x ${c.nEmbd / c.nHead}`,
  );
}

/**
 * Mean cross-entropy of logits [b, n, v] against integer targets [b, n], without a one-hot
 * (tfjs-wasm 4.22's OneHot ignores a float dtype): the runtime's sparse softmax cross-entropy,
 * one fused kernel forward and backward where native-kernels registered it.
 */
export function imageCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const labels = checkedTargets(targets, logits.shape[2]); // [b, n]
    return sparseSoftmaxCrossEntropy(logits, labels) as tf.Scalar;
  });
}

/** `targets` as int32 after checking every code is in [0, v) (small; read once per step). */
function checkedTargets(targets: tf.Tensor2D, v: number): tf.Tensor2D {
  const t = targets.dataSync(); // [b*n]
  for (let i = 0; i < t.length; i++) {
    const code = t[i];
    if (!(code >= 0 && code < v)) {
      throw new Error(`imageCrossEntropy: target ${i} = ${code} is outside [0, ${v})`);
    }
  }
  return targets.dtype === 'int32' ? targets : tf.cast(targets, 'int32'); // [b, n]
}
