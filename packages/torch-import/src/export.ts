/**
 * `exportEasyNLP`: artist-ts weights -> EasyNLP ARTIST's files, the inverse of `importCheckpoint`'s
 * `artist` kind. `pytorch_model.bin` (torch.save zip format) holds the VQGAN under
 * `first_stage_model.*` and the GPT under `transformer.*` with EasyNLP's key names and PyTorch
 * layouts, read off the same tables the import uses (gpt-knowl's `parameterSpecs`, `vqganPlan`),
 * plus the causal-mask buffers a strict `load_state_dict` expects; `config.json` is EasyNLP's
 * ARTISTConfig; `vocab.txt` and `entity2vec.pt` complete the model folder. `to: 'safetensors'`
 * writes `model.safetensors` with the same keys instead of `pytorch_model.bin`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpoint } from '@artist-ts/core/checkpoint-files';
import { atomicWriteFile } from '@artist-ts/core/files';
import type { RawTensor } from '@artist-ts/core/trainer-state';
import { type GptConfig, validateGptConfig } from '@artist-ts/gpt-knowl';
import {
  type TensorSpec,
  WritableTensor,
  writeSafetensors,
  writeTorchFile,
} from '@artist-ts/torch-files';
import {
  VQGAN_MODEL_TYPE,
  PRESETS as VQGAN_PRESETS,
  type VqganConfig,
  validateVqganConfig,
} from '@artist-ts/vqgan';
import { easynlpConfig, easynlpDifferences, gptPlan, gptTorchBuffers } from './convert/gpt';
import { invertPlan } from './convert/plan';
import { vqganPlan } from './convert/vqgan';
import { ARTIST_VQGAN_PREFIX } from './import';

export type ExportFormat = 'easynlp' | 'safetensors';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['easynlp', 'safetensors'];

/** File names in the output folder. */
export const EASYNLP_FILES = {
  weights: 'pytorch_model.bin',
  safetensors: 'model.safetensors',
  config: 'config.json',
  vocab: 'vocab.txt',
  entityVectors: 'entity2vec.pt',
} as const;

/** One model's weights in memory: its config and its tensors under our names. */
export interface ModelWeights<C> {
  config: C;
  tensors: Iterable<RawTensor>;
}

export interface ArtistWeights {
  gpt: ModelWeights<GptConfig>;
  /** Without it, only `transformer.*` is written (EasyNLP's model then lacks its VQGAN). */
  vqgan?: ModelWeights<VqganConfig>;
}

/**
 * What to export: a folder holding `gpt/` (and `vqgan/`) checkpoint roots (what
 * `importCheckpoint({ kind: 'artist' })` writes), checkpoint paths (a step folder or a root whose
 * `latest` is followed), or weights in memory.
 */
export type ExportSource = string | { gpt: string; vqgan?: string } | ArtistWeights;

export interface ExportOptions {
  /** `easynlp` (pytorch_model.bin, default) or `safetensors` (model.safetensors, same keys). */
  to: ExportFormat;
  /** BERT `vocab.txt` to copy next to the weights (its line count must be the GPT's text vocab). */
  vocab?: string;
  /** The TransE table, written as `entity2vec.pt` (a bare float tensor [N, entityDim]). */
  entityVectors?: TensorSpec;
  /** Ignore weights of ours that EasyNLP has no key for (listed in the report) instead of failing. */
  allowUnused: boolean;
}

export const DEFAULT_EXPORT_OPTIONS: Readonly<ExportOptions> = Object.freeze({
  to: 'easynlp',
  allowUnused: false,
});

export interface ExportReport {
  outDir: string;
  format: ExportFormat;
  /** Files written, relative to outDir. */
  files: string[];
  /** Weight tensors written (masks not counted) and their parameter count. */
  tensors: number;
  parameters: number;
  /** Where EasyNLP's code would not run these weights as they are meant (sizes it hard-codes). */
  warnings: string[];
  /** Our weights left out because `allowUnused` was set. */
  unused: string[];
}

