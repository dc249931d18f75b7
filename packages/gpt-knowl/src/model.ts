/**
 * The knowledge-fused GPT (EasyNLP `GPT_knowl`, taming/minGPT underneath), one readable file.
 *
 * Sequence: [textLen text tokens | image codes], joint vocabulary (image codes 0..Vi-1, text id t
 * at Vi + t), one shared token table, learned absolute positions (zero init), pre-LN blocks with
 * fully causal attention, exact GELU, `ln_f`, and a head over image codes only (untied).
 *
 * Notation in shape comments: b batch, t tokens in this call, p past (cached) tokens, d width,
 * h heads, k head width, s entity slots, e entity width, v image vocabulary, x text length.
 */

import { Rng } from '@artist-ts/core/rng';
import {
  causalSelfAttention,
  fusedGelu,
  fusedLayerNorm,
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
import type { KnowledgeArrays } from './knowledge';

/** Knowledge inputs as tensors (see `knowledgeTensors`). */
export type KnowledgeTensors =
  | { mode: 'lattice'; entities: tf.Tensor3D; cover: tf.Tensor3D }
  | { mode: 'easynlp'; wordsEmb: tf.Tensor4D };

/** Keys and values of one block for the positions seen so far. */
export interface LayerCache {
  k: tf.Tensor4D; // [b, h, p, k]
  v: tf.Tensor4D; // [b, h, p, k]
}

/**
 * Inference weights: q/k/v packed into one matmul per block, the attention scale folded into q,
 * each LayerNorm's gain and bias folded into the linear layer that follows it (ln1 -> qkv,
 * ln2 -> mlp.0, ln_f -> head), GELU's two 1/sqrt(2) factors folded into mlp.0 and mlp.2, and
 * every matrix stored 3-D ([1, in, out]) so each linear layer is one kernel launch without
 * reshapes. Same function, fewer ops per token. Owned by the caller (`disposePacked`).
 */
export interface PackedWeights {
  qkvWeight: tf.Tensor3D[]; // [1, d, 3d] per block
  qkvBias: tf.Tensor1D[]; // [3d] per block
  projWeight: tf.Tensor3D[]; // [1, d, d] per block
  mlpWeight: tf.Tensor3D[]; // [1, d, 4d] per block
  mlpBias: tf.Tensor1D[]; // [4d] per block
  mlpOutWeight: tf.Tensor3D[]; // [1, 4d, d] per block
  headWeight: tf.Tensor3D; // [1, d, v]
  headBias: tf.Tensor1D; // [v]
  /**
   * Host copies of the image-code rows of `tok_emb` [v, d] and of `pos_emb` [positions, d]: a
   * decoding step builds its input rows on the CPU (`embedCodes`) and uploads them once, instead
   * of uploading ids and running gather, slice and add kernels per token.
   */
  codeEmbeddings: Float32Array;
  positionEmbeddings: Float32Array;
}

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
  /** Compute logits only from this position of the call onwards (default 0). */
  logitsFrom?: number;
  packed?: PackedWeights | null;
}

export interface ForwardResult {
  logits: tf.Tensor3D; // [b, t - logitsFrom, v]
  cache?: LayerCache[];
}

let modelCounter = 0;

function prod(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * LayerNorm over the last axis (biased variance, as PyTorch): one fused kernel forward and one
 * backward where @artist-ts/native-kernels registered them, stock ops elsewhere.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return fusedLayerNorm(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, eps);
}

/** LayerNorm without gain and bias (used with `PackedWeights`, where they are folded). */
export function normalize(x: tf.Tensor, eps: number): tf.Tensor {
  const xc = tf.sub(x, tf.mean(x, -1, true));
  return tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps)));
}

