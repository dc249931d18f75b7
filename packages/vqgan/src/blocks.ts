/**
 * taming-transformers building blocks (taming/modules/diffusionmodules/model.py) on NHWC tensors:
 * ResnetBlock, AttnBlock, Downsample, Upsample. Each has a `*Params` that looks its variables up
 * by taming's key names (created from the parameter table, param_table.ts) and a forward function.
 */
import * as tf from '@tensorflow/tfjs';
import { conv1x1, conv2d, upsampleConv2d } from './conv';
import { groupNorm, groupNormInference, groupNormSwish } from './group_norm';
import type { ConvParams, NormParams, ParamStore } from './params';

export interface NormSpec {
  groups: number;
  eps: number;
}

export interface ResBlockParams {
  norm1: NormParams;
  conv1: ConvParams;
  norm2: NormParams;
  conv2: ConvParams;
  /** 1x1 conv on the skip path when in != out. */
  ninShortcut: ConvParams | null;
}

export function resBlockParams(store: ParamStore, name: string): ResBlockParams {
  return {
    norm1: store.normParams(`${name}.norm1`),
    conv1: store.convParams(`${name}.conv1`),
    norm2: store.normParams(`${name}.norm2`),
    conv2: store.convParams(`${name}.conv2`),
    ninShortcut: store.has(`${name}.nin_shortcut.weight`)
      ? store.convParams(`${name}.nin_shortcut`)
      : null,
  };
}

const PAD1 = [1, 1, 1, 1] as const;

/** taming's `nonlinearity(norm(x))`; `groupNormInference` (no gradient) when `inference`. */
export function normSwish(
  p: NormParams,
  x: tf.Tensor4D, // [b, h, w, c]
  n: NormSpec,
  inference: boolean,
): tf.Tensor4D {
  return inference
    ? groupNormInference(x, p.weight, p.bias, n.groups, n.eps, true)
    : groupNormSwish(x, p.weight, p.bias, n.groups, n.eps);
}

/**
 * GN -> swish -> conv3x3 -> GN -> swish -> conv3x3, plus the (1x1) skip. Dropout is 0 in taming.
 * `release` (inference only): each intermediate is freed as soon as the next exists, so a block
 * at 256x256 holds about two activations at a time instead of four.
 */
export function resBlock(
  p: ResBlockParams,
  x: tf.Tensor4D,
  n: NormSpec,
  release = false,
): tf.Tensor4D {
  return tf.tidy(() => {
    const step = (prev: tf.Tensor4D, next: tf.Tensor4D) => {
      if (release) prev.dispose();
      return next;
    };
    let h = normSwish(p.norm1, x, n, release); // [b, h, w, cin]
    h = step(h, conv2d(h, p.conv1.weight, p.conv1.bias, 1, PAD1, release)); // [b, h, w, cout]
    h = step(h, normSwish(p.norm2, h, n, release));
    h = step(h, conv2d(h, p.conv2.weight, p.conv2.bias, 1, PAD1, release)); // [b, h, w, cout]
    const skip = p.ninShortcut ? conv1x1(x, p.ninShortcut.weight, p.ninShortcut.bias) : x;
    return tf.add(skip, h);
  });
}

export interface AttnParams {
  norm: NormParams;
  q: ConvParams;
  k: ConvParams;
  v: ConvParams;
  projOut: ConvParams;
}

export function attnParams(store: ParamStore, name: string): AttnParams {
  return {
    norm: store.normParams(`${name}.norm`),
    q: store.convParams(`${name}.q`),
    k: store.convParams(`${name}.k`),
    v: store.convParams(`${name}.v`),
    projOut: store.convParams(`${name}.proj_out`),
  };
}

/**
 * Single-head self-attention over the h*w positions (row-major, as PyTorch), scale c^-1/2.
 * `inference`: the GroupNorm runs as `groupNormInference` (no gradient).
 */
export function attnBlock(
  p: AttnParams,
  x: tf.Tensor4D,
  n: NormSpec,
  inference = false,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const hn = inference
      ? groupNormInference(x, p.norm.weight, p.norm.bias, n.groups, n.eps, false)
      : groupNorm(x, p.norm.weight, p.norm.bias, n.groups, n.eps);
    const q = tf.reshape(conv1x1(hn, p.q.weight, p.q.bias), [b, h * w, c]); // [b, hw, c]
    const k = tf.reshape(conv1x1(hn, p.k.weight, p.k.bias), [b, h * w, c]); // [b, hw, c]
    const v = tf.reshape(conv1x1(hn, p.v.weight, p.v.bias), [b, h * w, c]); // [b, hw, c]
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(c)); // [b, hw(q), hw(k)]
    const attn = tf.softmax(scores, -1); // softmax over keys
    const out = tf.reshape(tf.matMul(attn, v), [b, h, w, c]) as tf.Tensor4D; // [b, h, w, c]
    return tf.add(x, conv1x1(out, p.projOut.weight, p.projOut.bias));
  });
}

/**
 * taming Downsample(with_conv): zero-pad right and bottom by 1, then a valid 3x3 stride-2 conv
 * (`inference`: see `conv2d`).
 */
export function downsample(p: ConvParams, x: tf.Tensor4D, inference = false): tf.Tensor4D {
  return conv2d(x, p.weight, p.bias, 2, [0, 1, 0, 1], inference);
}

/**
 * Nearest-neighbour x2 by duplication. NOT `tf.image.resizeNearestNeighbor`: its cpu gradient
 * (`ResizeNearestNeighborGrad`) is wrong for batch > 1 in tfjs 4.22.0 (it indexes `dy` with the
 * image batch offset). Duplicating with concat + reshape gives the same values, and concat's
 * gradient (slices) is exact on every backend.
 */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const wide = tf.reshape(tf.concat([x, x], 3), [b, h, 2 * w, c]); // [b, h, 2w, c]: each column twice
    return tf.reshape(tf.concat([wide, wide], 2), [b, 2 * h, 2 * w, c]); // [b, 2h, 2w, c]: each row twice
  });
}

/**
 * taming Upsample(with_conv): nearest x2 then conv3x3 (pad 1), computed as the equivalent
 * stride-2 transposed conv (`upsampleConv2d`; same values, 2.25x fewer FLOPs, no upsampled copy).
 * `inference`: the upsampled copy (`tf.image.resizeNearestNeighbor`, freed after the conv) and a
 * stride-1 3x3 conv instead, which the Winograd F(4x4, 3x3) conv of @artist-ts/native-kernels
 * runs faster than the transposed conv (wasm, 2 threads: 126 vs 167 ms for 2 images of
 * 128x128x128 -> 256x256x128); no gradient is needed there, so the copy is freed at once.
 */
export function upsample(p: ConvParams, x: tf.Tensor4D, inference = false): tf.Tensor4D {
  if (!inference) return upsampleConv2d(x, p.weight, p.bias);
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const up = tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w]); // [b, 2h, 2w, c], freed at once
    const y = conv2d(up, p.weight, p.bias, 1, PAD1, true); // [b, 2h, 2w, co]
    up.dispose();
    return y;
  });
}

/** taming Upsample(with_conv) written literally (nearest x2, then conv3x3): the reference. */
export function upsampleReference(p: ConvParams, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => conv2d(upsampleNearest2x(x), p.weight, p.bias, 1, PAD1));
}