/** Copies, fills defaults, and throws naming the bad field. */
export function validateExportOptions(options: Partial<ExportOptions> = {}): ExportOptions {
  const known = new Set(['to', 'vocab', 'entityVectors', 'allowUnused']);
  for (const k of Object.keys(options)) {
    if (!known.has(k)) {
      throw new Error(`ExportOptions.${k}: unknown option; allowed: ${[...known].join(', ')}`);
    }
  }
  const o = { ...DEFAULT_EXPORT_OPTIONS, ...options };
  if (!EXPORT_FORMATS.includes(o.to)) {
    throw new Error(
      `ExportOptions.to: expected ${EXPORT_FORMATS.join(' | ')}, got ${JSON.stringify(o.to)}`,
    );
  }
  if (o.vocab !== undefined && (typeof o.vocab !== 'string' || !fs.existsSync(o.vocab))) {
    throw new Error(`ExportOptions.vocab: no file at ${JSON.stringify(o.vocab)}`);
  }
  if (typeof o.allowUnused !== 'boolean') {
    throw new Error(`ExportOptions.allowUnused: expected a boolean, got ${String(o.allowUnused)}`);
  }
  return o;
}

async function loadModel<C>(
  dir: string,
  read: (metadata: Record<string, unknown>, where: string) => C,
): Promise<ModelWeights<C> & { source: string }> {
  const ck = await readCheckpoint(dir);
  const where = path.join(ck.dir, 'model.json');
  return { config: read(ck.metadata, where), tensors: ck.tensors, source: ck.dir };
}

function isWeights(s: ExportSource): s is ArtistWeights {
  return typeof s === 'object' && typeof s.gpt === 'object';
}

async function loadSource(source: ExportSource): Promise<{
  gpt: ModelWeights<GptConfig>;
  vqgan?: ModelWeights<VqganConfig>;
  names: [string, string];
}> {
  if (isWeights(source)) {
    return { gpt: source.gpt, vqgan: source.vqgan, names: ['gpt weights', 'vqgan weights'] };
  }
  let paths: { gpt: string; vqgan?: string };
  if (typeof source === 'string') {
    const vq = path.join(source, 'vqgan');
    paths = fs.existsSync(path.join(source, 'gpt'))
      ? { gpt: path.join(source, 'gpt'), vqgan: fs.existsSync(vq) ? vq : undefined }
      : { gpt: source };
  } else paths = source;
  const gpt = await loadModel(paths.gpt, (meta, where) => {
    if (!meta.gptConfig) throw new Error(`${where}: no gptConfig in its metadata (not a GPT)`);
    return validateGptConfig(meta.gptConfig as Partial<GptConfig>, `${where} gptConfig`);
  });
  const vqgan =
    paths.vqgan === undefined
      ? undefined
      : await loadModel(paths.vqgan, (meta, where) => {
          if (meta.modelType !== VQGAN_MODEL_TYPE) {
            throw new Error(`${where}: modelType is '${String(meta.modelType)}', not a VQGAN`);
          }
          return validateVqganConfig(meta.config as Partial<VqganConfig>);
        });
  return { gpt, vqgan, names: [gpt.source, vqgan?.source ?? ''] };
}

/** Architecture fields of taming's VQModel that EasyNLP builds with fixed values. */
const VQGAN_FIXED: readonly (keyof VqganConfig)[] = [
  'resolution',
  'inChannels',
  'outChannels',
  'ch',
  'chMult',
  'numResBlocks',
  'attnResolutions',
  'zChannels',
  'embedDim',
  'nEmbed',
  'numGroups',
  'normEps',
];

function vqganDifferences(c: VqganConfig): string[] {
  const base = VQGAN_PRESETS['artist-base'];
  return VQGAN_FIXED.filter((k) => JSON.stringify(c[k]) !== JSON.stringify(base[k])).map(
    (k) =>
      `vqgan ${k} ${JSON.stringify(c[k])}: EasyNLP's VQModel is taming's f16-16384 (${JSON.stringify(base[k])})`,
  );
}

