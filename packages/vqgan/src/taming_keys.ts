/**
 * taming-transformers state-dict keys (ARTIST reference §9.1). Our weight names ARE taming's keys,
 * read off the parameter table (param_table.ts, which also gives each key's PyTorch shape and
 * layout change). ARTIST's `pytorch_model.bin` prefixes them with `first_stage_model.`; taming's
 * `last.ckpt` adds the training-only `loss.*` modules (LPIPS, discriminator).
 */
import type { VqganConfig } from './config';
import { vqganParameterSpecs } from './param_table';

/** Prefix of the VQGAN keys inside ARTIST's `pytorch_model.bin`. */
export const ARTIST_VQGAN_PREFIX = 'first_stage_model.';

/** taming's state-dict keys for `c` (weights and biases, no `loss.*`), in constructor order. */
export function tamingKeys(c: VqganConfig, prefix = ''): string[] {
  return vqganParameterSpecs(c).map((s) => `${prefix}${s.name}`);
}