/** x W + b for x [n, in] (one fused kernel with a bias). */
export function linear(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor2D {
  return (
    b ? tf.fused.matMul({ a: x, b: w as tf.Tensor2D, bias: b }) : tf.matMul(x, w as tf.Tensor2D)
  ) as tf.Tensor2D;
}

/**
 * x W + b for x [1, n, in] and W [1, in, out] as one `_FusedMatMul` kernel: `tf.fused.matMul`
 * wraps the same kernel in three reshapes, which cost as much as small kernels when decoding one
 * token at a time. Inference only (no gradient).
 */
function linear3d(x: tf.Tensor, w: tf.Tensor3D, b: tf.Tensor1D | null): tf.Tensor3D {
  return tf.engine().runKernel(tf._FusedMatMul, b ? { a: x, b: w, bias: b } : { a: x, b: w }, {
    transposeA: false,
    transposeB: false,
    activation: 'linear',
    leakyreluAlpha: 0.2,
  }) as tf.Tensor3D;
}

/** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)) (PyTorch nn.GELU default), fused where available. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return fusedGelu(x, 'none');
}

/**
 * Lattice fusion (the default mode): for each text token, softmax over the slots whose entity span
 * covers it of <token embedding, W e + b> / sqrt(d); the weighted average of the projected
 * entities is added to the token embedding. Tokens covered by no entity are left unchanged.
 */
export function latticeFusion(
  tokens: tf.Tensor3D, // [b, x, d] token embeddings of the text positions
  entities: tf.Tensor3D, // [b, s, e]
  cover: tf.Tensor3D, // [b, s, x] 1 where slot s covers token x
  weight: tf.Tensor2D, // [e, d]
  bias: tf.Tensor1D, // [d]
): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, s, e] = entities.shape;
    const d = weight.shape[1];
    const proj = tf.reshape(tf.add(tf.matMul(tf.reshape(entities, [b * s, e]), weight), bias), [
      b,
      s,
      d,
    ]); // [b, s, d]
    const scores = tf.mul(tf.matMul(tokens, proj, false, true), 1 / Math.sqrt(d)); // [b, x, s]
    const coverT = tf.transpose(cover, [0, 2, 1]); // [b, x, s]
    // cover is 0/1: scores where covered, -1e9 elsewhere (arithmetic, so no where/cast on the tape)
    const masked = tf.add(tf.mul(scores, coverT), tf.mul(tf.sub(coverT, 1), 1e9)); // [b, x, s]
    const alpha = tf.mul(tf.softmax(masked), coverT); // [b, x, s], rows of uncovered tokens are 0
    return tf.add(tokens, tf.matMul(alpha, proj)) as tf.Tensor3D; // [b, x, d]
  });
}

/** 1 where x == 0 exactly, else 0; carries no gradient (tfjs has no stop_gradient op). */
const exactZeroMask: (x: tf.Tensor) => tf.Tensor = tf.customGrad((...args) => {
  const x = args[0] as tf.Tensor;
  return {
    // where() rather than cast(bool): on cpu a bool->float32 cast shares the Uint8Array storage
    value: tf.where(tf.equal(x, 0), tf.onesLike(x), tf.zerosLike(x)),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  };
});

/**
 * EasyNLP's fusion (`GPT_knowl.forward`), applied to the final hidden states: one unscaled score
 * per slot = <H[:, :x], P_s> over all text positions and widths, exact-zero scores masked to -1e30,
 * softmax over slots, sum_s alpha_s P_s added to the text states.
 */
export function easyNlpFusion(
  hidden: tf.Tensor3D, // [b, t, d], t >= x
  wordsEmb: tf.Tensor4D, // [b, s, x, e]
  weight: tf.Tensor2D, // [e, d]
  bias: tf.Tensor1D, // [d]
): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, s, x, e] = wordsEmb.shape;
    const [, t, d] = hidden.shape;
    const proj = tf.reshape(tf.add(tf.matMul(tf.reshape(wordsEmb, [b * s * x, e]), weight), bias), [
      b,
      s,
      x,
      d,
    ]); // [b, s, x, d]
    const text = tf.slice(hidden, [0, 0, 0], [b, x, d]); // [b, x, d]
    const scores = tf.sum(tf.mul(proj, tf.expandDims(text, 1)), [2, 3]); // [b, s]
    const zero = exactZeroMask(scores); // [b, s] 1 where a score is exactly 0 (no gradient)
    const masked = tf.add(tf.mul(scores, tf.sub(1, zero)), tf.mul(zero, -1e30)); // [b, s]
    const alpha = tf.softmax(masked); // [b, s]
    const fused = tf.sum(tf.mul(tf.reshape(alpha, [b, s, 1, 1]), proj), 1); // [b, x, d]
    const newText = tf.add(text, fused); // [b, x, d]
    if (t === x) return newText as tf.Tensor3D;
    return tf.concat([newText, tf.slice(hidden, [0, x, 0], [b, t - x, d])], 1) as tf.Tensor3D;
  });
}

