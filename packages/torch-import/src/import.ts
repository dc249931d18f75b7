/**
 * `importCheckpoint`: a released PyTorch checkpoint -> runtime checkpoint folders the target
 * packages load (`Vqgan.load`, `loadGpt`, `FidInceptionV3.fromCheckpoint`), plus an
 * `import_report.json` that accounts for every source key. The CLI (`artist-train import`) calls it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeCheckpoint } from '@artist-ts/core/checkpoint-files';
import { atomicWriteFile } from '@artist-ts/core/files';
import type { RawTensor } from '@artist-ts/core/trainer-state';
import { FID_INCEPTION_ID } from '@artist-ts/eval-fid';
import { type GptConfig, gptMetadata } from '@artist-ts/gpt-knowl';
import type { ReaderOptions } from '@artist-ts/torch-files';
import { loadStateDict, type StateDict } from '@artist-ts/torch-files';
import { VQGAN_MODEL_TYPE, type VqganConfig } from '@artist-ts/vqgan';
import { GPT_TORCH_PREFIX, gptPlan, inferGptConfig } from './convert/gpt';
import { INCEPTION_IGNORE, inceptionPlan } from './convert/inception';
import { applyPlan, ConversionError, type ConversionReport, checkPlan } from './convert/plan';
import { inferVqganConfig, vqganIgnore, vqganPlan } from './convert/vqgan';

export type ImportKind = 'artist' | 'vqgan' | 'inception';
export const IMPORT_KINDS: readonly ImportKind[] = ['artist', 'vqgan', 'inception'];

/** Prefix of the VQGAN inside ARTIST's `pytorch_model.bin`. */
export const ARTIST_VQGAN_PREFIX = 'first_stage_model.';

/** Extra globals accepted as inert objects per kind (metadata classes of training checkpoints). */
export const DEFAULT_ALLOWED_GLOBALS: Readonly<Record<ImportKind, readonly string[]>> = {
  artist: [],
  vqgan: ['pytorch_lightning.*', 'omegaconf.*'],
  inception: [],
};

export interface ImportProgress {
  stage: 'hash' | 'read' | 'convert' | 'write' | 'done';
  /** Which model, for the convert/write stages. */
  model?: 'vqgan' | 'gpt' | 'inception';
  done: number;
  total: number;
  /** Current weight name (convert stage). */
  name?: string;
}

export interface ImportOptions {
  /** A `.bin`/`.pt`/`.pth`/`.ckpt` torch.save file (zip or legacy) or a `.safetensors` file. */
  from: string;
  kind: ImportKind;
  /** Output folder: a checkpoint root (vqgan, inception) or a folder with `vqgan/` and `gpt/` (artist). */
  out: string;
  onProgress?: (p: ImportProgress) => void;
  /** VQGAN fields the shapes cannot tell (default: taming f16-16384, resolution 256, 32 groups). */
  vqgan?: Partial<VqganConfig>;
  /** GPT fields the shapes cannot tell (default: ARTIST, textLen 32, nHead nEmbd/64, 10 entity slots). */
  gpt?: Partial<GptConfig>;
  /** Accept source keys with no destination (they are listed in the report) instead of failing. */
  allowUnused?: boolean;
  /** Where the weights sit in the checkpoint (default: found automatically, e.g. 'state_dict'). */
  container?: string;
  /** Reader limits and extra inert globals (added to the kind's defaults). */
  reader?: Partial<ReaderOptions>;
  /** Check and convert everything but write nothing (the report's `dir`s are empty strings). */
  dryRun?: boolean;
}

export interface ImportedModel {
  model: 'vqgan' | 'gpt' | 'inception';
  /** Checkpoint root written (its `latest` points at the step folder). */
  root: string;
  dir: string;
  config: VqganConfig | GptConfig | Record<string, unknown>;
  conversion: ConversionReport;
}

export interface ImportReport {
  from: string;
  sha256: string;
  format: string;
  container: string;
  kind: ImportKind;
  models: ImportedModel[];
  /** Non-tensor entries of the file (epoch, optimizer state, ...), not imported. */
  nonTensor: { key: string; what: string }[];
  /** artist: tensor keys under neither `transformer.` nor `first_stage_model.` (only with allowUnused). */
  strayKeys: string[];
  /** Path of import_report.json. */
  reportPath: string;
}