function countLines(file: string): number {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  return lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
}

/**
 * Writes EasyNLP's model folder for `source` into `outDir` (created if needed; each file is written
 * atomically, and every check runs before the first file is written). Throws ConversionError (a
 * WeightMismatchError) listing every weight that does not fit the tables.
 */
export async function exportEasyNLP(
  source: ExportSource,
  outDir: string,
  options: Partial<ExportOptions> = {},
): Promise<ExportReport> {
  const o = validateExportOptions(options);
  const { gpt, vqgan, names } = await loadSource(source);
  const gptConfig = validateGptConfig(gpt.config, 'gpt config');
  const warnings = easynlpDifferences(gptConfig);
  const keys = new Map<string, WritableTensor>();
  const unused: string[] = [];
  let parameters = 0;
  let tensors = 0;
  const add = (r: ReturnType<typeof invertPlan>) => {
    for (const [k, t] of r.tensors) {
      keys.set(k, t);
      parameters += t.numel;
      tensors++;
    }
    unused.push(...r.unused);
  };
  if (vqgan) {
    const vqConfig = validateVqganConfig(vqgan.config);
    warnings.push(...vqganDifferences(vqConfig));
    add(
      invertPlan(names[1], vqgan.tensors, vqganPlan(vqConfig, ARTIST_VQGAN_PREFIX), {
        allowUnused: o.allowUnused,
        hint: 'expected the weights of an @artist-ts/vqgan Vqgan',
      }),
    );
  } else {
    warnings.push(
      `no VQGAN: ${EASYNLP_FILES.weights} holds only transformer.*; EasyNLP's model also loads first_stage_model.*`,
    );
  }
  add(
    invertPlan(names[0], gpt.tensors, gptPlan(gptConfig).rows, {
      allowUnused: o.allowUnused,
      hint: 'expected the weights of an @artist-ts/gpt-knowl KnowlGpt',
    }),
  );
  for (const [k, t] of gptTorchBuffers(gptConfig)) keys.set(k, t);

  if (o.vocab !== undefined) {
    const n = countLines(o.vocab);
    if (n !== gptConfig.textVocabSize) {
      throw new Error(
        `${o.vocab}: ${n} tokens, but the GPT's text vocabulary (textVocabSize) is ${gptConfig.textVocabSize}`,
      );
    }
  }
  const entities =
    o.entityVectors && new WritableTensor(o.entityVectors, EASYNLP_FILES.entityVectors);
  if (entities && (entities.shape.length !== 2 || entities.shape[1] !== gptConfig.entityDim)) {
    throw new Error(
      `ExportOptions.entityVectors: shape [${entities.shape}], expected [N, ${gptConfig.entityDim}] (the GPT's entityDim)`,
    );
  }

  await fs.promises.mkdir(outDir, { recursive: true });
  const files: string[] = [];
  const out = (name: string) => {
    files.push(name);
    return path.join(outDir, name);
  };
  if (o.to === 'safetensors') {
    await writeSafetensors(
      out(EASYNLP_FILES.safetensors),
      [...keys].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, data: t.data })),
      { format: 'pt' },
    );
  } else {
    await writeTorchFile(out(EASYNLP_FILES.weights), keys);
  }
  await atomicWriteFile(
    out(EASYNLP_FILES.config),
    `${JSON.stringify(easynlpConfig(gptConfig), null, 2)}\n`,
  );
  if (o.vocab !== undefined) {
    await atomicWriteFile(out(EASYNLP_FILES.vocab), await fs.promises.readFile(o.vocab));
  }
  if (entities) await writeTorchFile(out(EASYNLP_FILES.entityVectors), entities);
  return { outDir, format: o.to, files, tensors, parameters, warnings, unused };
}