/** Converts knowledge arrays to tensors (caller disposes, or call inside tf.tidy). */
export function knowledgeTensors(k: KnowledgeArrays, config: GptConfig): KnowledgeTensors {
  const S = config.entitySlots;
  const X = config.textLen;
  const E = config.entityDim;
  if (k.mode === 'lattice') {
    return {
      mode: 'lattice',
      entities: tf.tensor3d(k.entities, [k.batch, S, E]),
      cover: tf.tensor3d(k.cover, [k.batch, S, X]),
    };
  }
  return { mode: 'easynlp', wordsEmb: tf.tensor4d(k.wordsEmb, [k.batch, S, X, E]) };
}

export function disposeKnowledge(k: KnowledgeTensors | null | undefined): void {
  if (!k) return;
  if (k.mode === 'lattice') tf.dispose([k.entities, k.cover]);
  else tf.dispose(k.wordsEmb);
}

export interface KnowlGptOptions {
  /** Seed or label of the init stream (default 'gpt-knowl/init'). */
  seed?: number | string;
  /** An explicit init stream (wins over `seed`). */
  rng?: Rng;
  /** Create zero-filled weights without drawing random numbers (for loading checkpoints). */
  skipInit?: boolean;
}

/** The knowledge-fused GPT. Owns its variables: call `dispose()`. */
export class KnowlGpt {
  readonly config: GptConfig;
  /** Variables keyed by EasyNLP state-dict key (minus `transformer.`); see `parameterSpecs`. */
  readonly variables: Record<string, tf.Variable>;
  private readonly masks = new Map<string, tf.Tensor2D>();
  private disposed = false;