const KNOWN_OPTIONS = [
  'from',
  'kind',
  'out',
  'onProgress',
  'vqgan',
  'gpt',
  'allowUnused',
  'container',
  'reader',
  'dryRun',
];

/** Copies the options and throws an error naming the bad field. */
export function validateImportOptions(o: ImportOptions): ImportOptions {
  if (typeof o !== 'object' || o === null)
    throw new Error('importCheckpoint: options must be an object');
  for (const k of Object.keys(o)) {
    if (!KNOWN_OPTIONS.includes(k))
      throw new Error(
        `importCheckpoint: unknown option '${k}' (allowed: ${KNOWN_OPTIONS.join(', ')})`,
      );
  }
  if (typeof o.from !== 'string' || !o.from)
    throw new Error('importCheckpoint: from must be a file path');
  if (!fs.existsSync(o.from) || !fs.statSync(o.from).isFile())
    throw new Error(`importCheckpoint: from: '${o.from}' is not a file`);
  if (!IMPORT_KINDS.includes(o.kind)) {
    throw new Error(
      `importCheckpoint: kind must be one of ${IMPORT_KINDS.join(', ')}, got ${JSON.stringify(o.kind)}`,
    );
  }
  if (typeof o.out !== 'string' || !o.out)
    throw new Error('importCheckpoint: out must be a folder path');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function')
    throw new Error('importCheckpoint: onProgress must be a function');
  for (const k of ['vqgan', 'gpt', 'reader'] as const) {
    if (o[k] !== undefined && (typeof o[k] !== 'object' || o[k] === null))
      throw new Error(`importCheckpoint: ${k} must be an object`);
  }
  for (const k of ['allowUnused', 'dryRun'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean')
      throw new Error(`importCheckpoint: ${k} must be a boolean`);
  }
  if (o.container !== undefined && typeof o.container !== 'string')
    throw new Error('importCheckpoint: container must be a string');
  return { ...o };
}

async function sha256File(file: string, onProgress?: (p: ImportProgress) => void): Promise<string> {
  const total = fs.statSync(file).size;
  const h = createHash('sha256');
  let done = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 8 * 1024 * 1024 })) {
    h.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onProgress?.({ stage: 'hash', done, total });
  }
  return `sha256:${h.digest('hex')}`;
}

function hasPrefix(sd: StateDict, prefix: string): boolean {
  for (const k of sd.tensors.keys()) if (k.startsWith(prefix)) return true;
  return false;
}

/**
 * Converts `from` into runtime checkpoints under `out`. Throws ConversionError (listing every
 * missing, unexpected and mis-shaped key) or TorchFileError (a bad or hostile file); nothing is
 * written unless every check passes.
 */
