#!/usr/bin/env node
import { DEFAULT_SAMPLE_CONFIG, type SampleConfig } from '@artist-ts/gpt-knowl';
import { describeRuntime, initRuntime } from '@artist-ts/runtime';
/**
 * artist-generate: Chinese text -> images.
 *
 *   artist-generate --run runs/demo --text "一只狗脸" -n 4 --out out/
 *   artist-generate --run runs/demo --input test.tsv --output predictions.tsv
 *   artist-generate --gpt ckpt/gpt --vqgan ckpt/vqgan --vocab vocab.txt --entities kg/ --text ...
 */
import { Command } from 'commander';
import { Generator, type GeneratorPaths, pathsOfRun } from './generator';
import { generateTsv, writePngs } from './outputs';

const num = (v: string) => Number(v);
const int = (v: string) => Number.parseInt(v, 10);

interface Opts {
  run?: string;
  gpt?: string;
  vqgan?: string;
  vocab?: string;
  entities?: string;
  text: string[];
  input?: string;
  output?: string;
  out: string;
  n: number;
  temperature: number;
  topK: number;
  topP: number;
  guidance: number;
  seed: number;
  batch: number;
  cache: boolean;
  backend: string;
}

function pathsFrom(o: Opts): GeneratorPaths {
  if (o.run) return pathsOfRun(o.run);
  if (!o.gpt || !o.vqgan || !o.vocab)
    throw new Error(
      'give --run <folder>, or --gpt, --vqgan and --vocab (and optionally --entities)',
    );
  return { gpt: o.gpt, vqgan: o.vqgan, vocab: o.vocab, entities: o.entities ?? null };
}

export function buildProgram(): Command {
  return new Command('artist-generate')
    .description(
      'Generate images from Chinese text with an artist-ts run (or imported checkpoints)',
    )
    .option('--run <folder>', 'a finished run folder (runs/<name>)')
    .option('--gpt <dir>', 'GPT-knowl checkpoint (instead of --run)')
    .option('--vqgan <dir>', 'VQGAN checkpoint (instead of --run)')
    .option('--vocab <file>', 'vocab.txt (instead of --run)')
    .option(
      '--entities <dir>',
      'TransE output folder: entity2id.txt + entity_vectors.bin (instead of --run)',
    )
    .option(
      '--text <text>',
      'caption (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .option('--input <tsv>', 'EasyNLP test TSV (idx<TAB>text)')
    .option(
      '--output <tsv>',
      'prediction TSV to write (idx<TAB>text<TAB>gen_imgbase64, one row per image)',
    )
    .option('--out <dir>', 'folder for PNGs and grid.png (with --text)', 'out')
    .option('-n, --n <count>', 'images per text', int, 1)
    .option(
      '--temperature <t>',
      'softmax temperature (0: greedy)',
      num,
      DEFAULT_SAMPLE_CONFIG.temperature,
    )
    .option('--top-k <k>', 'top-k filtering (0: off; ARTIST 100)', int, DEFAULT_SAMPLE_CONFIG.topK)
    .option('--top-p <p>', 'nucleus filtering (1: off)', num, DEFAULT_SAMPLE_CONFIG.topP)
    .option(
      '--guidance <scale>',
      'classifier-free guidance scale (1: off)',
      num,
      DEFAULT_SAMPLE_CONFIG.guidanceScale,
    )
    .option('--seed <n>', 'sampling seed', int, 0)
    .option('--batch <n>', 'images sampled together', int, DEFAULT_SAMPLE_CONFIG.batchSize)
    .option('--no-cache', 'recompute the whole prefix per token (EasyNLP behaviour; slow)')
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu', 'auto')
    .action(async (o: Opts) => {
      if (o.text.length === 0 && !o.input)
        throw new Error('give --text <caption> or --input <tsv>');
      if (o.input && !o.output) throw new Error('--input needs --output <tsv>');
      const runtime = await initRuntime({ backend: o.backend as 'auto' });
      process.stdout.write(`artist-ts: ${describeRuntime(runtime)}\n`);
      const sample: Partial<SampleConfig> = {
        numSamples: o.n,
        temperature: o.temperature,
        topK: o.topK,
        topP: o.topP,
        guidanceScale: o.guidance,
        seed: o.seed,
        batchSize: o.batch,
        useCache: o.cache,
      };
      const generator = await Generator.load(pathsFrom(o));
      const onImage = (p: { image: number; images: number; tokensPerSecond: number }) =>
        process.stdout.write(
          `image ${p.image}/${p.images} (${p.tokensPerSecond.toFixed(1)} tokens/s)\n`,
        );
      try {
        if (o.input) {
          const r = await generateTsv(generator, o.input, o.output!, sample, { onImage });
          process.stdout.write(`${r.texts} texts, ${r.images} images -> ${o.output}\n`);
        } else {
          const images = await generator.generate(o.text, sample, { onImage });
          const files = await writePngs(o.out, images, generator.imageSize, o.n);
          process.stdout.write(
            `${images.length} images -> ${o.out} (grid: ${files[files.length - 1]})\n`,
          );
        }
      } finally {
        generator.dispose();
      }
    });
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(
        `artist-generate: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      process.exitCode = 1;
    });
}
