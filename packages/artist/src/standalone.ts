/**
 * Commands that run one piece on the user's own files, outside a run folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@artist-ts/core/files';
import { TrainingInterruptedError } from '@artist-ts/core/train-loop';
import { buildDataset, listDatasets } from '@artist-ts/datasets';
import {
  evaluateImages,
  type FeatureStats,
  type ImageSource,
  imageSourceFromPath,
  loadNsfwjsInceptionV3,
  loadStatsNpz,
} from '@artist-ts/eval-fid';
import {
  loadEntityVectors,
  presetConfig,
  trainTransE,
  writeEmbeddings,
} from '@artist-ts/kg-embedding';
import {
  BertTokenizer,
  buildCharVocabFromTsv,
  loadEntityLexicon,
  Vocab,
  writeKnowledgeTsv,
} from '@artist-ts/lattice-data';
import { type ExportFormat, exportEasyNLP, importCheckpoint } from '@artist-ts/torch-import';
import { initRuntimeFrom, type RuntimeFlags, runtimeLine } from './cli_shared';
import { ConfigError } from './config_tree';
import { createProgressView } from './progress';
import { RunLayout } from './run_layout';
import { probeLinkPrediction, readKgFolder } from './stages/kg';

const out = (line: string) => process.stdout.write(`${line}\n`);

export function listDatasetsCommand(): void {
  for (const d of listDatasets())
    out(`${d.name}\t${d.defaultSize}px\t${d.license}\t${d.description}`);
}

export async function buildDatasetCommand(
  name: string | undefined,
  o: { out?: string; size?: number; seed: number; limit?: number },
): Promise<void> {
  if (!name)
    throw new ConfigError(
      'dataset',
      `missing; one of ${listDatasets()
        .map((d) => d.name)
        .join(', ')}`,
    );
  if (!o.out) throw new ConfigError('--out', 'required for data build');
  const progress = createProgressView();
  let phase = '';
  const r = await buildDataset(name, {
    out: o.out,
    size: o.size,
    seed: o.seed,
    limit: o.limit,
    onProgress: (p) => {
      if (p.stage !== phase) {
        if (phase) progress.end();
        phase = p.stage;
        progress.begin(`${name}:${p.stage}`, p.total, 'items');
      }
      progress.update(p.done);
    },
  });
  progress.end();
  out(
    `${name}: ${JSON.stringify(r.manifest.counts)} images at ${r.manifest.size}px, KG ${r.manifest.kg.entities} entities / ${r.manifest.kg.triples} triples -> ${r.out}`,
  );
}

/**
 * TransE on a KG folder into `--output`. Checkpoints go to `<output>.checkpoints/` until the output
 * is written, so a run stopped with Ctrl-C continues where it stopped.
 */
export async function kgCommand(
  o: { input?: string; output?: string; kgPreset: string },
  signal?: AbortSignal,
): Promise<void> {
  if (!o.input || !o.output) throw new ConfigError('--output', 'kg --input needs --output');
  const dataset = fs.statSync(o.input).isDirectory()
    ? await readKgFolder(o.input)
    : await readKgFolder(path.dirname(o.input));
  const cfg = presetConfig(o.kgPreset);
  const checkpoints = `${path.resolve(o.output)}.checkpoints`;
  const progress = createProgressView();
  progress.begin('kg', cfg.epochs, 'epochs');
  const result = await trainTransE(dataset, cfg, {
    checkpointDir: checkpoints,
    resume: true,
    signal,
    onStep: (r) =>
      progress.update(r.epoch, { loss: r.loss, 'triples/s': Math.round(r.triplesPerSecond) }),
  });
  progress.end();
  if (signal?.aborted) throw new TrainingInterruptedError('kg');
  const { metrics: m } = await probeLinkPrediction(dataset, result);
  await writeEmbeddings(o.output, result.embeddings, {
    metadata: { config: result.config, metrics: m.realistic.both },
  });
  fs.rmSync(checkpoints, { recursive: true, force: true });
  out(
    `MRR ${m.realistic.both.mrr.toFixed(4)} Hits@10 ${m.realistic.both.hits10.toFixed(4)} (filtered, realistic ties) -> ${o.output}`,
  );
}

export async function latticeCommand(o: {
  input?: string;
  entities?: string;
  output?: string;
  vocab?: string;
}): Promise<void> {
  if (!o.input || !o.entities || !o.output) {
    throw new ConfigError(
      '--entities',
      'lattice --input needs --entities <entity2id.txt> and --output <knowl.tsv>',
    );
  }
  let vocab: Vocab;
  if (o.vocab) vocab = Vocab.fromFile(o.vocab);
  else {
    vocab = (await buildCharVocabFromTsv([{ file: o.input, format: 'text-image' }])).vocab;
    const vocabFile = path.join(path.dirname(o.output), 'vocab.txt');
    await atomicWriteFile(vocabFile, vocab.toText());
    out(`vocabulary: ${vocab.size} tokens -> ${vocabFile}`);
  }
  const { lexicon, summary } = await loadEntityLexicon(o.entities);
  const s = await writeKnowledgeTsv({
    input: o.input,
    output: o.output,
    tokenizer: new BertTokenizer(vocab),
    lexicon,
  });
  out(
    `${s.rows} rows, ${s.entities} entity matches (lexicon: ${summary.entries} names) -> ${o.output}`,
  );
}

