/**
 * taming-transformers VQModel -> @artist-ts/vqgan. The plan is the vqgan package's parameter table
 * (`vqganParameterSpecs`: taming key, PyTorch shape, layout change): it strips the prefix
 * (`first_stage_model.` in ARTIST files), turns conv kernels OIHW -> HWIO, and drops the training-only `loss.*` modules (LPIPS and the
 * discriminator of Lightning `last.ckpt` files). The architecture is read off the tensor shapes;
 * only what shapes cannot tell (input resolution, GroupNorm groups) comes from the preset/overrides.
 */

import type { StateDict } from '@artist-ts/torch-files';
import { type VqganConfig, validateVqganConfig, vqganParameterSpecs } from '@artist-ts/vqgan';
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

/** Every weight of the VQGAN for `c`: the vqgan package's parameter table, with source keys. */
export function vqganPlan(c: VqganConfig, prefix = ''): MappingRow[] {
  return vqganParameterSpecs(c).map((s) => ({
    name: s.name,
    sourceKey: `${prefix}${s.name}`,
    sourceShape: [...s.torchShape],
    transform: s.layout,
  }));
}
