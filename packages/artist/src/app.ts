/**
 * What the CLI does, as functions (the smoke tests call them directly): resolve the config, open
 * the run folder, initialise the backend, run stages, write the report.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@artist-ts/core/files';
import type { FusionMode } from '@artist-ts/gpt-knowl';
import { describeRuntime, initRuntime, type RuntimeInfo } from '@artist-ts/runtime';
import {
  type AblationRunResult,
  type AblationSummary,
  ablationRunResult,
  aggregateAblation,
  aggregateCeiling,
  aggregateHitsCeiling,
  checkModes,
  SPREAD_NOTE,
} from './ablation';
import { type TrainerConfig, withSeed } from './config';
import { runStages, type Stage, type StageEvent } from './pipeline';
import { createProgressView, type ProgressView } from './progress';
import { writeReport } from './report';
import { RunFolder, type StageMarker } from './run_folder';
import { runRoot, STAGE_NAMES } from './run_layout';
import { dataStage } from './stages/data';
import { encodeStage } from './stages/encode';
import { evalStage } from './stages/eval';
import {
  finetuneDataStage,
  finetuneGptStage,
  finetuneKgStage,
  finetuneLatticeStage,
  finetuneVqganStage,
  initStage,
  predictStage,
} from './stages/finetune';
import { gptStage } from './stages/gpt';
import { kgStage } from './stages/kg';
import { latticeStage } from './stages/lattice';
import { vqganStage } from './stages/vqgan';

export const STAGES: Stage<TrainerConfig>[] = [
  dataStage,
  kgStage,
  latticeStage,
  vqganStage,
  encodeStage,
  gptStage,
  evalStage,
];

/**
 * A fine-tune's stages (`artist-train finetune`), used when the config's `finetune.init` is set: the
 * entity vectors and the TSVs are read and checked before the import, the VQGAN is the init's
 * (frozen), there is no TransE.
 */
export const FINETUNE_STAGES: Stage<TrainerConfig>[] = [
  finetuneKgStage,
  finetuneDataStage,
  initStage,
  finetuneLatticeStage,
  finetuneVqganStage,
  encodeStage,
  finetuneGptStage,
  predictStage,
];

/** The stages a config runs: the pipeline's, or a fine-tune's. */
export function stagesOf(config: TrainerConfig): Stage<TrainerConfig>[] {
  return config.finetune.init === null ? STAGES : FINETUNE_STAGES;
}

export interface PipelineOptions {
  /** Stages to run (default all); the others must be done already. */
  only?: string[];
  force?: string[];
  signal?: AbortSignal;
  progress?: ProgressView;
  /** Write report.html at the end (default true when the eval stage ran). */
  report?: boolean;
  argv?: string[];
  /** Reuse an already initialised runtime. */
  runtime?: RuntimeInfo;
}

export function runFolderOf(config: TrainerConfig): RunFolder {
  return new RunFolder(runRoot(config.runsDir, config.name));
}

export async function runPipeline(config: TrainerConfig, options: PipelineOptions = {}) {
  const progress = options.progress ?? createProgressView();
  const runtime = options.runtime ?? (await initRuntime({ backend: config.backend as 'auto' }));
  progress.log(`artist-ts: ${describeRuntime(runtime)}`);
  for (const s of runtime.skipped) progress.log(`  (skipped ${s.backend}: ${s.reason})`);
  const run = runFolderOf(config);
  await run.writeResolvedConfig(config, options.argv ?? process.argv.slice(2));
  const onEvent = (e: StageEvent) => {
    if (e.type === 'skip') progress.log(`[${e.stage}] up to date (inputs unchanged), skipped`);
    else if (e.type === 'start') progress.log(`[${e.stage}] running (${e.reason})`);
    else progress.log(`[${e.stage}] done in ${e.marker.seconds.toFixed(1)} s`);
  };
  let markers: Record<string, StageMarker>;
  try {
    markers = await runStages(
      { run, config, signal: options.signal ?? new AbortController().signal, progress },
      { stages: stagesOf(config), only: options.only, force: options.force, onEvent },
    );
  } catch (err) {
    progress.end(); // a stage stopped or failed mid-bar: give the terminal back (cursor, line)
    throw err;
  }
  let report: string | null = null;
  if (options.report ?? fs.existsSync(run.markerFile('eval'))) {
    report = await writeReport(run);
    progress.log(`report: ${report}`);
  }
  return { run, markers, report, runtime };
}

/** The stages every fusion mode of the ablation shares (run once per seed, copied into each mode's run). */
const ABLATION_SHARED_STAGES = STAGE_NAMES.filter((s) => s !== 'gpt' && s !== 'eval');

