/**
 * The packed-weight fast decode path: the model's weights folded once per sampling call so each
 * generated token launches as few kernels as possible (decoding one token at a time is bound by
 * kernel launches, not arithmetic). Same function as the training weights, fewer ops per token.
 *
 * Notation in shape comments: b batch, n rows (b*t), d width, v image vocabulary.
 */

import { decodeAttention, GELU_KERNEL, LAYER_NORM_KERNEL } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { blockSize, type GptConfig } from './config';
import { type AttentionCall, cachedAttention, type Layers, normalize } from './layers';

/**
 * Inference weights: q/k/v packed into one matmul per block, the attention scale folded into q,
 * each LayerNorm's gain and bias folded into the linear layer that follows it (ln1 -> qkv,
 * ln2 -> mlp.0, ln_f -> head), and every matrix stored 3-D ([1, in, out]) so each linear layer
 * is one kernel launch without reshapes. Where @artist-ts/native-kernels registered its LayerNorm
 * and GELU kernels (when packing), the layers call them directly, one kernel each; elsewhere the
 * plain normalisation is stock ops and GELU's two 1/sqrt(2) factors are folded into mlp.0 and
 * mlp.2 (`u (1 + erf u)`: three stock kernels). Owned by the caller (`disposePacked`).
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
  /** Gain 1 and bias 0 [d] for the native LayerNorm kernel; null: normalise with stock ops. */
  normGain: tf.Tensor1D | null;
  normBias: tf.Tensor1D | null;
  /** Whether mlp.0 and mlp.2 carry GELU's 1/sqrt(2) factors (no native GELU kernel). */
  geluFolded: boolean;
}

function registered(kernel: string): boolean {
  return tf.getKernel(kernel, tf.getBackend()) !== undefined;
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

/**
 * The first `rows` rows of a 2-D tensor as a host array. Not inside `tf.tidy`: tidy walks every
 * element of a typed array it returns (12.6 M for ARTIST-base's code embeddings, seconds each call).
 */
function hostRows(t: tf.Tensor, rows: number): Float32Array {
  const part = tf.slice(t, [0, 0], [rows, t.shape[1] as number]); // [rows, d]
  const data = part.dataSync() as Float32Array;
  part.dispose();
  return data;
}

/** Folds the model's variables into inference weights. Caller disposes with `disposePacked`. */
export function packWeights(w: Record<string, tf.Variable>, c: GptConfig): PackedWeights {
  const scale = 1 / Math.sqrt(c.nEmbd / c.nHead);
  const nativeNorm = registered(LAYER_NORM_KERNEL);
  const geluFolded = !registered(GELU_KERNEL);
  const geluScale = geluFolded ? Math.SQRT1_2 : 1;
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
    codeEmbeddings: hostRows(w['tok_emb.weight'], c.imageVocabSize), // [v, d]
    positionEmbeddings: w.pos_emb.dataSync().slice() as Float32Array,
    normGain: nativeNorm ? tf.ones([c.nEmbd]) : null,
    normBias: nativeNorm ? tf.zeros([c.nEmbd]) : null,
    geluFolded,
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
        [tf.mul(w[`${p}attn.query.bias`], scale), w[`${p}attn.key.bias`], w[`${p}attn.value.bias`]],
        0,
      ); // [3d]
      return fold(w[`${p}ln1.weight`], w[`${p}ln1.bias`], W, b);
    });
    out.qkvWeight.push(to3d(qkvW));
    out.projWeight.push(to3d(w[`${p}attn.proj.weight`]));
    out.qkvBias.push(qkvB);
    // folded GELU(z) = z/2 (1 + erf(z / sqrt 2)): mlp.0 emits z / sqrt 2, mlp.2 takes the other
    // 1 / sqrt 2 (geluScale 1: the native kernel takes z)
    const [mW, mB] = tf.tidy(() =>
      fold(
        w[`${p}ln2.weight`],
        w[`${p}ln2.bias`],
        tf.mul(w[`${p}mlp.0.weight`], geluScale),
        tf.mul(w[`${p}mlp.0.bias`], geluScale),
      ),
    );
    out.mlpWeight.push(to3d(mW));
    out.mlpBias.push(mB);
    out.mlpOutWeight.push(tf.tidy(() => to3d(tf.mul(w[`${p}mlp.2.weight`], geluScale))));
  }
  const [hW, hB] = fold(w['ln_f.weight'], w['ln_f.bias'], w['head.weight'], null);
  out.headWeight = to3d(hW);
  out.headBias = hB;
  return out;
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
    ...(p.normGain && p.normBias ? [p.normGain, p.normBias] : []),
  ]);
}

