/**
 * taming Encoder and Decoder (taming/modules/diffusionmodules/model.py), NHWC.
 *
 * Encoder: conv_in -> per level: numResBlocks x [ResnetBlock (+ AttnBlock at attnResolutions)],
 * Downsample except at the last level -> mid (Res, Attn, Res) -> GN -> swish -> conv_out.
 * Decoder: conv_in -> mid -> levels from the lowest resolution up, numResBlocks + 1 blocks each,
 * Upsample except at level 0 -> GN -> swish -> conv_out. Decoder levels are stored as `up.{i}`
 * with `up.0` the highest resolution, as in taming.
 */
import { recomputed } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import {
  type AttnParams,
  attnBlock,
  attnParams,
  downsample,
  type NormSpec,
  normSwish,
  type ResBlockParams,
  resBlock,
  resBlockParams,
  upsample,
} from './blocks';
import { conv2d } from './conv';
import type { LevelModules, VqganModules } from './param_table';
import type { ConvParams, NormParams, ParamStore } from './params';

const PAD1 = [1, 1, 1, 1] as const;

interface Level {
  blocks: ResBlockParams[];
  attns: AttnParams[];
  resample: ConvParams | null;
}

interface Mid {
  block1: ResBlockParams;
  attn1: AttnParams;
  block2: ResBlockParams;
}

export interface EncoderParams {
  convIn: ConvParams;
  down: Level[];
  mid: Mid;
  normOut: NormParams;
  convOut: ConvParams;
}

export interface DecoderParams {
  convIn: ConvParams;
  mid: Mid;
  /** Indexed as taming: up[0] is the highest resolution. */
  up: Level[];
  normOut: NormParams;
  convOut: ConvParams;
}

function midParams(store: ParamStore, prefix: string): Mid {
  return {
    block1: resBlockParams(store, `${prefix}.mid.block_1`),
    attn1: attnParams(store, `${prefix}.mid.attn_1`),
    block2: resBlockParams(store, `${prefix}.mid.block_2`),
  };
}

function levelParams(store: ParamStore, m: LevelModules): Level {
  return {
    blocks: m.blocks.map((name) => resBlockParams(store, name)),
    attns: m.attns.map((name) => attnParams(store, name)),
    resample: m.resample ? store.convParams(m.resample) : null,
  };
}

function midStages(c: StageChain, p: Mid, n: NormSpec, release: boolean): void {
  c.run(p.block1, (q, h) => resBlock(q, h, n, release))
    .run(p.attn1, (q, h) => attnBlock(q, h, n, release))
    .run(p.block2, (q, h) => resBlock(q, h, n, release));
}

/** The encoder's variables, bound by name along the table's level layout. */
export function encoderParams(store: ParamStore, modules: VqganModules): EncoderParams {
  return {
    convIn: store.convParams('encoder.conv_in'),
    down: modules.down.map((m) => levelParams(store, m)),
    mid: midParams(store, 'encoder'),
    normOut: store.normParams('encoder.norm_out'),
    convOut: store.convParams('encoder.conv_out'),
  };
}

/** The tensors of a parameter group (ConvParams, NormParams, blocks of them), in key order. */
function paramLeaves(p: unknown, out: tf.Tensor[] = []): tf.Tensor[] {
  if (p instanceof tf.Tensor) out.push(p);
  else if (Array.isArray(p)) for (const x of p) paramLeaves(x, out);
  else if (p !== null && typeof p === 'object')
    for (const k of Object.keys(p)) paramLeaves((p as Record<string, unknown>)[k], out);
  return out;
}

/** `p` with its tensors replaced, in `paramLeaves` order, by `values`. */
function withLeaves<P>(p: P, values: readonly tf.Tensor[], at = { i: 0 }): P {
  if (p instanceof tf.Tensor) return values[at.i++] as P;
  if (Array.isArray(p)) return p.map((x) => withLeaves(x, values, at)) as P;
  if (p !== null && typeof p === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(p))
      out[k] = withLeaves((p as Record<string, unknown>)[k], values, at);
    return out as P;
  }
  return p;
}

/**
 * How a chain of stages treats its activations:
 * - `keep` (training): the gradient tape keeps what every op saved;
 * - `release` (inference): each stage's input is disposed once its output is computed (never the
 *   chain's own input, which the caller owns), so about one full-resolution activation is alive
 *   besides the running stage's own: a 256x256 decode of 4 images holds ~0.5 GB instead of every
 *   level's outputs;
 * - `recompute` (training): each stage runs under runtime's `recomputed`, so the tape keeps only
 *   the stage boundaries, and the backward pass runs each stage again (one more forward pass).
 */
