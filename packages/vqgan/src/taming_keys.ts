/**
 * Mapping between our weight names and taming-transformers' state-dict keys (ARTIST reference
 * §9.1, §9.3). Our names ARE taming's keys (without the `first_stage_model.` prefix ARTIST's
 * `pytorch_model.bin` adds); only the layouts differ, so importing released weights is: strip the
 * prefix, drop `loss.*` keys (LPIPS, and the discriminator unless it is wanted), apply `transform`.
 */
import type { VqganConfig } from './config';

/** How a taming tensor becomes ours. */
export type TamingTransform =
  /** Conv2d weight [out, in, kh, kw] -> [kh, kw, in, out] (transpose 2, 3, 1, 0). 1x1 convs too. */
  | 'conv_oihw_to_hwio'
  /** Copied as is (biases, GroupNorm/BatchNorm weight and bias, the codebook [n, d]). */
  | 'identity';

export interface TamingKeyPattern {
  /** Our name pattern ({i}: level, {j}: block index, {part}: one of the listed sub-modules). */
  ours: string;
  /** taming state-dict key pattern. */
  taming: string;
  /** Our shape / taming's shape, symbolically. */
  oursShape: string;
  tamingShape: string;
  transform: TamingTransform;
}

/** The documented table (also in the README). */
export const TAMING_KEY_PATTERNS: readonly TamingKeyPattern[] = [
  {
    ours: 'encoder.conv_in.weight',
    taming: 'encoder.conv_in.weight',
    oursShape: '[3,3,in,ch]',
    tamingShape: '[ch,in,3,3]',
    transform: 'conv_oihw_to_hwio',
  },
  {
    ours: '{enc|dec}.*.block.{j}.{conv1|conv2}.weight',
    taming: 'same',
    oursShape: '[3,3,in,out]',
    tamingShape: '[out,in,3,3]',
    transform: 'conv_oihw_to_hwio',
  },
  {
    ours: '{enc|dec}.*.block.{j}.nin_shortcut.weight',
    taming: 'same',
    oursShape: '[1,1,in,out]',
    tamingShape: '[out,in,1,1]',
    transform: 'conv_oihw_to_hwio',
  },
  {
    ours: '{enc|dec}.*.block.{j}.{norm1|norm2}.{weight|bias}',
    taming: 'same',
    oursShape: '[c]',
    tamingShape: '[c]',
    transform: 'identity',
  },
  {
    ours: '{enc|dec}.*.attn{.j|_1}.{q|k|v|proj_out}.weight',
    taming: 'same',
    oursShape: '[1,1,c,c]',
    tamingShape: '[c,c,1,1]',
    transform: 'conv_oihw_to_hwio',
  },
  {
    ours: '{enc|dec}.*.attn{.j|_1}.norm.{weight|bias}',
    taming: 'same',
    oursShape: '[c]',
    tamingShape: '[c]',
    transform: 'identity',
  },
  {
    ours: 'encoder.down.{i}.downsample.conv.weight',
    taming: 'same',
    oursShape: '[3,3,c,c]',
    tamingShape: '[c,c,3,3]',
    transform: 'conv_oihw_to_hwio',
  },
  {
    ours: 'decoder.up.{i}.upsample.conv.weight',
    taming: 'same',
    oursShape: '[3,3,c,c]',
    tamingShape: '[c,c,3,3]',
    transform: 'conv_oihw_to_hwio',
  },
  {
    ours: '{encoder|decoder}.{conv_in|conv_out}.weight',
    taming: 'same',
    oursShape: '[3,3,in,out]',
    tamingShape: '[out,in,3,3]',
    transform: 'conv_oihw_to_hwio',
  },
  {
    ours: '{encoder|decoder}.norm_out.{weight|bias}',
    taming: 'same',
    oursShape: '[c]',
    tamingShape: '[c]',
    transform: 'identity',
  },
  {
    ours: '{quant_conv|post_quant_conv}.weight',
    taming: 'same',
    oursShape: '[1,1,in,out]',
    tamingShape: '[out,in,1,1]',
    transform: 'conv_oihw_to_hwio',
  },
  {
    ours: 'quantize.embedding.weight',
    taming: 'quantize.embedding.weight',
    oursShape: '[nEmbed,embedDim]',
    tamingShape: '[nEmbed,embedDim]',
    transform: 'identity',
  },
  {
    ours: '*.bias (every conv)',
    taming: 'same',
    oursShape: '[out]',
    tamingShape: '[out]',
    transform: 'identity',
  },
  {
    ours: 'loss.discriminator.main.{n}.weight (conv)',
    taming: 'same',
    oursShape: '[4,4,in,out]',
    tamingShape: '[out,in,4,4]',
    transform: 'conv_oihw_to_hwio',
  },
  {
    ours: 'loss.discriminator.main.{n}.{weight|bias|running_mean|running_var} (BatchNorm)',
    taming: 'same (num_batches_tracked dropped)',
    oursShape: '[c]',
    tamingShape: '[c]',
    transform: 'identity',
  },
];

