#!/usr/bin/env node
/**
 * artist-generate: Chinese text -> images.
 *
 *   artist-generate --run runs/demo --prompt "一只狗脸" -n 4 --output-dir out/
 *   artist-generate --run runs/demo --input test.tsv --output predictions.tsv
 *   artist-generate --gpt ckpt/gpt --vqgan ckpt/vqgan --vocab vocab.txt --entities kg/ --prompt ...
 *
 * Today's names stay as aliases: --text (--prompt), --out (--output-dir), --n (--num-images),
 * --guidance (--guidance-scale), --batch (--batch-size), --device (--backend).
 */
import { DEFAULT_SAMPLE_CONFIG } from '@artist-ts/gpt-knowl';
import { Command, Option } from 'commander';
import {
  abortOnSigint,
  addAlias,
  addRuntimeOptions,
  describeProgram,
  initRuntimeFrom,
  intArg,
  numberArg,
  type RuntimeFlags,
  runProgram,
  runtimeLine,
} from './cli_shared';
import {
  type GenerateOptions,
  type GenerateProgress,
  Generator,
  type GeneratorPaths,
} from './generator';
import { generateTsv, writePngs } from './outputs';
import { createProgressView, type ProgressView } from './progress';

export interface GenerateCliOptions extends RuntimeFlags {
  run?: string;
  gpt?: string;
  vqgan?: string;
  vocab?: string;
  entities?: string;
  prompt: string[];
  input?: string;
  output?: string;
  outputDir: string;
  numImages: number;
  temperature: number;
  topK: number;
  topP: number;
  guidanceScale: number;
  knowledgeGuidanceScale?: number;
  composeScale?: number;
  seed: number;
  batchSize: number;
  cache: boolean;
}

function sourceOf(o: GenerateCliOptions): string | GeneratorPaths {
  if (o.run) return o.run;
  if (!o.gpt || !o.vqgan || !o.vocab)
    throw new Error(
      'give --run <folder>, or --gpt, --vqgan and --vocab (and optionally --entities)',
    );
  return { gpt: o.gpt, vqgan: o.vqgan, vocab: o.vocab, entities: o.entities ?? null };
}

/** The sampling options of the flags. */
export function generateOptionsOf(o: GenerateCliOptions): Omit<GenerateOptions, 'format'> {
  return {
    numImages: o.numImages,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    guidanceScale: o.guidanceScale,
    knowledgeGuidanceScale: o.knowledgeGuidanceScale ?? null,
    composeScale: o.composeScale ?? null,
    seed: o.seed,
    batchSize: o.batchSize,
    useCache: o.cache,
  };
}

/** Progress for people: a bar over image tokens (plain lines when stdout is not a terminal). */
function progressBar(view: ProgressView): (p: GenerateProgress) => void {
  let started = false;
  return (p) => {
    if (!started) view.begin('generate', p.totalTokens, 'tokens');
    started = true;
    view.update(p.tokens, { images: `${p.images}/${p.totalImages}` });
  };
}

async function generateCommand(o: GenerateCliOptions): Promise<void> {
  if (o.prompt.length === 0 && !o.input)
    throw new Error('give --prompt <caption> (repeatable) or --input <tsv>');
  if (o.prompt.length > 0 && o.input) throw new Error('give --prompt or --input, not both');
  if (o.input && !o.output) throw new Error('--input needs --output <tsv>');
  const signal = abortOnSigint().signal;
  const view = createProgressView();
  view.log(runtimeLine(await initRuntimeFrom(o)));
  const generator = await Generator.load(sourceOf(o));
  const options = { ...generateOptionsOf(o), signal, onProgress: progressBar(view) };
  try {
    if (o.input) {
      const r = await generateTsv(generator, o.input, o.output!, options);
      view.end();
      view.log(`${r.texts} texts, ${r.images} images -> ${o.output}`);
    } else {
      const images = await generator.generate(o.prompt, options);
      view.end();
      const files = await writePngs(o.outputDir, images, o.numImages);
      view.log(`${images.length} images -> ${o.outputDir} (grid: ${files[files.length - 1]})`);
    }
  } catch (err) {
    view.end(); // stopped or failed mid-bar: give the terminal back (cursor, line)
    throw err;
  } finally {
    generator.dispose();
  }
}

