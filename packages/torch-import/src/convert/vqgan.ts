/**
 * taming-transformers VQModel -> @artist-ts/vqgan. Our weight names are taming's keys (see the vqgan
 * package's taming_keys.ts): the plan strips the prefix (`first_stage_model.` in ARTIST files),
 * turns conv kernels OIHW -> HWIO, and drops the training-only `loss.*` modules (LPIPS and the
 * discriminator of Lightning `last.ckpt` files). The architecture is read off the tensor shapes;
 * only what shapes cannot tell (input resolution, GroupNorm groups) comes from the preset/overrides.
 */

import type { StateDict } from '@artist-ts/torch-files';
import { type VqganConfig, validateVqganConfig } from '@artist-ts/vqgan';
import { ConversionError, type IgnoreRule, type MappingRow, sourceShape } from './plan';

/** What the shapes cannot tell; defaults are taming's f16-16384 (= ARTIST's VQGAN). */
export const VQGAN_SHAPE_FREE_DEFAULTS: Pick<
  VqganConfig,
  'resolution' | 'numGroups' | 'normEps' | 'beta' | 'legacyBeta'
> = {
  resolution: 256,
  numGroups: 32,
  normEps: 1e-6,
  beta: 0.25,
  legacyBeta: true,
};

/** Source keys a VQGAN import drops on purpose (`prefix`: e.g. `first_stage_model.`). */
export function vqganIgnore(prefix = ''): IgnoreRule[] {
  return [
    {
      pattern: (k: string) => k.startsWith(`${prefix}loss.`),
      reason:
        'training loss module (LPIPS, PatchGAN discriminator, logvar): not part of the autoencoder',
    },
  ];
}

function count(sd: StateDict, re: RegExp): number {
  const seen = new Set<string>();
  for (const k of sd.tensors.keys()) {
    const m = re.exec(k);
    if (m) seen.add(m[1]);
  }
  return seen.size;
}

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The VQGAN config of a taming state dict: channel widths, levels, blocks, attention levels, codebook
 * from the shapes; `overrides` for the rest (and to pin any field: a disagreement shows up as a shape
 * error naming the key).
 */
export function inferVqganConfig(
  sd: StateDict,
  prefix = '',
  overrides: Partial<VqganConfig> = {},
): VqganConfig {
  const p = prefix;
  const hint = 'is this a taming-transformers VQModel state dict?';
  const convIn = sourceShape(sd, `${p}encoder.conv_in.weight`, hint);
  const ch = convIn[0];
  const levels = count(sd, new RegExp(`^${esc(p)}encoder\\.down\\.(\\d+)\\.`));
  if (levels === 0)
    throw new ConversionError(sd.file, [`${p}encoder.down.0.block.0.conv1.weight`], [], [], hint);
  const chMult: number[] = [];
  const attnLevels: number[] = [];
  for (let i = 0; i < levels; i++) {
    chMult.push(sourceShape(sd, `${p}encoder.down.${i}.block.0.conv1.weight`, hint)[0] / ch);
    if (sd.tensors.has(`${p}encoder.down.${i}.attn.0.q.weight`)) attnLevels.push(i);
  }
  const numResBlocks = count(sd, new RegExp(`^${esc(p)}encoder\\.down\\.0\\.block\\.(\\d+)\\.`));
  const resolution = overrides.resolution ?? VQGAN_SHAPE_FREE_DEFAULTS.resolution;
  const inferred: Partial<VqganConfig> = {
    ...VQGAN_SHAPE_FREE_DEFAULTS,
    resolution,
    inChannels: convIn[1],
    outChannels: sourceShape(sd, `${p}decoder.conv_out.weight`, hint)[0],
    ch,
    chMult,
    numResBlocks,
    attnResolutions: attnLevels.map((i) => resolution / 2 ** i),
    zChannels: sourceShape(sd, `${p}encoder.conv_out.weight`, hint)[0],
    embedDim: sourceShape(sd, `${p}quant_conv.weight`, hint)[0],
    nEmbed: sourceShape(sd, `${p}quantize.embedding.weight`, hint)[0],
  };
  return validateVqganConfig({ ...inferred, ...overrides });
}

