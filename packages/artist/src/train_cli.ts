#!/usr/bin/env node
/**
 * artist-train: the staged ARTIST pipeline.
 *
 *   artist-train run [--preset demo] [--config run.json] [--set gpt.train.totalSteps=500] [--dry-run]
 *   artist-train <stage> ...          one stage of the run (data, kg, lattice, vqgan, encode, gpt, eval)
 *   artist-train data build emoji-zh --out data/ --size 32
 *   artist-train kg --input data/kg --output kg/
 *   artist-train lattice --input train.tsv --entities entity2id.txt --output knowl.tsv
 *   artist-train fid --real real/ --fake generated.tsv
 *   artist-train ablation --preset demo --set data.dataset=kg-shapes-zh --modes lattice,none --seeds 3
 *   artist-train report --name demo
 *   artist-train self-check [--backend wasm]
 *
 * Every command takes --backend (alias --device) and --threads; --help lists the environment.
 */
import fs from 'node:fs';
import { runSelfCheck } from '@artist-ts/runtime';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatAblationTable, parseModes, parseSeeds } from './ablation';
import { runAblation, runFolderOf, runPipeline } from './app';
import {
  abortOnSigint,
  addRuntimeOptions,
  describeProgram,
  initRuntimeFrom,
  intArg,
  type RuntimeFlags,
  runProgram,
  runtimeLine,
  runtimeOptionsFrom,
} from './cli_shared';
import { type ConfigOverride, resolveConfig, TRAINER_PRESETS, type TrainerConfig } from './config';
import { ConfigError } from './config_tree';
import { writeReport } from './report';
import { STAGE_NAMES } from './run_layout';
import {
  buildDatasetCommand,
  exportCommand,
  fidCommand,
  importCommand,
  kgCommand,
  latticeCommand,
  listDatasetsCommand,
} from './standalone';

/** A commander argument parser from `parse`: its error is the flag's bad argument. */
function argOf<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface RunOpts extends RuntimeFlags {
  preset: string;
  config?: string;
  set: string[];
  name?: string;
  runsDir?: string;
  dryRun?: boolean;
  force?: string;
  /** artist-train finetune's files (config fields finetune.*, lattice.vocab). */
  init?: string;
  train?: string;
  val?: string;
  test?: string;
  vocab?: string;
  entities?: string;
  entityVectors?: string;
}

function addRunOptions(cmd: Command, preset = 'demo'): Command {
  cmd
    .addOption(
      new Option('--preset <name>', 'configuration preset')
        .choices(Object.keys(TRAINER_PRESETS))
        .default(preset),
    )
    .option('--config <file>', 'JSON configuration (validated against the preset)')
    .option(
      '--set <key=value>',
      'dotted override, e.g. gpt.train.totalSteps=500 (repeatable)',
      collect,
      [],
    )
    .option('--name <name>', 'run name (folder runs/<name>)')
    .option('--runs-dir <dir>', 'where run folders live')
    .option('--force <stages>', 'comma-separated stages to re-run even if up to date')
    .option('--dry-run', 'print the resolved configuration and exit');
  return addRuntimeOptions(cmd);
}

function configFrom(opts: RunOpts): TrainerConfig {
  let file: { path: string; json: unknown } | undefined;
  if (opts.config) {
    let text: string;
    try {
      text = fs.readFileSync(opts.config, 'utf8');
    } catch (err) {
      throw new ConfigError('--config', `cannot read ${opts.config}: ${(err as Error).message}`);
    }
    try {
      file = { path: opts.config, json: JSON.parse(text) };
    } catch (err) {
      throw new ConfigError('(file)', `invalid JSON (${(err as Error).message})`, opts.config);
    }
  }
  const overrides: ConfigOverride[] = [...opts.set];
  const flag = (key: string, value: string | undefined, label: string) => {
    if (value !== undefined) overrides.push({ text: `${key}=${JSON.stringify(value)}`, label });
  };
  flag('name', opts.name, '--name');
  flag('runsDir', opts.runsDir, '--runs-dir');
  flag('backend', opts.backend, '--backend');
  flag('finetune.init', opts.init, '--init');
  flag('finetune.train', opts.train, '--train');
  flag('finetune.val', opts.val, '--val');
  flag('finetune.test', opts.test, '--test');
  flag('finetune.entities', opts.entities, '--entities');
  flag('finetune.entityVectors', opts.entityVectors, '--entity-vectors');
  flag('lattice.vocab', opts.vocab, '--vocab');
  return resolveConfig({ preset: opts.preset, file, overrides });
}

