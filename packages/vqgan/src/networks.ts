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
  downsample,
  makeAttn,
  makeDownsample,
  makeResBlock,
  makeUpsample,
  type NormSpec,
  type ResBlockParams,
  resBlock,
  upsample,
} from './blocks';
import type { VqganConfig } from './config';
import { conv2d } from './conv';
import { groupNormSwish } from './group_norm';
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

function makeMid(store: ParamStore, prefix: string, c: number): Mid {
  return {
    block1: makeResBlock(store, `${prefix}.mid.block_1`, c, c),
    attn1: makeAttn(store, `${prefix}.mid.attn_1`, c),
    block2: makeResBlock(store, `${prefix}.mid.block_2`, c, c),
  };
}

function mid(p: Mid, x: tf.Tensor4D, n: NormSpec): tf.Tensor4D {
  return resBlock(p.block2, attnBlock(p.attn1, resBlock(p.block1, x, n), n), n);
}

export function makeEncoder(store: ParamStore, c: VqganConfig): EncoderParams {
  const levels = c.chMult.length;
  const inMult = [1, ...c.chMult];
  const convIn = store.conv('encoder.conv_in', 3, c.inChannels, c.ch);
  let res = c.resolution;
  let blockIn = c.ch;
  const down: Level[] = [];
  for (let i = 0; i < levels; i++) {
    const level: Level = { blocks: [], attns: [], resample: null };
    blockIn = c.ch * inMult[i];
    const blockOut = c.ch * c.chMult[i];
    for (let j = 0; j < c.numResBlocks; j++) {
      level.blocks.push(makeResBlock(store, `encoder.down.${i}.block.${j}`, blockIn, blockOut));
      blockIn = blockOut;
      if (c.attnResolutions.includes(res))
        level.attns.push(makeAttn(store, `encoder.down.${i}.attn.${j}`, blockIn));
    }
    if (i !== levels - 1) {
      level.resample = makeDownsample(store, `encoder.down.${i}.downsample`, blockIn);
      res /= 2;
    }
    down.push(level);
  }
  return {
    convIn,
    down,
    mid: makeMid(store, 'encoder', blockIn),
    normOut: store.norm('encoder.norm_out', blockIn),
    convOut: store.conv('encoder.conv_out', 3, blockIn, c.zChannels),
  };
}

export function encoderForward(p: EncoderParams, x: tf.Tensor4D, n: NormSpec): tf.Tensor4D {
  return tf.tidy(() => {
    let h = conv2d(x, p.convIn.weight, p.convIn.bias, 1, PAD1); // [b, H, W, ch]
    for (const level of p.down) {
      for (let j = 0; j < level.blocks.length; j++) {
        h = resBlock(level.blocks[j], h, n);
        if (level.attns.length > 0) h = attnBlock(level.attns[j], h, n);
      }
      if (level.resample) h = downsample(level.resample, h); // [b, h/2, w/2, c]
    }
    h = mid(p.mid, h, n);
    h = groupNormSwish(h, p.normOut.weight, p.normOut.bias, n.groups, n.eps);
    return conv2d(h, p.convOut.weight, p.convOut.bias, 1, PAD1); // [b, H/f, W/f, zChannels]
  });
}

export function makeDecoder(store: ParamStore, c: VqganConfig): DecoderParams {
  const levels = c.chMult.length;
  let blockIn = c.ch * c.chMult[levels - 1];
  let res = c.resolution / 2 ** (levels - 1);
  const convIn = store.conv('decoder.conv_in', 3, c.zChannels, blockIn);
  const midP = makeMid(store, 'decoder', blockIn);
  const up: Level[] = new Array(levels);
  // Created from the lowest resolution up, as taming's constructor does (its parameter order).
  for (let i = levels - 1; i >= 0; i--) {
    const level: Level = { blocks: [], attns: [], resample: null };
    const blockOut = c.ch * c.chMult[i];
    for (let j = 0; j < c.numResBlocks + 1; j++) {
      level.blocks.push(makeResBlock(store, `decoder.up.${i}.block.${j}`, blockIn, blockOut));
      blockIn = blockOut;
      if (c.attnResolutions.includes(res))
        level.attns.push(makeAttn(store, `decoder.up.${i}.attn.${j}`, blockIn));
    }
    if (i !== 0) {
      level.resample = makeUpsample(store, `decoder.up.${i}.upsample`, blockIn);
      res *= 2;
    }
    up[i] = level;
  }
  return {
    convIn,
    mid: midP,
    up,
    normOut: store.norm('decoder.norm_out', blockIn),
    convOut: store.conv('decoder.conv_out', 3, blockIn, c.outChannels),
  };
}

/**
 * Decoder up to (not including) conv_out: the activation `h` whose conv gives the image. The
 * trainer needs it for taming's adaptive GAN weight (gradients at `decoder.conv_out.weight`).
 */
export function decoderTrunk(p: DecoderParams, z: tf.Tensor4D, n: NormSpec): tf.Tensor4D {
  return tf.tidy(() => {
    let h = conv2d(z, p.convIn.weight, p.convIn.bias, 1, PAD1); // [b, h, w, c_top]
    h = mid(p.mid, h, n);
    for (let i = p.up.length - 1; i >= 0; i--) {
      const level = p.up[i];
      for (let j = 0; j < level.blocks.length; j++) {
        h = resBlock(level.blocks[j], h, n);
        if (level.attns.length > 0) h = attnBlock(level.attns[j], h, n);
      }
      if (level.resample) h = upsample(level.resample, h); // [b, 2h, 2w, c]
    }
    return groupNormSwish(h, p.normOut.weight, p.normOut.bias, n.groups, n.eps); // [b, H, W, ch]
  });
}

export function decoderHead(p: DecoderParams, h: tf.Tensor4D): tf.Tensor4D {
  return conv2d(h, p.convOut.weight, p.convOut.bias, 1, PAD1); // [b, H, W, 3]
}

export function decoderForward(p: DecoderParams, z: tf.Tensor4D, n: NormSpec): tf.Tensor4D {
  return tf.tidy(() => decoderHead(p, decoderTrunk(p, z, n)));
}