/**
 * Block inputs [n, 1, d] for image codes at one position: token row + position row, summed on
 * the CPU from the packed host tables (the same float32 sum the `forward` kernels compute).
 */
export function embedCodes(
  c: GptConfig,
  codes: ArrayLike<number>,
  position: number,
  packed: PackedWeights,
): tf.Tensor3D {
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

/**
 * Layers on packed weights (inference only: no gradients, no fused causal attention kernel; a
 * call with a `KvCache` decodes with the native decoding attention kernel). The
 * residual rows are [1, n, d] so every linear layer is one 3-D `_FusedMatMul`. The biases that
 * nothing folds into (attn.proj, mlp.2) are read from the variables `w`.
 */
export function packedLayers(
  pk: PackedWeights,
  w: Record<string, tf.Variable>,
  c: GptConfig,
): Layers {
  const eps = c.layerNormEps;
  // the LayerNorm gains and biases live in the next linear layer; the native kernel is called
  // directly (no gradient wrapper) and also returns each row's mean and rstd, dropped at once
  const { normGain: gamma, normBias: beta } = pk;
  const plain = (x: tf.Tensor): tf.Tensor => {
    if (!gamma || !beta) return normalize(x, eps);
    const [y, mean, rstd] = tf
      .engine()
      .runKernel(LAYER_NORM_KERNEL, { x, gamma, beta }, { eps }) as tf.Tensor[];
    tf.dispose([mean, rstd]);
    return y;
  };
  const norm = (_l: number, x: tf.Tensor) => plain(x);
  return {
    rows: (n) => [1, n, c.nEmbd],
    ln1: norm,
    attn(l: number, h: tf.Tensor, call: AttentionCall) {
      // one matmul, then split: fewer kernel launches per generated token
      const qkv = linear3d(h, pk.qkvWeight[l], pk.qkvBias[l]); // [1, n, 3d]
      let y: tf.Tensor; // [1, n, d]
      if (call.kvCache) {
        // the native kernel reads q|k|v unsplit and writes k, v into the cache (q carries the scale)
        y = decodeAttention(qkv, call.kvCache, l, call.past, 1);
      } else {
        const [q, k, v] = tf.split(qkv, 3, 2); // 3 x [1, n, d]
        y = cachedAttention(q, k, v, l, call);
      }
      return linear3d(y, pk.projWeight[l], w[`blocks.${l}.attn.proj.bias`] as tf.Tensor1D);
    },
    ln2: norm,
    mlp(l, h) {
      const z = linear3d(h, pk.mlpWeight[l], pk.mlpBias[l]); // [1, n, 4d]
      // folded: mlp.0 outputs u = z / sqrt(2) and mlp.2 carries the other 1/sqrt(2):
      // gelu(z) W = (u (1 + erf u)) (W / sqrt 2) (no gradient needed)
      const g = pk.geluFolded
        ? tf.mul(z, tf.add(tf.erf(z), 1))
        : (tf.engine().runKernel(GELU_KERNEL, { x: z }, { approximate: 'none' }) as tf.Tensor);
      return linear3d(g, pk.mlpOutWeight[l], w[`blocks.${l}.mlp.2.bias`] as tf.Tensor1D); // [1, n, d]
    },
    lnF: plain,
    head: (x) => linear3d(x, pk.headWeight, pk.headBias), // [1, n, v]
  };
}