export type ActivationMode = 'keep' | 'release' | 'recompute';

class StageChain {
  private h: tf.Tensor4D;
  private readonly input: tf.Tensor4D;

  constructor(
    input: tf.Tensor4D,
    private readonly mode: ActivationMode,
  ) {
    this.h = input;
    this.input = input;
  }

  /** Runs `stage(params, h)`; under `recompute` the parameters are passed in as its inputs. */
  run<P>(params: P, stage: (p: P, h: tf.Tensor4D) => tf.Tensor4D): this {
    let next: tf.Tensor4D;
    if (this.mode === 'recompute') {
      next = recomputed(
        (h, ...ws) => stage(withLeaves(params, ws), h as tf.Tensor4D),
        [this.h, ...paramLeaves(params)],
      ) as tf.Tensor4D;
    } else {
      next = stage(params, this.h);
      if (this.mode === 'release' && this.h !== this.input) this.h.dispose();
    }
    this.h = next;
    return this;
  }

  get value(): tf.Tensor4D {
    return this.h;
  }
}

/** `mode`: what happens to the activations (see ActivationMode; `release` only outside a tape). */
export function encoderForward(
  p: EncoderParams,
  x: tf.Tensor4D,
  n: NormSpec,
  mode: ActivationMode = 'keep',
): tf.Tensor4D {
  const release = mode === 'release';
  return tf.tidy(() => {
    const c = new StageChain(x, mode);
    c.run(p.convIn, (q, h) => conv2d(h, q.weight, q.bias, 1, PAD1, release)); // [b, H, W, ch]
    for (const level of p.down) {
      for (let j = 0; j < level.blocks.length; j++) {
        c.run(level.blocks[j], (q, h) => resBlock(q, h, n, release));
        if (level.attns.length > 0) c.run(level.attns[j], (q, h) => attnBlock(q, h, n, release));
      }
      if (level.resample) c.run(level.resample, (q, h) => downsample(q, h, release)); // [b, h/2, w/2, c]
    }
    midStages(c, p.mid, n, release);
    c.run(p.normOut, (q, h) => normSwish(q, h, n, release));
    return c.run(p.convOut, (q, h) => conv2d(h, q.weight, q.bias, 1, PAD1, release)).value; // [b, H/f, W/f, zChannels]
  });
}

/** The decoder's variables, bound by name along the table's level layout. */
export function decoderParams(store: ParamStore, modules: VqganModules): DecoderParams {
  return {
    convIn: store.convParams('decoder.conv_in'),
    mid: midParams(store, 'decoder'),
    up: modules.up.map((m) => levelParams(store, m)),
    normOut: store.normParams('decoder.norm_out'),
    convOut: store.convParams('decoder.conv_out'),
  };
}

/**
 * Decoder up to (not including) conv_out: the activation `h` whose conv gives the image. The
 * trainer needs it for taming's adaptive GAN weight (gradients at `decoder.conv_out.weight`).
 */
export function decoderTrunk(
  p: DecoderParams,
  z: tf.Tensor4D,
  n: NormSpec,
  mode: ActivationMode = 'keep',
): tf.Tensor4D {
  const release = mode === 'release';
  return tf.tidy(() => {
    const c = new StageChain(z, mode);
    c.run(p.convIn, (q, h) => conv2d(h, q.weight, q.bias, 1, PAD1, release)); // [b, h, w, c_top]
    midStages(c, p.mid, n, release);
    for (let i = p.up.length - 1; i >= 0; i--) {
      const level = p.up[i];
      for (let j = 0; j < level.blocks.length; j++) {
        c.run(level.blocks[j], (q, h) => resBlock(q, h, n, release));
        if (level.attns.length > 0) c.run(level.attns[j], (q, h) => attnBlock(q, h, n, release));
      }
      if (level.resample) c.run(level.resample, (q, h) => upsample(q, h, release)); // [b, 2h, 2w, c]
    }
    return c.run(p.normOut, (q, h) => normSwish(q, h, n, release)).value; // [b, H, W, ch]
  });
}

/** conv_out: the decoder's last activation -> image (`inference`: see `conv2d`). */
export function decoderHead(p: DecoderParams, h: tf.Tensor4D, inference = false): tf.Tensor4D {
  return conv2d(h, p.convOut.weight, p.convOut.bias, 1, PAD1, inference); // [b, H, W, 3]
}
