/**
 * The pieces of a transformer block, and `Layers`: the one seam between the training weights and
 * the folded inference weights (`packed_inference.ts`). `KnowlGpt.forwardEmbedded` walks the blocks
 * through a `Layers` and never asks which weights it holds.
 *
 * Notation in shape comments: b batch, t tokens in this call, p past (cached) tokens, d width,
 * h heads, k head width, n rows (b*t).
 */

import { causalSelfAttention, fusedGelu, fusedLayerNorm, type KvCache } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import type { GptConfig } from './config';

/** Keys and values of one block for the positions seen so far. */
export interface LayerCache {
  k: tf.Tensor4D; // [b, h, p, k]
  v: tf.Tensor4D; // [b, h, p, k]
}

/**
 * LayerNorm over the last axis (biased variance, as PyTorch): one fused kernel forward and one
 * backward where @artist-ts/native-kernels registered them, stock ops elsewhere.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return fusedLayerNorm(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, eps);
}

/** LayerNorm without gain and bias (used with packed weights, where they are folded). */
export function normalize(x: tf.Tensor, eps: number): tf.Tensor {
  const xc = tf.sub(x, tf.mean(x, -1, true));
  return tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps)));
}

/**
 * x W + b for x [n, in] (one fused kernel with a bias). With a bias its gradient keeps x and W
 * only: `tf.fused.matMul` also saves its output for the backward pass (its activation's
 * derivative reads it, which a linear map does not), a [n, out] tensor per layer that the
 * attention projection and the MLP's second layer would otherwise keep alive. The gradients are
 * the same kernels on the same values as `tf.fused.matMul`'s.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor2D {
  return (b ? linearWithBias(x, w, b) : tf.matMul(x, w as tf.Tensor2D)) as tf.Tensor2D;
}

const linearWithBias = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  const [n, k] = x.shape;
  const m = w.shape[1];
  save([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }), // [n, out]
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      // tf.fused.matMul's gradient, on its [1, rows, cols] views
      const dy3 = tf.reshape(dy as tf.Tensor, [1, n, m]); // [1, n, out]
      const x3 = tf.reshape(saved[0], [1, n, k]); // [1, n, in]
      const w3 = tf.reshape(saved[1], [1, k, m]); // [1, in, out]
      return [
        tf.reshape(tf.matMul(dy3, w3, false, true), [n, k]), // [n, in]
        tf.reshape(tf.matMul(x3, dy3, true, false), [k, m]), // [in, out]
        tf.reshape(tf.sum(dy3, [0, 1]), [m]), // [out]
      ];
    },
  };
});

/**
 * x + y for two tensors of one shape (the residual stream), whose gradient saves neither: tf.add
 * keeps both inputs for the backward pass (to reduce over broadcast axes), which with `linear`
 * keeps each attention projection and MLP output alive until the backward pass reaches it. The
 * gradient is dy for both, as tf.add's is without broadcasting.
 */
export const residualAdd = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, y] = args as [tf.Tensor, tf.Tensor];
  if (!tf.util.arraysEqual(x.shape, y.shape)) {
    throw new Error(`residualAdd: shapes [${x.shape}] and [${y.shape}] differ`);
  }
  return {
    value: tf.add(x, y),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [
      tf.reshape(dy as tf.Tensor, x.shape),
      tf.reshape(dy as tf.Tensor, y.shape),
    ],
  };
}) as (x: tf.Tensor, y: tf.Tensor) => tf.Tensor;

/** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)) (PyTorch nn.GELU default), fused where available. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return fusedGelu(x, 'none');
}

/**
 * linear(gelu(z), W, b): the MLP's second half, keeping z and W for the backward pass and not the
 * [n, mlpRatio d] GELU output, which the backward pass computes again from z (one GELU, about a
 * hundredth of the layer's GEMMs). The gradients are the same kernels on the same values as those
 * of `linear(gelu(z), W, b)`.
 */
