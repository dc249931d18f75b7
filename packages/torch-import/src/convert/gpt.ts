/**
 * EasyNLP ARTIST `transformer.*` (taming's minGPT / GPT_knowl) -> @artist-ts/gpt-knowl. The plan is
 * gpt-knowl's own parameter table (`parameterSpecs`: our name, EasyNLP key, PyTorch shape, whether
 * to transpose); the causal-mask buffers are dropped (`ignoredTorchKeys`, rebuilt by the model).
 * Sizes are read off the shapes; what they cannot tell (heads, text length, entity slots) comes
 * from the `artist-base` preset or overrides. A checkpoint with `ent_emb` gets `fusion: 'easynlp'`
 * (bit-compatible with GPT_knowl), one without it `fusion: 'none'`.
 */
import {
  type GptConfig,
  ignoredTorchKeys,
  PRESETS,
  parameterSpecs,
  validateGptConfig,
} from '@artist-ts/gpt-knowl';
import type { StateDict } from '@artist-ts/torch-files';
import { ConversionError, type IgnoreRule, type MappingRow, sourceShape } from './plan';

export const GPT_TORCH_PREFIX = 'transformer.';

/** What the shapes cannot tell; EasyNLP's ARTIST values. nHead defaults to nEmbd / 64 (base 12, large 16). */
export const GPT_SHAPE_FREE_DEFAULTS: Pick<
  GptConfig,
  'textLen' | 'textPadId' | 'entitySlots' | 'layerNormEps'
> = {
  textLen: PRESETS['artist-base'].textLen,
  textPadId: PRESETS['artist-base'].textPadId,
  entitySlots: PRESETS['artist-base'].entitySlots,
  layerNormEps: PRESETS['artist-base'].layerNormEps,
};

export function inferGptConfig(sd: StateDict, overrides: Partial<GptConfig> = {}): GptConfig {
  const p = GPT_TORCH_PREFIX;
  const hint = 'is this an EasyNLP ARTIST (minGPT) state dict with `transformer.` keys?';
  const tok = sourceShape(sd, `${p}tok_emb.weight`, hint);
  const pos = sourceShape(sd, `${p}pos_emb`, hint);
  const head = sourceShape(sd, `${p}head.weight`, hint);
  const nEmbd = tok[1];
  let nLayer = 0;
  while (sd.tensors.has(`${p}blocks.${nLayer}.ln1.weight`)) nLayer++;
  if (nLayer === 0) throw new ConversionError(sd.file, [`${p}blocks.0.ln1.weight`], [], [], hint);
  const mlp = sourceShape(sd, `${p}blocks.0.mlp.0.weight`, hint);
  const ent = sd.tensors.get(`${p}ent_emb.weight`);
  const textLen = overrides.textLen ?? GPT_SHAPE_FREE_DEFAULTS.textLen;
  const base = PRESETS['artist-base'];
  const inferred: Partial<GptConfig> = {
    ...base,
    ...GPT_SHAPE_FREE_DEFAULTS,
    nLayer,
    nHead: nEmbd % 64 === 0 ? nEmbd / 64 : base.nHead,
    nEmbd,
    mlpRatio: mlp[0] / nEmbd,
    textLen,
    imageLen: pos[1] - textLen,
    imageVocabSize: head[0],
    textVocabSize: tok[0] - head[0],
    entityDim: ent ? ent.shape[1] : base.entityDim,
    fusion: ent ? 'easynlp' : 'none',
    embdPdrop: 0,
    residPdrop: 0,
    attnPdrop: 0,
  };
  return validateGptConfig({ ...inferred, ...overrides }, 'gpt config');
}

export function gptPlan(c: GptConfig): { rows: MappingRow[]; ignore: IgnoreRule[] } {
  const rows: MappingRow[] = parameterSpecs(c).map((s) => ({
    name: s.name,
    sourceKey: s.torchKey,
    sourceShape: [...s.torchShape],
    transform: s.transpose ? 'linear_transpose' : 'identity',
  }));
  const masks = new Set(ignoredTorchKeys(c));
  const ignore: IgnoreRule[] = [
    {
      pattern: (k: string) => masks.has(k),
      reason: 'causal attention mask buffer: rebuilt by the model',
    },
  ];
  return { rows, ignore };
}