export interface AblationOptions extends PipelineOptions {
  /** Repetition seeds (default: the config's `seed` alone, the behaviour before seeds existed). */
  seeds?: number[];
}

/** Copies `stages` of `from` into `to`, unless `to` has them done from the same inputs already. */
async function copyStages(from: RunFolder, to: RunFolder, stages: readonly string[]) {
  for (const stage of stages) {
    const done = to.readMarker(stage);
    if (done && done.inputHash === from.readMarker(stage)?.inputHash) continue;
    fs.rmSync(to.stagePath(stage), { recursive: true, force: true });
    await fs.promises.cp(from.stagePath(stage), to.stagePath(stage), { recursive: true });
  }
}

const sumSeconds = (markers: Record<string, StageMarker>) =>
  Object.values(markers).reduce((a, m) => a + m.seconds, 0);

/**
 * The knowledge ablation, repeated per seed: the data once (in the run folder); per seed the
 * seed-dependent shared stages (TransE, lattice, VQGAN, encode: in the run folder itself for the
 * config's own seed, else in `<run>/ablation/seed-<s>/shared/`), then gpt + eval for each fusion
 * mode in `<run>/ablation/seed-<s>/<mode>/`. Every stage is skipped when done with the same inputs
 * and resumes from its checkpoints when not, so the same command continues a stopped ablation.
 * Writes `<run>/ablation.json` and the report; returns the aggregate.
 */
export async function runAblation(
  config: TrainerConfig,
  modes: string[],
  options: AblationOptions = {},
): Promise<{ summary: AblationSummary; report: string }> {
  const t0 = Date.now();
  checkModes(modes);
  const progress = options.progress ?? createProgressView();
  const seeds = options.seeds ?? [config.seed];
  const ownSeed = seeds.includes(config.seed);
  const base = await runPipeline(config, {
    ...options,
    progress,
    only: ownSeed ? ABLATION_SHARED_STAGES : ['data'],
    report: false,
  });
  const pipe = { ...options, runtime: base.runtime, progress };
  let stageSeconds = sumSeconds(base.markers);
  const runs: AblationRunResult[] = [];
  for (const seed of seeds) {
    // The config's own seed is the configured run itself (its overrides kept); others re-seed it.
    const seeded = seed === config.seed ? config : withSeed(config, seed);
    const seedDir = base.run.ablationSeedDir(seed);
    let shared = base.run;
    if (seed !== config.seed) {
      progress.log(`[ablation] seed ${seed}: shared stages`);
      shared = runFolderOf({ ...seeded, runsDir: seedDir, name: 'shared' });
      // The data stays the run's: copied, and not re-run (its seed is the repetition's now).
      await copyStages(base.run, shared, ['data']);
      const r = await runPipeline(
        { ...seeded, runsDir: seedDir, name: 'shared' },
        { ...pipe, only: ABLATION_SHARED_STAGES.filter((s) => s !== 'data'), report: false },
      );
      stageSeconds += sumSeconds(r.markers);
    }
    for (const mode of modes) {
      const sub: TrainerConfig = {
        ...seeded,
        runsDir: seedDir,
        name: mode,
        gpt: {
          ...seeded.gpt,
          model: { ...seeded.gpt.model, fusion: mode as FusionMode },
        },
      };
      const subRun = runFolderOf(sub);
      await copyStages(shared, subRun, ABLATION_SHARED_STAGES);
      progress.log(`[ablation] seed ${seed}, fusion=${mode}`);
      const r = await runPipeline(sub, { ...pipe, only: ['gpt', 'eval'], report: true });
      const seconds = sumSeconds(r.markers);
      stageSeconds += seconds;
      runs.push(
        ablationRunResult({
          seed,
          fusion: mode,
          dir: path.relative(base.run.root, subRun.root),
          seconds,
          gpt: r.markers.gpt?.summary,
          eval: r.markers.eval?.summary,
        }),
      );
    }
  }
  const summary: AblationSummary = {
    seeds,
    modes,
    dataSeed: config.seed,
    spread: SPREAD_NOTE,
    wallSeconds: (Date.now() - t0) / 1000,
    stageSeconds,
    runs,
    byMode: aggregateAblation(runs, modes),
    ceiling: aggregateCeiling(runs),
    hitsCeiling: aggregateHitsCeiling(runs),
  };
  await atomicWriteFile(base.run.ablationFile, `${JSON.stringify(summary, null, 2)}\n`);
  const report = await writeReport(base.run);
  progress.log(`report: ${report}`);
  return { summary, report };
}