/** Every weight of the VQGAN for `c`, with its taming key and PyTorch shape. */
export function vqganPlan(c: VqganConfig, prefix = ''): MappingRow[] {
  const rows: MappingRow[] = [];
  const conv = (name: string, cout: number, cin: number, k: number) => {
    rows.push({
      name: `${name}.weight`,
      sourceKey: `${prefix}${name}.weight`,
      sourceShape: [cout, cin, k, k],
      transform: 'conv_oihw_to_hwio',
    });
    rows.push({
      name: `${name}.bias`,
      sourceKey: `${prefix}${name}.bias`,
      sourceShape: [cout],
      transform: 'identity',
    });
  };
  const norm = (name: string, ch: number) => {
    for (const s of ['weight', 'bias']) {
      rows.push({
        name: `${name}.${s}`,
        sourceKey: `${prefix}${name}.${s}`,
        sourceShape: [ch],
        transform: 'identity',
      });
    }
  };
  const res = (name: string, cin: number, cout: number) => {
    norm(`${name}.norm1`, cin);
    conv(`${name}.conv1`, cout, cin, 3);
    norm(`${name}.norm2`, cout);
    conv(`${name}.conv2`, cout, cout, 3);
    if (cin !== cout) conv(`${name}.nin_shortcut`, cout, cin, 1);
  };
  const attn = (name: string, ch: number) => {
    norm(`${name}.norm`, ch);
    for (const m of ['q', 'k', 'v', 'proj_out']) conv(`${name}.${m}`, ch, ch, 1);
  };
  const L = c.chMult.length;
  const inMult = [1, ...c.chMult];
  conv('encoder.conv_in', c.ch, c.inChannels, 3);
  let r = c.resolution;
  let bin = c.ch;
  for (let i = 0; i < L; i++) {
    bin = c.ch * inMult[i];
    for (let j = 0; j < c.numResBlocks; j++) {
      res(`encoder.down.${i}.block.${j}`, bin, c.ch * c.chMult[i]);
      bin = c.ch * c.chMult[i];
      if (c.attnResolutions.includes(r)) attn(`encoder.down.${i}.attn.${j}`, bin);
    }
    if (i !== L - 1) {
      conv(`encoder.down.${i}.downsample.conv`, bin, bin, 3);
      r /= 2;
    }
  }
  const top = c.ch * c.chMult[L - 1];
  res('encoder.mid.block_1', top, top);
  attn('encoder.mid.attn_1', top);
  res('encoder.mid.block_2', top, top);
  norm('encoder.norm_out', top);
  conv('encoder.conv_out', c.zChannels, top, 3);
  conv('quant_conv', c.embedDim, c.zChannels, 1);
  rows.push({
    name: 'quantize.embedding.weight',
    sourceKey: `${prefix}quantize.embedding.weight`,
    sourceShape: [c.nEmbed, c.embedDim],
    transform: 'identity',
  });
  conv('post_quant_conv', c.zChannels, c.embedDim, 1);
  conv('decoder.conv_in', top, c.zChannels, 3);
  res('decoder.mid.block_1', top, top);
  attn('decoder.mid.attn_1', top);
  res('decoder.mid.block_2', top, top);
  bin = top;
  for (let i = L - 1; i >= 0; i--) {
    for (let j = 0; j < c.numResBlocks + 1; j++) {
      res(`decoder.up.${i}.block.${j}`, bin, c.ch * c.chMult[i]);
      bin = c.ch * c.chMult[i];
      if (c.attnResolutions.includes(r)) attn(`decoder.up.${i}.attn.${j}`, bin);
    }
    if (i !== 0) {
      conv(`decoder.up.${i}.upsample.conv`, bin, bin, 3);
      r *= 2;
    }
  }
  norm('decoder.norm_out', c.ch * c.chMult[0]);
  conv('decoder.conv_out', c.outChannels, c.ch * c.chMult[0], 3);
  return rows;
}
