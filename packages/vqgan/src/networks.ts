/**
 * taming Encoder and Decoder (taming/modules/diffusionmodules/model.py), NHWC.
 *
 * Encoder: conv_in -> per level: numResBlocks x [ResnetBlock (+ AttnBlock at attnResolutions)],
 * Downsample except at the last level -> mid (Res, Attn, Res) -> GN -> swish -> conv_out.
 * Decoder: conv_in -> mid -> levels from the lowest resolution up, numResBlocks + 1 blocks each,
 * Upsample except at level 0 -> GN -> swish -> conv_out. Decoder levels are stored as `up.{i}`
 * with `up.0` the highest resolution, as in taming.
 */
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
  c.run((h) => resBlock(p.block1, h, n, release))
    .run((h) => attnBlock(p.attn1, h, n, release))
    .run((h) => resBlock(p.block2, h, n, release));
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

/**
 * A chain of stages whose intermediate activations can be freed as soon as the next one exists.
 * At inference (`release`), each stage's input is disposed once its output is computed (never the
 * chain's own input, which the caller owns), so about one full-resolution activation is alive
 * besides the running stage's own: a 256x256 decode of 4 images holds ~0.5 GB instead of every
 * level's outputs. Training keeps them all (the gradient tape needs them).
 */
class StageChain {
  private h: tf.Tensor4D;
  private readonly input: tf.Tensor4D;
  private readonly release: boolean;

  constructor(input: tf.Tensor4D, release: boolean) {
    this.h = input;
    this.input = input;
    this.release = release;
  }

  run(stage: (h: tf.Tensor4D) => tf.Tensor4D): this {
    const next = stage(this.h);
    if (this.release && this.h !== this.input) this.h.dispose();
    this.h = next;
    return this;
  }

  get value(): tf.Tensor4D {
    return this.h;
  }
}

/** `release`: free intermediate activations as the pass goes (inference only, see StageChain). */
export function encoderForward(
  p: EncoderParams,
  x: tf.Tensor4D,
  n: NormSpec,
  release = false,
): tf.Tensor4D {
  return tf.tidy(() => {
    const c = new StageChain(x, release);
    c.run((h) => conv2d(h, p.convIn.weight, p.convIn.bias, 1, PAD1, release)); // [b, H, W, ch]
    for (const level of p.down) {
      for (let j = 0; j < level.blocks.length; j++) {
        c.run((h) => resBlock(level.blocks[j], h, n, release));
        if (level.attns.length > 0) c.run((h) => attnBlock(level.attns[j], h, n, release));
      }
      const resample = level.resample;
      if (resample) c.run((h) => downsample(resample, h, release)); // [b, h/2, w/2, c]
    }
    midStages(c, p.mid, n, release);
    c.run((h) => normSwish(p.normOut, h, n, release));
    return c.run((h) => conv2d(h, p.convOut.weight, p.convOut.bias, 1, PAD1, release)).value; // [b, H/f, W/f, zChannels]
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
  release = false,
): tf.Tensor4D {
  return tf.tidy(() => {
    const c = new StageChain(z, release);
    c.run((h) => conv2d(h, p.convIn.weight, p.convIn.bias, 1, PAD1, release)); // [b, h, w, c_top]
    midStages(c, p.mid, n, release);
    for (let i = p.up.length - 1; i >= 0; i--) {
      const level = p.up[i];
      for (let j = 0; j < level.blocks.length; j++) {
        c.run((h) => resBlock(level.blocks[j], h, n, release));
        if (level.attns.length > 0) c.run((h) => attnBlock(level.attns[j], h, n, release));
      }
      const resample = level.resample;
      if (resample) c.run((h) => upsample(resample, h, release)); // [b, 2h, 2w, c]
    }
    return c.run((h) => normSwish(p.normOut, h, n, release)).value; // [b, H, W, ch]
  });
}

/** conv_out: the decoder's last activation -> image (`inference`: see `conv2d`). */
export function decoderHead(p: DecoderParams, h: tf.Tensor4D, inference = false): tf.Tensor4D {
  return conv2d(h, p.convOut.weight, p.convOut.bias, 1, PAD1, inference); // [b, H, W, 3]
}