/** Prefix of the VQGAN keys inside ARTIST's `pytorch_model.bin`. */
export const ARTIST_VQGAN_PREFIX = 'first_stage_model.';

export interface TamingKeyRow {
  /** Our weight name. */
  name: string;
  /** Our (tfjs) shape. */
  shape: number[];
  /** taming state-dict key. */
  tamingKey: string;
  /** taming (PyTorch) shape. */
  tamingShape: number[];
  transform: TamingTransform;
}

/** Row for one of our weights. */
export function tamingKeyRow(name: string, shape: readonly number[]): TamingKeyRow {
  if (shape.length === 4) {
    const [kh, kw, ci, co] = shape;
    return {
      name,
      shape: [...shape],
      tamingKey: name,
      tamingShape: [co, ci, kh, kw],
      transform: 'conv_oihw_to_hwio',
    };
  }
  return {
    name,
    shape: [...shape],
    tamingKey: name,
    tamingShape: [...shape],
    transform: 'identity',
  };
}

/** Converts a taming tensor (PyTorch layout, row-major data) to ours. */
export function fromTamingLayout(
  data: Float32Array,
  tamingShape: readonly number[],
  transform: TamingTransform,
): { data: Float32Array; shape: number[] } {
  if (transform === 'identity') return { data: Float32Array.from(data), shape: [...tamingShape] };
  const [co, ci, kh, kw] = tamingShape;
  const out = new Float32Array(data.length);
  for (let o = 0; o < co; o++)
    for (let i = 0; i < ci; i++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          out[((y * kw + x) * ci + i) * co + o] = data[((o * ci + i) * kh + y) * kw + x];
  return { data: out, shape: [kh, kw, ci, co] };
}

/** Expected taming key count for a config (weights + biases; no loss.* keys). */
export function expectedTamingKeyCount(c: VqganConfig): number {
  const L = c.chMult.length;
  const res = (cin: number, cout: number) => 8 + (cin !== cout ? 2 : 0);
  let n = 2; // encoder.conv_in
  let r = c.resolution;
  const inMult = [1, ...c.chMult];
  for (let i = 0; i < L; i++) {
    let bin = c.ch * inMult[i];
    for (let j = 0; j < c.numResBlocks; j++) {
      n += res(bin, c.ch * c.chMult[i]);
      bin = c.ch * c.chMult[i];
      if (c.attnResolutions.includes(r)) n += 10;
    }
    if (i !== L - 1) {
      n += 2;
      r /= 2;
    }
  }
  n += 8 + 10 + 8 + 2 + 2; // mid, norm_out, conv_out
  n += 2 + 1 + 2; // quant_conv, codebook, post_quant_conv
  n += 2 + 8 + 10 + 8; // decoder conv_in + mid
  let bin = c.ch * c.chMult[L - 1];
  for (let i = L - 1; i >= 0; i--) {
    for (let j = 0; j < c.numResBlocks + 1; j++) {
      n += res(bin, c.ch * c.chMult[i]);
      bin = c.ch * c.chMult[i];
      if (c.attnResolutions.includes(r)) n += 10;
    }
    if (i !== 0) {
      n += 2;
      r *= 2;
    }
  }
  return n + 2 + 2; // decoder norm_out, conv_out
}