export function buildProgram(): Command {
  const program = describeProgram(
    new Command('artist-generate').description(
      'Generate images from Chinese text with an artist-ts run (or imported checkpoints)',
    ),
  )
    .option('--run <folder>', 'a finished run folder (runs/<name>)')
    .option('--gpt <dir>', 'GPT-knowl checkpoint (instead of --run)')
    .option('--vqgan <dir>', 'VQGAN checkpoint (instead of --run)')
    .option('--vocab <file>', 'vocab.txt (instead of --run)')
    .option(
      '--entities <dir>',
      'TransE output folder: entity2id.txt + entity_vectors.bin (instead of --run)',
    )
    .addOption(
      new Option('-p, --prompt <text>', 'caption (repeatable; alias --text)')
        .argParser((v: string, prev: string[]) => [...prev, v])
        .default([], 'none'),
    )
    .option('--input <tsv>', 'EasyNLP test TSV (idx<TAB>text), instead of --prompt')
    .option(
      '--output <tsv>',
      'prediction TSV to write with --input (idx<TAB>text<TAB>gen_imgbase64, one row per image)',
    )
    .option('-o, --output-dir <dir>', 'folder for PNGs and grid.png (alias --out)', 'out')
    .option('-n, --num-images <count>', 'images per text (alias --n)', intArg(1), 1)
    .option(
      '--temperature <t>',
      'softmax temperature (0: greedy)',
      numberArg,
      DEFAULT_SAMPLE_CONFIG.temperature,
    )
    .option(
      '--top-k <k>',
      'top-k filtering (0: off; ARTIST 100)',
      intArg(0),
      DEFAULT_SAMPLE_CONFIG.topK,
    )
    .option('--top-p <p>', 'nucleus filtering (1: off)', numberArg, DEFAULT_SAMPLE_CONFIG.topP)
    .option(
      '--guidance-scale <scale>',
      'classifier-free guidance scale (1: off; alias --guidance)',
      numberArg,
      DEFAULT_SAMPLE_CONFIG.guidanceScale,
    )
    .option(
      '--knowledge-guidance-scale <scale>',
      'knowledge-aware guidance: separate scale for the entities (needs a GPT trained with knowledgeDropout; alias --kg-guidance)',
      numberArg,
    )
    .option(
      '--compose-scale <scale>',
      "compositional sampling: one condition per fact the run's knowledge expansion attaches, multiplied (needs a GPT trained with factDropout; alias --compose)",
      numberArg,
    )
    .option('--seed <n>', 'sampling seed', intArg(0), 0)
    .option(
      '--batch-size <n>',
      'images sampled together (alias --batch)',
      intArg(1),
      DEFAULT_SAMPLE_CONFIG.batchSize,
    )
    .option('--no-cache', 'recompute the whole prefix per token (EasyNLP behaviour; slow)')
    .action((o: GenerateCliOptions) => generateCommand(o));
  addRuntimeOptions(program);
  addAlias(program, '--text <text>', 'prompt');
  addAlias(program, '--out <dir>', 'outputDir');
  addAlias(program, '--n <count>', 'numImages');
  addAlias(program, '--guidance <scale>', 'guidanceScale');
  addAlias(program, '--kg-guidance <scale>', 'knowledgeGuidanceScale');
  addAlias(program, '--compose <scale>', 'composeScale');
  addAlias(program, '--batch <n>', 'batchSize');
  return program;
}

export function main(argv = process.argv): Promise<void> {
  return runProgram(buildProgram(), argv);
}

if (require.main === module) void main();