  constructor(
    config: Partial<GptConfig> & { preset?: PresetName } = {},
    options: KnowlGptOptions = {},
  ) {
    this.config = validateGptConfig(config);
    const rng = options.rng ?? new Rng(options.seed ?? 'gpt-knowl/init');
    const id = modelCounter++;
    this.variables = {};
    for (const s of parameterSpecs(this.config)) {
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
    const w = this.variables;
    const c = this.config;
    const scale = 1 / Math.sqrt(c.nEmbd / c.nHead);
    // LayerNorm(x) W + b = n(x) (g[:, None] W) + (beta W + b), with n the plain normalisation.
    const fold = (g: tf.Tensor, beta: tf.Tensor, W: tf.Tensor, b: tf.Tensor | null) =>
      tf.tidy(() => {
        const gW = tf.mul(tf.reshape(g, [-1, 1]), W) as tf.Tensor2D; // [in, out]
        let bias = tf.reshape(tf.matMul(tf.reshape(beta, [1, -1]), W), [-1]); // [out]
        if (b) bias = tf.add(bias, b);
        return [gW, bias as tf.Tensor1D] as const;
      });
    // [in, out] -> [1, in, out]; a tensor folded above is released, a variable is only viewed
    const to3d = (m: tf.Tensor): tf.Tensor3D => {
      const r = tf.reshape(m, [1, m.shape[0] as number, m.shape[1] as number]) as tf.Tensor3D;
      if (!(m instanceof tf.Variable)) m.dispose();
      return r;
    };
    const out: PackedWeights = {
      qkvWeight: [],
      qkvBias: [],
      projWeight: [],
      mlpWeight: [],
      mlpBias: [],
      mlpOutWeight: [],
      headWeight: null as unknown as tf.Tensor3D,
      headBias: null as unknown as tf.Tensor1D,
      codeEmbeddings: tf.tidy(
        () =>
          tf
            .slice(w['tok_emb.weight'], [0, 0], [c.imageVocabSize, c.nEmbd])
            .dataSync() as Float32Array,
      ),
      positionEmbeddings: w.pos_emb.dataSync().slice() as Float32Array,
    };
    for (let l = 0; l < c.nLayer; l++) {
      const p = `blocks.${l}.`;
      const [qkvW, qkvB] = tf.tidy(() => {
        const W = tf.concat(
          [
            tf.mul(w[`${p}attn.query.weight`], scale),
            w[`${p}attn.key.weight`],
            w[`${p}attn.value.weight`],
          ],
          1,
        ); // [d, 3d]
        const b = tf.concat(
          [
            tf.mul(w[`${p}attn.query.bias`], scale),
            w[`${p}attn.key.bias`],
            w[`${p}attn.value.bias`],
          ],
          0,
        ); // [3d]
        return fold(w[`${p}ln1.weight`], w[`${p}ln1.bias`], W, b);
      });
      out.qkvWeight.push(to3d(qkvW));
      out.projWeight.push(to3d(w[`${p}attn.proj.weight`]));
      out.qkvBias.push(qkvB);
      // GELU(z) = z/2 (1 + erf(z / sqrt 2)): mlp.0 emits z / sqrt 2, mlp.2 takes the other 1 / sqrt 2
      const [mW, mB] = tf.tidy(() =>
        fold(
          w[`${p}ln2.weight`],
          w[`${p}ln2.bias`],
          tf.mul(w[`${p}mlp.0.weight`], Math.SQRT1_2),
          tf.mul(w[`${p}mlp.0.bias`], Math.SQRT1_2),
        ),
      );
      out.mlpWeight.push(to3d(mW));
      out.mlpBias.push(mB);
      out.mlpOutWeight.push(tf.tidy(() => to3d(tf.mul(w[`${p}mlp.2.weight`], Math.SQRT1_2))));
    }
    const [hW, hB] = fold(w['ln_f.weight'], w['ln_f.bias'], w['head.weight'], null);
    out.headWeight = to3d(hW);
    out.headBias = hB;
    return out;
  }

  /**
   * Block inputs [n, 1, d] for image codes at one position: token row + position row, summed on
   * the CPU from the packed host tables (the same float32 sum the `forward` kernels compute).
   * Feed them to `forwardEmbedded`. Caller disposes.
   */
  embedCodes(codes: ArrayLike<number>, position: number, packed: PackedWeights): tf.Tensor3D {
    const c = this.config;
    const C = c.nEmbd;
    if (!(Number.isInteger(position) && position >= 0 && position < blockSize(c))) {
      throw new Error(`embedCodes: position ${position} outside [0, ${blockSize(c)})`);
    }
    const out = new Float32Array(codes.length * C);
    const pos = packed.positionEmbeddings.subarray(position * C, (position + 1) * C);
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (!(Number.isInteger(code) && code >= 0 && code < c.imageVocabSize)) {
        throw new Error(`embedCodes: codes[${i}] = ${code} is not an image code`);
      }
      const row = packed.codeEmbeddings.subarray(code * C, (code + 1) * C);
      for (let j = 0; j < C; j++) out[i * C + j] = row[j] + pos[j];
    }
    return tf.tensor3d(out, [codes.length, 1, C]);
  }

  /** Additive causal mask for t queries following p cached positions: [t, p + t]. */
  private causalMask(t: number, total: number): tf.Tensor2D {
    const key = `${t}x${total}`;
    let m = this.masks.get(key);
    if (!m) {
      const past = total - t;
      const data = new Float32Array(t * total);
      for (let i = 0; i < t; i++)
        for (let j = past + i + 1; j < total; j++) data[i * total + j] = -1e9;
      m = tf.keep(tf.tensor2d(data, [t, total]));
      this.masks.set(key, m);
    }
    return m;
  }