export async function importCheckpoint(options: ImportOptions): Promise<ImportReport> {
  const o = validateImportOptions(options);
  const progress = o.onProgress;
  const sha256 = await sha256File(o.from, progress);
  const readerOptions: Partial<ReaderOptions> = {
    ...o.reader,
    allowGlobals: [...DEFAULT_ALLOWED_GLOBALS[o.kind], ...(o.reader?.allowGlobals ?? [])],
  };
  progress?.({ stage: 'read', done: 0, total: 1 });
  const sd = loadStateDict(o.from, { ...readerOptions, container: o.container });
  try {
    progress?.({ stage: 'read', done: 1, total: 1 });
    const importedFrom = {
      file: path.basename(o.from),
      sha256,
      format: sd.format,
      container: sd.container,
      kind: o.kind,
    };
    const converted: {
      model: ImportedModel['model'];
      root: string;
      config: ImportedModel['config'];
      tensors: RawTensor[];
      metadata: Record<string, unknown>;
      conversion: ConversionReport;
    }[] = [];
    const convertProgress =
      (model: ImportedModel['model']) => (done: number, total: number, name: string) =>
        progress?.({ stage: 'convert', model, done, total, name });

    let stray: string[] = [];
    if (o.kind === 'inception') {
      const r = applyPlan(sd, inceptionPlan(), INCEPTION_IGNORE, {
        kind: 'inception',
        allowUnused: o.allowUnused,
        hint: 'expected pytorch-fid pt_inception-2015-12-05 weights (torchvision InceptionV3 names)',
        onTensor: convertProgress('inception'),
      });
      converted.push({
        model: 'inception',
        root: o.out,
        config: { extractor: FID_INCEPTION_ID },
        tensors: r.tensors,
        metadata: { modelType: FID_INCEPTION_ID, importedFrom },
        conversion: r.report,
      });
    } else {
      const artist = o.kind === 'artist';
      const vqPrefix = artist || hasPrefix(sd, ARTIST_VQGAN_PREFIX) ? ARTIST_VQGAN_PREFIX : '';
      const vqConfig = inferVqganConfig(sd, vqPrefix, o.vqgan);
      const vqIgnore = vqganIgnore(vqPrefix);
      if (!artist && vqPrefix) {
        vqIgnore.push({
          pattern: (k: string) => k.startsWith(GPT_TORCH_PREFIX),
          reason: "ARTIST's GPT (import with kind 'artist' to keep it)",
        });
      }
      const vqRows = vqganPlan(vqConfig, vqPrefix);
      const vqOptions = {
        kind: 'vqgan',
        scope: artist ? ARTIST_VQGAN_PREFIX : undefined,
        allowUnused: o.allowUnused,
        hint: 'expected a taming-transformers VQModel',
        onTensor: convertProgress('vqgan'),
      };
      // Check everything (both models, stray keys) before converting anything.
      const gptConfig = artist ? inferGptConfig(sd, o.gpt) : null;
      const gpt = gptConfig ? gptPlan(gptConfig) : null;
      const gptOptions = {
        kind: 'gpt',
        scope: GPT_TORCH_PREFIX,
        allowUnused: o.allowUnused,
        onTensor: convertProgress('gpt'),
      };
      if (gpt) {
        checkPlan(sd, gpt.rows, gpt.ignore, gptOptions);
        // Keys under neither prefix belong to neither model.
        stray = [...sd.tensors.keys()].filter(
          (k) => !k.startsWith(GPT_TORCH_PREFIX) && !k.startsWith(ARTIST_VQGAN_PREFIX),
        );
        if (stray.length && !o.allowUnused) {
          throw new ConversionError(
            sd.file,
            [],
            stray,
            [],
            `ARTIST files hold only ${GPT_TORCH_PREFIX}* and ${ARTIST_VQGAN_PREFIX}* keys`,
          );
        }
      }
      checkPlan(sd, vqRows, vqIgnore, vqOptions);
      if (gpt && gptConfig) {
        const r = applyPlan(sd, gpt.rows, gpt.ignore, gptOptions);
        converted.push({
          model: 'gpt',
          root: path.join(o.out, 'gpt'),
          config: gptConfig,
          tensors: r.tensors,
          metadata: { ...gptMetadata(gptConfig), importedFrom },
          conversion: r.report,
        });
      }
      const r = applyPlan(sd, vqRows, vqIgnore, vqOptions);
      converted.push({
        model: 'vqgan',
        root: artist ? path.join(o.out, 'vqgan') : o.out,
        config: vqConfig,
        tensors: r.tensors,
        metadata: { modelType: VQGAN_MODEL_TYPE, config: vqConfig, importedFrom },
        conversion: r.report,
      });
    }

    const models: ImportedModel[] = [];
    for (const c of converted) {
      let dir = '';
      if (!o.dryRun) {
        progress?.({ stage: 'write', model: c.model, done: 0, total: 1 });
        dir = await writeCheckpoint(c.root, { tensors: c.tensors, metadata: c.metadata });
        progress?.({ stage: 'write', model: c.model, done: 1, total: 1 });
      }
      models.push({
        model: c.model,
        root: c.root,
        dir,
        config: c.config,
        conversion: c.conversion,
      });
    }
    const reportPath = path.join(o.out, 'import_report.json');
    const report: ImportReport = {
      from: o.from,
      sha256,
      format: sd.format,
      container: sd.container,
      kind: o.kind,
      models,
      nonTensor: sd.skipped,
      strayKeys: stray,
      reportPath,
    };
    if (!o.dryRun) await atomicWriteFile(reportPath, `${JSON.stringify(report, null, 1)}\n`);
    progress?.({ stage: 'done', done: 1, total: 1 });
    return report;
  } finally {
    sd.close();
  }
}
