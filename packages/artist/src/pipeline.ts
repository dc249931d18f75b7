/**
 * The stage runner: each stage declares what it depends on; a stage whose input hash matches its
 * DONE marker is skipped; otherwise it runs (resuming from its own checkpoints) and is marked done.
 */
import fs from 'node:fs';
import { atomicWriteFile } from '@artist-ts/core/files';
import { TrainingInterruptedError } from '@artist-ts/core/train-loop';
import type { ProgressView } from './progress';
import { hashStageInputs, type MetricRecord, type RunFolder, type StageMarker } from './run_folder';

export interface StageContext<C> {
  run: RunFolder;
  config: C;
  signal: AbortSignal;
  progress: ProgressView;
  metrics(records: MetricRecord[]): void;
}

export interface Stage<C> {
  name: string;
  /** Stages whose outputs this one reads. */
  after: string[];
  /** The part of the config that changes this stage's output. */
  configSlice(config: C): unknown;
  /** External files/folders this stage reads (user data); their bytes are hashed. */
  externalInputs?(config: C): string[];
  /** Does the work; returns the summary stored in the marker. Must honour `signal`. */
  run(ctx: StageContext<C>): Promise<Record<string, unknown>>;
}

/**
 * `o` without the fields of `added` that still hold the value given there: a stage's config slice
 * for options added after runs were made, so those runs keep their stage's hash while the option
 * is left at its default (the hash sorts keys, so the fields' order does not matter).
 */
export function omitWhileDefault<T extends object>(o: T, added: Partial<T>): Partial<T> {
  const out: Partial<T> = { ...o };
  for (const k of Object.keys(added) as (keyof T)[]) if (out[k] === added[k]) delete out[k];
  return out;
}

export type StageEvent =
  | { type: 'skip'; stage: string; marker: StageMarker }
  | { type: 'start'; stage: string; reason: string }
  | { type: 'done'; stage: string; marker: StageMarker };

/** Throws the shared "stopped: run the same command again" error once `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal, stage: string): void {
  if (signal.aborted) throw new TrainingInterruptedError(`stage '${stage}'`);
}

export interface RunStagesOptions<C> {
  stages: Stage<C>[];
  /** Stage names to run, in pipeline order (default all). Dependencies must be done or listed. */
  only?: string[];
  /** Re-run these even when their marker matches. */
  force?: string[];
  onEvent?: (e: StageEvent) => void;
}

export async function runStages<C>(
  ctx: Omit<StageContext<C>, 'metrics'>,
  options: RunStagesOptions<C>,
): Promise<Record<string, StageMarker>> {
  const hashes: Record<string, string> = {};
  const markers: Record<string, StageMarker> = {};
  const selected = new Set(options.only ?? options.stages.map((s) => s.name));
  for (const stage of options.stages) {
    const upstream: Record<string, string> = {};
    for (const dep of stage.after) {
      const h = hashes[dep] ?? ctx.run.readMarker(dep)?.inputHash;
      if (h === undefined) {
        if (selected.has(stage.name)) {
          throw new Error(`stage '${stage.name}' needs stage '${dep}' to have run first`);
        }
      } else upstream[dep] = h;
    }
    if (!selected.has(stage.name)) {
      const m = ctx.run.readMarker(stage.name);
      if (m) hashes[stage.name] = m.inputHash;
      continue;
    }
    const inputHash = await hashStageInputs({
      config: stage.configSlice(ctx.config),
      upstream,
      files: stage.externalInputs?.(ctx.config),
    });
    hashes[stage.name] = inputHash;
    const existing = ctx.run.readMarker(stage.name);
    if (existing && existing.inputHash === inputHash && !options.force?.includes(stage.name)) {
      markers[stage.name] = existing;
      options.onEvent?.({ type: 'skip', stage: stage.name, marker: existing });
      continue;
    }
    const reason = existing ? 'inputs or config changed' : 'not run yet';
    options.onEvent?.({ type: 'start', stage: stage.name, reason });
    ctx.run.clearMarker(stage.name);
    // Checkpoints in the stage folder belong to the inputs they were made from: keep them when the
    // inputs are the same (resume after a kill), wipe them when the inputs changed.
    const hashFile = ctx.run.inputHashFile(stage.name);
    const previous = fs.existsSync(hashFile) ? fs.readFileSync(hashFile, 'utf8').trim() : null;
    if (previous !== inputHash) {
      fs.rmSync(ctx.run.stagePath(stage.name), { recursive: true, force: true });
      ctx.run.stageDir(stage.name);
      await atomicWriteFile(hashFile, `${inputHash}\n`);
    }
    const t0 = Date.now();
    let summary: Record<string, unknown>;
    try {
      summary = await stage.run({ ...ctx, metrics: (records) => ctx.run.appendMetrics(records) });
    } catch (err) {
      // Whatever a stopped library call threw (a sampler's or an extractor's own abort error),
      // a stop is a stop: the stage is not marked done and the same command continues it.
      throwIfAborted(ctx.signal, stage.name);
      throw err;
    }
    throwIfAborted(ctx.signal, stage.name);
    const marker: StageMarker = {
      stage: stage.name,
      inputHash,
      finishedAt: new Date().toISOString(),
      seconds: (Date.now() - t0) / 1000,
      summary,
    };
    await ctx.run.writeMarker(marker);
    markers[stage.name] = marker;
    options.onEvent?.({ type: 'done', stage: stage.name, marker });
  }
  return markers;
}