  /**
   * Logits for `tokens` (joint ids). Synchronous; call it inside `tf.tidy`.
   * With `cache`, `tokens` continue the cached positions.
   */
  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    this.checkAlive();
    const c = this.config;
    const w = this.variables;
    const [B, T] = tokens.shape; // [b, t]
    const C = c.nEmbd;
    const past = opts.cache ? opts.cache[0].k.shape[2] : 0;
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
    let x = tf.reshape(tf.gather(w['tok_emb.weight'], tf.reshape(tokens, [-1])), [B, T, C]); // [b, t, d]
    if (knowledge?.mode === 'lattice' && past < c.textLen) {
      const nx = Math.min(T, c.textLen - past); // text positions in this call
      const cover = tf.slice(knowledge.cover, [0, 0, past], [B, c.entitySlots, nx]); // [b, s, nx]
      const text = tf.slice(x, [0, 0, 0], [B, nx, C]) as tf.Tensor3D; // [b, nx, d]
      const fused = latticeFusion(
        text,
        knowledge.entities,
        cover as tf.Tensor3D,
        w['ent_emb.weight'] as tf.Tensor2D,
        w['ent_emb.bias'] as tf.Tensor1D,
      ); // [b, nx, d]
      x = nx === T ? fused : tf.concat([fused, tf.slice(x, [0, nx, 0], [B, T - nx, C])], 1);
    }
    x = tf.add(x, tf.reshape(tf.slice(w['pos_emb'], [0, past, 0], [1, T, C]), [T, C])); // [b, t, d]
    return this.forwardEmbedded(x as tf.Tensor3D, opts);
  }

  /**
   * The blocks and the head on block inputs `x` (token embeddings, lattice fusion applied, plus
   * positions), e.g. from `embedCodes`. Synchronous; call it inside `tf.tidy`.
   */
  forwardEmbedded(x: tf.Tensor3D, opts: ForwardOptions = {}): ForwardResult {
    this.checkAlive();
    const c = this.config;
    const w = this.variables;
    const [B, T, C] = x.shape; // [b, t, d]
    if (C !== c.nEmbd) throw new Error(`forwardEmbedded: width ${C}, expected ${c.nEmbd}`);
    const nh = c.nHead;
    const hd = C / nh;
    const past = opts.cache ? opts.cache[0].k.shape[2] : 0;
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
    let dropCount = 0;
    const dropSeed = opts.dropoutSeed ?? 0;
    const dropout = (x: tf.Tensor, rate: number): tf.Tensor =>
      opts.training && rate > 0 ? tf.dropout(x, rate, undefined, dropSeed + 7919 * dropCount++) : x;
    // Rows of the residual stream: [b*t, d], or [1, b*t, d] with packed weights (3-D matmuls).
    const pk = opts.packed ?? null;
    const rows = (n: number) => (pk ? [1, n, C] : [n, C]);
    let r: tf.Tensor = tf.reshape(dropout(x, c.embdPdrop), rows(B * T)); // [b*t, d]

    const newCache: LayerCache[] = [];
    const eps = c.layerNormEps;
    const scale = 1 / Math.sqrt(hd);
    // [b*t, d] -> [b, h, t, k]; with one position the transpose is a reshape.
    const heads = (z: tf.Tensor) =>
      (T === 1
        ? tf.reshape(z, [B, nh, 1, hd])
        : tf.transpose(tf.reshape(z, [B, T, nh, hd]), [0, 2, 1, 3])) as tf.Tensor4D;
    for (let l = 0; l < c.nLayer; l++) {
      const p = `blocks.${l}.`;
      // --- attention ---
      let h: tf.Tensor = pk
        ? normalize(r, eps)
        : layerNorm(r, w[`${p}ln1.weight`], w[`${p}ln1.bias`], eps); // [b*t, d]
      const layerCache = opts.cache?.[l];
      // A whole causal sequence with nothing cached or returned, and no attention dropout: one
      // fused attention kernel on [b, t, d] (heads side by side, no transposes, no mask tensor).
      const fusedAttention =
        !pk && !layerCache && !opts.returnCache && T > 1 && !(opts.training && c.attnPdrop > 0);
      let q: tf.Tensor;
      let k: tf.Tensor;
      let v: tf.Tensor;
      if (pk) {
        // one matmul, then split: fewer kernel launches per generated token
        const qkv = linear3d(h, pk.qkvWeight[l], pk.qkvBias[l]); // [1, b*t, 3d]
        [q, k, v] = tf.split(qkv, 3, 2); // 3 x [1, b*t, d]
      } else {
        // three matmuls (slicing a fused [b*t, 3d] output costs more than the two extra GEMM
        // launches on wasm); the unfused path puts the attention scale on q's weights, not on the
        // scores, the fused kernel takes it as an argument
        const a = `${p}attn.`;
        const qw = w[`${a}query.weight`];
        const qb = w[`${a}query.bias`];
        q = fusedAttention
          ? linear(h as tf.Tensor2D, qw, qb)
          : linear(h as tf.Tensor2D, tf.mul(qw, scale), tf.mul(qb, scale)); // [b*t, d]
        k = linear(h as tf.Tensor2D, w[`${a}key.weight`], w[`${a}key.bias`]); // [b*t, d]
        v = linear(h as tf.Tensor2D, w[`${a}value.weight`], w[`${a}value.bias`]); // [b*t, d]
      }
      let y: tf.Tensor;
      if (fusedAttention) {
        const bt = (z: tf.Tensor) => tf.reshape(z, [B, T, C]) as tf.Tensor3D;
        y = tf.reshape(causalSelfAttention(bt(q), bt(k), bt(v), nh, scale), [B * T, C]); // [b*t, d]
      } else {
        let K = heads(k); // [b, h, t, k]
        let V = heads(v); // [b, h, t, k]
        if (layerCache) {
          K = tf.concat([layerCache.k, K], 2); // [b, h, p+t, k]
          V = tf.concat([layerCache.v, V], 2); // [b, h, p+t, k]
        }
        if (opts.returnCache) newCache.push({ k: K, v: V });
        let att = tf.matMul(heads(q), K, false, true); // [b, h, t, p+t] (q carries 1/sqrt(k))
        if (T > 1) att = tf.add(att, this.causalMask(T, past + T));
        att = dropout(tf.softmax(att), c.attnPdrop);
        y = tf.matMul(att, V); // [b, h, t, k]
        y = tf.reshape(T === 1 ? y : tf.transpose(y, [0, 2, 1, 3]), rows(B * T)); // [b*t, d]
      }
      y = pk
        ? linear3d(y, pk.projWeight[l], w[`${p}attn.proj.bias`] as tf.Tensor1D)
        : linear(y as tf.Tensor2D, w[`${p}attn.proj.weight`], w[`${p}attn.proj.bias`]); // [b*t, d]
      r = tf.add(r, dropout(y, c.residPdrop)); // [b*t, d]
      // --- MLP ---
      if (pk) {
        // packed mlp.0 outputs u = z / sqrt(2) and packed mlp.2 carries the other 1/sqrt(2):
        // gelu(z) W = (u (1 + erf u)) (W / sqrt 2)
        const u = linear3d(normalize(r, eps), pk.mlpWeight[l], pk.mlpBias[l]); // [1, b*t, 4d]
        h = tf.mul(u, tf.add(tf.erf(u), 1)); // [b*t, 4d] (no gradient needed)
        h = linear3d(h, pk.mlpOutWeight[l], w[`${p}mlp.2.bias`] as tf.Tensor1D); // [1, b*t, d]
      } else {
        h = layerNorm(r, w[`${p}ln2.weight`], w[`${p}ln2.bias`], eps); // [b*t, d]
        h = linear(h as tf.Tensor2D, w[`${p}mlp.0.weight`], w[`${p}mlp.0.bias`]); // [b*t, 4d]
        h = linear(gelu(h) as tf.Tensor2D, w[`${p}mlp.2.weight`], w[`${p}mlp.2.bias`]); // [b*t, d]
      }
      r = tf.add(r, dropout(h, c.residPdrop)); // [b*t, d]
    }
    if (knowledge?.mode === 'easynlp' && opts.fuse !== false) {
      if (past !== 0 || T < c.textLen) {
        throw new Error(
          `forward: 'easynlp' fusion needs all ${c.textLen} text positions in one call (got positions ${past}..${past + T - 1}); pass fuse: false after the first step`,
        );
      }
      const fused = easyNlpFusion(
        tf.reshape(r, [B, T, C]) as tf.Tensor3D,
        knowledge.wordsEmb,
        w['ent_emb.weight'] as tf.Tensor2D,
        w['ent_emb.bias'] as tf.Tensor1D,
      ); // [b, t, d]
      r = tf.reshape(fused, rows(B * T));
    }
    const from = opts.logitsFrom ?? 0;
    if (from < 0 || from >= T) throw new Error(`forward: logitsFrom ${from} outside [0, ${T})`);
    const tOut = T - from;
    if (from > 0) {
      r = tf.reshape(
        tf.slice(tf.reshape(r, [B, T, C]), [0, from, 0], [B, tOut, C]),
        rows(B * tOut),
      ); // [b*t', d]
    }
    const xf = (
      pk ? normalize(r, eps) : layerNorm(r, w['ln_f.weight'], w['ln_f.bias'], eps)
    ) as tf.Tensor2D; // [b*t', d]
    const logits = tf.reshape(
      pk ? linear3d(xf, pk.headWeight, pk.headBias) : linear(xf, w['head.weight'], null),
      [B, tOut, c.imageVocabSize],
    ) as tf.Tensor3D; // [b, t', v]
    return opts.returnCache ? { logits, cache: newCache } : { logits };
  }

  /**
   * Mean cross-entropy of the image codes (EasyNLP `compute_loss`): position textLen-1+i predicts
   * code i; text positions carry no loss. Synchronous; call inside `tf.tidy` / a gradient function.
   */
  loss(
    tokens: tf.Tensor2D, // [b, textLen + imageLen - 1] joint ids
    targets: tf.Tensor2D, // [b, imageLen] image codes
    opts: Omit<ForwardOptions, 'cache' | 'returnCache' | 'logitsFrom'> = {},
  ): tf.Scalar {
    const c = this.config;
    const expected = c.textLen + c.imageLen - 1;
    if (tokens.shape[1] !== expected) {
      throw new Error(`loss: tokens have ${tokens.shape[1]} positions, expected ${expected}`);
    }
    const { logits } = this.forward(tokens, { ...opts, logitsFrom: c.textLen - 1 }); // [b, imageLen, v]
    return imageCrossEntropy(logits, targets);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose(Object.values(this.variables));
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('KnowlGpt: used after dispose()');
  }
}

/**
 * Mean cross-entropy of logits [b, n, v] against integer targets [b, n], without a one-hot
 * (tfjs-wasm 4.22's OneHot ignores a float dtype): the runtime's sparse softmax cross-entropy,
 * one fused kernel forward and backward where native-kernels registered it.
 */
export function imageCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const v = logits.shape[2];
    const t = targets.dataSync(); // [b*n] (small; read once per step)
    for (let i = 0; i < t.length; i++) {
      const code = t[i];
      if (!(code >= 0 && code < v)) {
        throw new Error(`imageCrossEntropy: target ${i} = ${code} is outside [0, ${v})`);
      }
    }
    const labels = targets.dtype === 'int32' ? targets : tf.cast(targets, 'int32'); // [b, n]
    return sparseSoftmaxCrossEntropy(logits, labels) as tf.Scalar;
  });
}

export function disposePacked(p: PackedWeights | null | undefined): void {
  if (!p) return;
  tf.dispose([
    ...p.qkvWeight,
    ...p.qkvBias,
    ...p.projWeight,
    ...p.mlpWeight,
    ...p.mlpBias,
    ...p.mlpOutWeight,
    p.headWeight,
    p.headBias,
  ]);
}
