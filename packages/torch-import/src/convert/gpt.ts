/**
 * EasyNLP ARTIST `transformer.*` (taming's minGPT / GPT_knowl) -> @artist-ts/gpt-knowl. The plan is
 * gpt-knowl's own parameter table (`parameterSpecs`: our name, EasyNLP key, PyTorch shape, whether
 * to transpose); the causal-mask buffers are dropped (`ignoredTorchKeys`, rebuilt by the model).
 * Sizes are read off the shapes; what they cannot tell (heads, text length, entity slots) comes
 * from the `artist-base` preset or overrides. A checkpoint with `ent_emb` gets `fusion: 'easynlp'`
 * (bit-compatible with GPT_knowl), one without it `fusion: 'none'`.
 */
import {
  blockSize,
  type GptConfig,
  ignoredTorchKeys,
  jointVocabSize,
  PRESETS,
  parameterSpecs,
  validateGptConfig,
} from '@artist-ts/gpt-knowl';
import { type StateDict, WritableTensor } from '@artist-ts/torch-files';
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

/**
 * The buffers a strict `load_state_dict` of EasyNLP's GPT expects besides the weights: each block's
 * causal mask, lower-triangular ones [1, 1, block, block] (minGPT, `n_unmasked` 0). One tensor is
 * shared by every key (one storage in the file).
 */
export function gptTorchBuffers(c: GptConfig): Map<string, WritableTensor> {
  const T = blockSize(c);
  const ones = new Float32Array(T * T);
  for (let i = 0; i < T; i++) ones.fill(1, i * T, i * T + i + 1);
  const mask = new WritableTensor(
    { dtype: 'float32', shape: [1, 1, T, T], data: ones },
    'attn.mask',
  );
  return new Map(ignoredTorchKeys(c).map((k) => [k, mask]));
}

/** EasyNLP's `config.json` (ARTISTConfig, `model_type` "artist") for a GPT config. */
export function easynlpConfig(c: GptConfig): Record<string, unknown> {
  return {
    model_type: 'artist',
    vocab_size: jointVocabSize(c),
    img_vocab_size: c.imageVocabSize,
    text_vocab_size: c.textVocabSize,
    block_size: blockSize(c),
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_embd: c.nEmbd,
    embd_pdrop: c.embdPdrop,
    resid_pdrop: c.residPdrop,
    attn_pdrop: c.attnPdrop,
    n_unmasked: 0,
  };
}

/**
 * What EasyNLP's code hard-codes that this config differs from (the weights still load into a
 * minGPT of the same sizes): one line per field.
 */
export function easynlpDifferences(c: GptConfig): string[] {
  const out: string[] = [];
  const base = PRESETS['artist-base'];
  if (c.mlpRatio !== 4) out.push(`gpt mlpRatio ${c.mlpRatio}: EasyNLP's Block is 4 * n_embd wide`);
  if (c.fusion !== 'none' && c.entityDim !== 100) {
    out.push(`gpt entityDim ${c.entityDim}: EasyNLP's ent_emb is nn.Linear(100, n_embd)`);
  }
  if (c.fusion !== 'none' && c.fusion !== 'easynlp') {
    out.push(
      `gpt fusion '${c.fusion}': EasyNLP's GPT_knowl applies its own ('easynlp') fusion to these weights`,
    );
  }
  for (const k of ['textLen', 'imageLen'] as const) {
    if (c[k] !== base[k]) out.push(`gpt ${k} ${c[k]}: EasyNLP hard-codes ${base[k]}`);
  }
  return out;
}
