/**
 * Knowledge fusion: how the projected TransE vectors of a text's entities enter the model.
 * - `lattice` (default): per text token, before the first block (`fuseTextEmbeddings`);
 * - `easynlp`: EasyNLP's `GPT_knowl.forward`, once, after the last block (`fuseFinalStates`).
 *
 * Notation in shape comments: b batch, t tokens in this call, x text length, d width,
 * s entity slots, e entity width.
 */

import * as tf from '@tensorflow/tfjs';
import type { GptConfig } from './config';
import type { KnowledgeArrays } from './knowledge';

/** Knowledge inputs as tensors (see `knowledgeTensors`). */
export type KnowledgeTensors =
  | { mode: 'lattice'; entities: tf.Tensor3D; cover: tf.Tensor3D }
  | { mode: 'easynlp'; wordsEmb: tf.Tensor4D };

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

/**
 * Lattice fusion: for each text token, softmax over the slots whose entity span covers it of
 * <token embedding, W e + b> / sqrt(d); the weighted average of the projected entities is added to
 * the token embedding. Tokens covered by no entity are left unchanged.
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

/**
 * Lattice mode at the input: token embeddings `x` of a call starting at position `past`, with
 * lattice fusion applied to those of its positions that are text. Returns `x` when none are.
 */
export function fuseTextEmbeddings(
  x: tf.Tensor3D, // [b, t, d]
  knowledge: Extract<KnowledgeTensors, { mode: 'lattice' }>,
  past: number,
  c: GptConfig,
  w: Record<string, tf.Variable>,
): tf.Tensor3D {
  if (past >= c.textLen) return x;
  const [B, T, C] = x.shape;
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
  return nx === T ? fused : tf.concat([fused, tf.slice(x, [0, nx, 0], [B, T - nx, C])], 1);
}

/**
 * EasyNLP mode after the last block: the final states of a call that holds the whole text
 * (positions 0..t-1, t >= textLen), with EasyNLP's fusion applied.
 */
export function fuseFinalStates(
  hidden: tf.Tensor3D, // [b, t, d]
  knowledge: Extract<KnowledgeTensors, { mode: 'easynlp' }>,
  past: number,
  c: GptConfig,
  w: Record<string, tf.Variable>,
): tf.Tensor3D {
  const T = hidden.shape[1];
  if (past !== 0 || T < c.textLen) {
    throw new Error(
      `forward: 'easynlp' fusion needs all ${c.textLen} text positions in one call (got positions ${past}..${past + T - 1}); pass fuse: false after the first step`,
    );
  }
  return easyNlpFusion(
    hidden,
    knowledge.wordsEmb,
    w['ent_emb.weight'] as tf.Tensor2D,
    w['ent_emb.bias'] as tf.Tensor1D,
  ); // [b, t, d]
}