async function sideOf(p: string): Promise<ImageSource | FeatureStats> {
  if (p.endsWith('.npz')) return (await loadStatsNpz(p)).stats;
  return imageSourceFromPath(p);
}

export async function fidCommand(
  o: { real: string; fake: string; batchSize: number; kid: boolean } & RuntimeFlags,
  signal?: AbortSignal,
): Promise<void> {
  out(runtimeLine(await initRuntimeFrom(o)));
  const extractor = await loadNsfwjsInceptionV3();
  try {
    const r = await evaluateImages({
      extractor,
      real: await sideOf(o.real),
      fake: await sideOf(o.fake),
      extract: { batchSize: o.batchSize, signal },
      kid: o.kid ? {} : false,
    });
    for (const line of r.summary) out(line);
  } finally {
    extractor.dispose();
  }
}

function jsonOption(value: string | undefined, flag: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  try {
    const v = JSON.parse(value) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(flag, `must be a JSON object (${(err as Error).message})`);
  }
}

export async function importCommand(o: {
  from: string;
  kind: 'artist' | 'vqgan' | 'inception';
  out: string;
  vqganConfig?: string;
  gptConfig?: string;
  allowUnused?: boolean;
}): Promise<void> {
  const r = await importCheckpoint({
    from: o.from,
    kind: o.kind,
    out: o.out,
    vqgan: jsonOption(o.vqganConfig, '--vqgan-config'),
    gpt: jsonOption(o.gptConfig, '--gpt-config'),
    allowUnused: o.allowUnused ?? false,
  });
  for (const m of r.models) {
    const c = m.conversion;
    out(
      `${m.model}: ${c.tensors} tensors, ${c.parameters} parameters (${c.ignored.length} source keys ignored, ${c.unused.length} unused) -> ${m.dir}`,
    );
  }
  out(`report: ${r.reportPath}`);
}

/**
 * The model folders of `dir`: a run folder (`gpt/checkpoint`, `vqgan/checkpoint`) or an imported
 * folder (`gpt/`, `vqgan/` checkpoint roots, as `artist-train import` writes them).
 */
export function modelFoldersOf(dir: string): { gpt: string; vqgan?: string } {
  const run = new RunLayout(dir);
  if (fs.existsSync(run.gpt.checkpoint)) {
    return {
      gpt: run.gpt.checkpoint,
      vqgan: fs.existsSync(run.vqgan.checkpoint) ? run.vqgan.checkpoint : undefined,
    };
  }
  const gpt = path.join(run.root, 'gpt');
  const vqgan = path.join(run.root, 'vqgan');
  if (!fs.existsSync(path.join(gpt, 'latest')) && !fs.existsSync(path.join(gpt, 'model.json'))) {
    throw new ConfigError(
      '--run',
      `${dir}: neither a run folder (gpt/checkpoint) nor an imported folder (gpt/, vqgan/)`,
    );
  }
  return { gpt, vqgan: fs.existsSync(vqgan) ? vqgan : undefined };
}

/**
 * `artist-train export`: a run (or an imported folder) as EasyNLP's model folder: the weights
 * (pytorch_model.bin or model.safetensors), config.json, and, when the run has them, vocab.txt and
 * entity2vec.pt (the run's entity table, rows in entity2id order).
 */
export async function exportCommand(o: {
  run: string;
  to: ExportFormat;
  output: string;
  allowUnused?: boolean;
}): Promise<void> {
  if (!fs.existsSync(o.run)) throw new ConfigError('--run', `${o.run}: missing`);
  const source = modelFoldersOf(o.run);
  const run = new RunLayout(o.run);
  const vocab = fs.existsSync(run.lattice.vocab) ? run.lattice.vocab : undefined;
  let entityVectors: { dtype: 'float32'; shape: number[]; data: Float32Array } | undefined;
  if (fs.existsSync(run.kg.vectors)) {
    const e = await loadEntityVectors(run.kg.vectors);
    entityVectors = { dtype: 'float32', shape: [e.names.length, e.dim], data: e.vectors };
  }
  const r = await exportEasyNLP(source, o.output, {
    to: o.to,
    vocab,
    entityVectors,
    allowUnused: o.allowUnused ?? false,
  });
  for (const f of r.files) out(`wrote ${f}`);
  out(`${r.tensors} tensors, ${r.parameters} parameters (${r.format}) -> ${r.outDir}`);
  for (const w of r.warnings) out(`warning: ${w}`);
  for (const u of r.unused) out(`left out (no EasyNLP key): ${u}`);
}