export const geluLinear = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [z, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  const [n, k] = z.shape;
  const m = w.shape[1];
  save([z, w]);
  return {
    value: tf.fused.matMul({ a: gelu(z) as tf.Tensor2D, b: w, bias: b }), // [n, out]
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const dy3 = tf.reshape(dy as tf.Tensor, [1, n, m]); // [1, n, out]
      const w3 = tf.reshape(saved[1], [1, k, m]); // [1, in, out]
      const dg = tf.reshape(tf.matMul(dy3, w3, false, true), [n, k]); // [n, in]
      // the GELU again, and its gradient, in a gradient of its own (the enclosing backward
      // pass's tape put back after it)
      const eng = tf.engine() as unknown as { state: { activeTape: unknown } };
      const outer = eng.state.activeTape;
      let g: tf.Tensor;
      let dz: tf.Tensor;
      try {
        ({ value: g, grad: dz } = tf.valueAndGrad((t: tf.Tensor) => gelu(t))(saved[0], dg));
      } finally {
        eng.state.activeTape = outer;
      }
      const g3 = tf.reshape(g, [1, n, k]); // [1, n, in]
      return [
        dz, // [n, in]
        tf.reshape(tf.matMul(g3, dy3, true, false), [k, m]), // [in, out]
        tf.reshape(tf.sum(dy3, [0, 1]), [m]), // [out]
      ];
    },
  };
}) as (z: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** Additive causal masks [t, p + t] (0 on and before the diagonal, -1e9 after), built once each. */
export class CausalMasks {
  private readonly masks = new Map<string, tf.Tensor2D>();

  /** The mask for t queries following `total - t` cached positions (kept: do not dispose). */
  get(t: number, total: number): tf.Tensor2D {
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

  dispose(): void {
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
  }
}

/** What one forward call's attention needs besides its own weights. */
export interface AttentionCall {
  batch: number;
  /** Tokens in this call (t). */
  tokens: number;
  /** Cached positions before them (p). */
  past: number;
  heads: number;
  /** Keys/values of earlier positions, per block. */
  cache: readonly LayerCache[] | null;
  /** When set, each block pushes the keys/values of all positions (past + this call) here. */
  newCache: LayerCache[] | null;
  /**
   * Keys/values of earlier positions written in place by the native decoding kernel (packed
   * weights, one token per row; `cache` and `newCache` are null then).
   */
  kvCache: KvCache | null;
  masks: CausalMasks;
  /** Dropout on the attention probabilities (identity outside training). */
  dropout: (x: tf.Tensor) => tf.Tensor;
  /** Shape of the residual rows (`Layers.rows`), which the attention output takes. */
  rows: number[];
}

/**
 * Causal softmax attention of this call's queries over the cached and new keys. q carries the
 * 1/sqrt(k) scale already. q, k, v: the call's rows ([n, d] or [1, n, d]); returns rows.
 */
export function cachedAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  layer: number,
  call: AttentionCall,
): tf.Tensor {
  const { batch: B, tokens: T, heads: nh } = call;
  const C = q.shape[q.rank - 1] as number;
  const hd = C / nh;
  // rows -> [b, h, t, k]; with one position the transpose is a reshape.
  const heads = (z: tf.Tensor) =>
    (T === 1
      ? tf.reshape(z, [B, nh, 1, hd])
      : tf.transpose(tf.reshape(z, [B, T, nh, hd]), [0, 2, 1, 3])) as tf.Tensor4D;
  let K = heads(k); // [b, h, t, k]
  let V = heads(v); // [b, h, t, k]
  const past = call.cache?.[layer];
  if (past) {
    K = tf.concat([past.k, K], 2); // [b, h, p+t, k]
    V = tf.concat([past.v, V], 2); // [b, h, p+t, k]
  }
  call.newCache?.push({ k: K, v: V });
  let att = tf.matMul(heads(q), K, false, true); // [b, h, t, p+t]
  if (T > 1) att = tf.add(att, call.masks.get(T, call.past + T));
  att = call.dropout(tf.softmax(att));
  const y = tf.matMul(att, V); // [b, h, t, k]
  return tf.reshape(T === 1 ? y : tf.transpose(y, [0, 2, 1, 3]), call.rows); // [n, d]
}

/**
 * The per-layer functions of one forward pass, on one set of weights: the training variables
 * (`variableLayers`) or the folded inference weights (`packedLayers`). A block is
 * `x + attn(ln1(x))`, then `x + mlp(ln2(x))`; the model ends with `head(lnF(x))`.
 */
export interface Layers {
  /** Shape of n rows of the residual stream ([n, d], or [1, n, d] for 3-D matmuls). */
  rows(n: number): number[];
  ln1(layer: number, x: tf.Tensor): tf.Tensor; // [n, d]
  /** Self-attention with its output projection. */
  attn(layer: number, h: tf.Tensor, call: AttentionCall): tf.Tensor; // [n, d]
  ln2(layer: number, x: tf.Tensor): tf.Tensor; // [n, d]
  mlp(layer: number, h: tf.Tensor): tf.Tensor; // [n, d]
  lnF(x: tf.Tensor): tf.Tensor; // [n, d]
  /** Logits over image codes. */
  head(x: tf.Tensor): tf.Tensor; // [n, v]
}

/**
 * Layers on the model's variables (training, evaluation, anything that needs gradients). A whole
 * causal sequence with nothing cached or returned and no attention dropout runs one fused
 * attention kernel on [b, t, d] (heads side by side, no transposes, no mask tensor).
 */
export function variableLayers(
  w: Record<string, tf.Tensor>,
  c: GptConfig,
  training: boolean,
): Layers {
  const eps = c.layerNormEps;
  const scale = 1 / Math.sqrt(c.nEmbd / c.nHead);
  const attnDropout = training && c.attnPdrop > 0;
  return {
    rows: (n) => [n, c.nEmbd],
    ln1: (l, x) => layerNorm(x, w[`blocks.${l}.ln1.weight`], w[`blocks.${l}.ln1.bias`], eps),
    attn(l, h, call) {
      const a = `blocks.${l}.attn.`;
      const fused = !call.cache?.[l] && !call.newCache && call.tokens > 1 && !attnDropout;
      // three matmuls (slicing a fused [n, 3d] output costs more than the two extra GEMM launches
      // on wasm); the unfused path puts the attention scale on q's weights, not on the scores,
      // the fused kernel takes it as an argument
      const qw = w[`${a}query.weight`];
      const qb = w[`${a}query.bias`];
      const x = h as tf.Tensor2D;
      const q = fused ? linear(x, qw, qb) : linear(x, tf.mul(qw, scale), tf.mul(qb, scale)); // [n, d]
      const k = linear(x, w[`${a}key.weight`], w[`${a}key.bias`]); // [n, d]
      const v = linear(x, w[`${a}value.weight`], w[`${a}value.bias`]); // [n, d]
      let y: tf.Tensor;
      if (fused) {
        const bt = (z: tf.Tensor) =>
          tf.reshape(z, [call.batch, call.tokens, c.nEmbd]) as tf.Tensor3D; // [b, t, d]
        y = tf.reshape(causalSelfAttention(bt(q), bt(k), bt(v), c.nHead, scale), call.rows); // [n, d]
      } else {
        y = cachedAttention(q, k, v, l, call); // [n, d]
      }
      return linear(y as tf.Tensor2D, w[`${a}proj.weight`], w[`${a}proj.bias`]); // [n, d]
    },
    ln2: (l, x) => layerNorm(x, w[`blocks.${l}.ln2.weight`], w[`blocks.${l}.ln2.bias`], eps),
    mlp(l, h) {
      const m = `blocks.${l}.mlp.`;
      const z = linear(h as tf.Tensor2D, w[`${m}0.weight`], w[`${m}0.bias`]); // [n, 4d]
      return geluLinear(z, w[`${m}2.weight`], w[`${m}2.bias`]); // [n, d]
    },
    lnF: (x) => layerNorm(x, w['ln_f.weight'], w['ln_f.bias'], eps),
    head: (x) => linear(x as tf.Tensor2D, w['head.weight'], null), // [n, v]
  };
}
