/**
 * What the CLI does, as functions (the smoke tests call them directly): resolve the config, open
 * the run folder, initialise the backend, run stages, write the report.
 */
import fs from 'node:fs';
import { describeRuntime, initRuntime, type RuntimeInfo } from '@artist-ts/runtime';
import type { TrainerConfig } from './config';
import { runStages, type Stage, type StageEvent } from './pipeline';
import { createProgressView, type ProgressView } from './progress';
import { type AblationRow, writeReport } from './report';
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

/** The stages every fusion mode of the ablation shares (run once, copied into each mode's run). */
const ABLATION_SHARED_STAGES = STAGE_NAMES.filter((s) => s !== 'gpt' && s !== 'eval');

/**
 * The knowledge ablation: the shared stages once, then gpt + eval for each fusion mode in
 * `<run>/ablation/<mode>/`, and a table comparing them in the main report.
 */
export async function runAblation(
  config: TrainerConfig,
  modes: string[],
  options: PipelineOptions = {},
) {
  const progress = options.progress ?? createProgressView();
  const base = await runPipeline(config, {
    ...options,
    only: ABLATION_SHARED_STAGES,
    report: false,
  });
  const rows: AblationRow[] = [];
  for (const mode of modes) {
    const sub: TrainerConfig = structuredClone(config);
    sub.runsDir = base.run.ablationDir;
    sub.name = mode;
    sub.gpt.model = { ...sub.gpt.model, fusion: mode as TrainerConfig['gpt']['model']['fusion'] };
    const subRun = runFolderOf(sub);
    for (const stage of ABLATION_SHARED_STAGES) {
      if (!fs.existsSync(subRun.markerFile(stage))) {
        fs.rmSync(subRun.stagePath(stage), { recursive: true, force: true });
        await fs.promises.cp(base.run.stagePath(stage), subRun.stagePath(stage), {
          recursive: true,
        });
      }
    }
    progress.log(`[ablation] fusion=${mode}`);
    const r = await runPipeline(sub, {
      ...options,
      runtime: base.runtime,
      only: ['gpt', 'eval'],
      report: true,
    });
    const s = r.markers.eval?.summary as Record<string, unknown> | undefined;
    const kgs = s?.kgShapes as { overall: Record<string, number> } | undefined;
    rows.push({
      fusion: mode,
      fid: (s?.fid as number | undefined) ?? null,
      habitat: kgs?.overall.habitatAccuracy ?? null,
      colour: kgs?.overall.colourAccuracy ?? null,
      shape: kgs?.overall.shapeAccuracy ?? null,
    });
  }
  const report = await writeReport(base.run, { ablation: rows });
  progress.log(`report: ${report}`);
  return { rows, report };
}