async function runCommand(opts: RunOpts, only?: string[]): Promise<void> {
  const config = configFrom(opts);
  if (opts.dryRun) {
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return;
  }
  const ctl = abortOnSigint();
  const force = opts.force ? opts.force.split(',').map((s) => s.trim()) : undefined;
  const { run } = await runPipeline(config, {
    only,
    force,
    signal: ctl.signal,
    argv: process.argv.slice(2),
    runtime: await initRuntimeFrom(opts, config.backend as RuntimeFlags['backend']),
  });
  process.stdout.write(`run folder: ${run.root}\n`);
}

export function buildProgram(): Command {
  const program = describeProgram(
    new Command('artist-train').description(
      'Train ARTIST (knowledge-enhanced Chinese text-to-image) end to end',
    ),
  );

  addRunOptions(
    program.command('run').description(`run every stage in order: ${STAGE_NAMES.join(' -> ')}`),
  ).action((o: RunOpts) => runCommand(o));

  addRunOptions(
    program
      .command('finetune')
      .description(
        "fine-tune a released ARTIST (or an earlier run) on EasyNLP's files, then predict: import -> lattice -> encode (frozen VQGAN) -> gpt -> predictions (resumable; unchanged stages are skipped)",
      )
      .requiredOption(
        '--init <path>',
        'pytorch_model.bin / model.safetensors, an imported folder (gpt/, vqgan/), or a run folder',
      )
      .requiredOption('--train <tsv>', 'T2I_train.tsv (idx, text, imgbase64) or its knowledge TSV')
      .requiredOption('--val <tsv>', 'T2I_val.tsv, in the same layout as --train')
      .option('--test <tsv>', 'T2I_test.tsv (idx, text) or its knowledge TSV: texts to predict for')
      .requiredOption('--vocab <file>', "the model's BERT vocab.txt")
      .requiredOption('--entities <file>', 'OpenKE entity2id.txt')
      .requiredOption(
        '--entity-vectors <file>',
        'entity2vec.pt (tensor or nn.Embedding state dict), .npy, OpenKE entity2vec text, or ours',
      ),
    'finetune',
  ).action((o: RunOpts) => runCommand(o));

  // `data` is both a pipeline stage and a builder entry.
  addRunOptions(
    program
      .command('data')
      .description('pipeline stage, or: data build <name> --out <dir> --size <px> | data list')
      .argument('[action]', "'build' or 'list' (omit to run the pipeline's data stage)")
      .argument('[dataset]', 'dataset name for build')
      .option('--out <dir>', 'output folder (data build)')
      .option('--size <px>', 'image side in pixels (data build)', intArg(1))
      .option('--seed <n>', 'seed (data build)', intArg(0), 0)
      .option('--limit <n>', 'rows per split at most (data build)', intArg(1)),
  ).action(
    async (
      action: string | undefined,
      dataset: string | undefined,
      o: RunOpts & { out?: string; size?: number; seed: number; limit?: number },
    ) => {
      if (action === 'list') return listDatasetsCommand();
      if (action === 'build') return buildDatasetCommand(dataset, o);
      if (action !== undefined)
        throw new ConfigError('data', `unknown action '${action}' (build, list)`);
      return runCommand(o, ['data']);
    },
  );

  addRunOptions(
    program
      .command('kg')
      .description(
        'pipeline stage, or standalone: kg --input <OpenKE dir | triples.tsv> --output <dir>',
      )
      .option('--input <path>', 'OpenKE folder or named triples file (standalone)')
      .option('--output <dir>', 'output folder (standalone)')
      .option('--kg-preset <name>', 'TransE preset (standalone)', 'default'),
  ).action(async (o: RunOpts & { input?: string; output?: string; kgPreset: string }) => {
    if (o.input) return kgCommand(o, abortOnSigint().signal);
    return runCommand(o, ['kg']);
  });

  addRunOptions(
    program
      .command('lattice')
      .description(
        'pipeline stage, or standalone: lattice --input train.tsv --entities entity2id.txt --output knowl.tsv',
      )
      .option('--input <tsv>', 'T2I TSV (standalone)')
      .option('--entities <file>', 'OpenKE entity2id.txt (standalone)')
      .option('--output <tsv>', 'knowledge TSV to write (standalone)')
      .option(
        '--vocab <file>',
        'BERT vocab.txt (standalone; default: a character vocab built from --input, written beside --output)',
      ),
  ).action(
    async (o: RunOpts & { input?: string; entities?: string; output?: string; vocab?: string }) => {
      if (o.input) return latticeCommand(o);
      return runCommand(o, ['lattice']);
    },
  );

  for (const stage of ['vqgan', 'encode', 'gpt', 'eval']) {
    addRunOptions(
      program
        .command(stage)
        .description(`run the pipeline's ${stage} stage (earlier stages must be done)`),
    ).action((o: RunOpts) => runCommand(o, [stage]));
  }

  addRunOptions(
    program
      .command('ablation')
      .description(
        'train and evaluate GPT-knowl with each fusion mode on the same data, repeated per seed, and tabulate (resumable; finished runs are skipped)',
      )
      .option('--modes <list>', 'fusion modes', argOf(parseModes), ['lattice', 'none'])
      .option(
        '--seeds <count|list>',
        "repetitions: a count (3 = seeds 1,2,3) or a list (7,8,9); default: the config's seed once",
        argOf(parseSeeds),
      ),
  ).action(async (o: RunOpts & { modes: string[]; seeds?: number[] }) => {
    const config = configFrom(o);
    if (o.dryRun) {
      process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      return;
    }
    const { summary, report } = await runAblation(config, o.modes, {
      seeds: o.seeds,
      signal: abortOnSigint().signal,
      argv: process.argv.slice(2),
      runtime: await initRuntimeFrom(o, config.backend as RuntimeFlags['backend']),
    });
    process.stdout.write(`\n${formatAblationTable(summary)}\n`);
    process.stdout.write(`ablation: ${runFolderOf(config).ablationFile}\nreport: ${report}\n`);
  });

  addRunOptions(program.command('report').description('(re)write runs/<name>/report.html')).action(
    async (o: RunOpts) => {
      const file = await writeReport(runFolderOf(configFrom(o)));
      process.stdout.write(`report: ${file}\n`);
    },
  );

  const fid = program
    .command('fid')
    .description('FID and KID between two image sets (folders of images or EasyNLP TSVs)')
    .requiredOption('--real <path>', 'real images: folder, TSV, or .npz statistics')
    .requiredOption('--fake <path>', 'generated images: folder, TSV, or .npz statistics')
    .option('--batch-size <n>', 'images per forward pass', intArg(1), 16)
    .option('--no-kid', 'skip KID')
    .action((o) => fidCommand(o, abortOnSigint().signal));
  addRuntimeOptions(fid);

  program
    .command('import')
    .description(
      'convert a released PyTorch checkpoint (.bin/.pt/.pth/.safetensors) into an artist-ts checkpoint',
    )
    .requiredOption('--from <file>', 'PyTorch checkpoint')
    .addOption(
      new Option('--kind <kind>', 'what the file holds')
        .choices(['artist', 'vqgan', 'inception'])
        .makeOptionMandatory(),
    )
    .requiredOption('--out <dir>', 'checkpoint folder to write')
    .option(
      '--vqgan-config <json>',
      'VQGAN fields the weights cannot tell, e.g. \'{"numGroups":32,"resolution":256}\'',
    )
    .option(
      '--gpt-config <json>',
      'GPT fields the weights cannot tell, e.g. \'{"nHead":12,"textLen":32}\'',
    )
    .option('--allow-unused', 'list source keys with no destination instead of failing')
    .action((o) => importCommand(o));

  program
    .command('export')
    .description(
      'write a run (or an imported folder) as EasyNLP files: pytorch_model.bin or model.safetensors, config.json, vocab.txt, entity2vec.pt',
    )
    .requiredOption('--run <dir>', 'run folder (runs/<name>) or imported folder (gpt/, vqgan/)')
    .addOption(
      new Option('--to <format>', 'weights file format')
        .choices(['easynlp', 'safetensors'])
        .default('easynlp'),
    )
    .requiredOption('--output <dir>', 'folder to write')
    .option('--allow-unused', 'leave out (and list) weights EasyNLP has no key for')
    .action((o) => exportCommand(o));

  const selfCheck = program
    .command('self-check')
    .description(
      'print the backend this machine gets (and why faster ones were skipped), then train, checkpoint, reload and resume a small model',
    )
    .action((o: RuntimeFlags) => selfCheckCommand(o));
  addRuntimeOptions(selfCheck);

  return program;
}

async function selfCheckCommand(o: RuntimeFlags): Promise<void> {
  const report = await runSelfCheck(runtimeOptionsFrom(o));
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(runtimeLine(report.runtime));
  for (const s of report.runtime.skipped) out(`  skipped ${s.backend}: ${s.reason}`);
  out(
    `train ${report.steps} steps: loss ${report.lossBefore.toFixed(4)} -> ${report.lossAfter.toFixed(4)}; checkpoint round trip max |dw| = ${report.weightMaxAbsDiff}`,
  );
  out(`self-check ${report.ok ? 'OK' : 'FAILED'} in ${report.seconds.toFixed(1)} s`);
  if (!report.ok) throw new Error('self-check failed (see above)');
}

export function main(argv = process.argv): Promise<void> {
  return runProgram(buildProgram(), argv);
}

if (require.main === module) void main();
