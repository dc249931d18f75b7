/**
 * The training-loop surface every trainer shares (TransE, VQGAN, GPT-knowl): the same option names
 * for how long to train, checkpoints, resume, progress callbacks and stopping, and the same result.
 *
 * Conventions:
 * - `fit(data?, options)` trains until `steps` updates have been taken in all (counting those of a
 *   resumed checkpoint), or for `epochs` more passes, whichever the trainer's unit is.
 * - With `checkpointDir`, a checkpoint is written every `checkpointEvery` updates, at the end and
 *   when stopped through `signal`; with `resume` (default true) training continues from the newest
 *   checkpoint there, exactly as if it had never stopped.
 * - `signal` stops after the current update (or epoch, for TransE); `fit` then resolves normally
 *   with `aborted: true`: nothing is lost, and running the same thing again continues.
 * - Callbacks never print; apps render them.
 */

export interface CheckpointEvent {
  /** The folder written. */
  dir: string;
  /** Updates taken when it was written. */
  step: number;
}

export interface TrainLoopOptions<StepReport = unknown> {
  /** Stop once this many updates have been taken in all. */
  steps?: number;
  /** Or after this many more passes over the data. */
  epochs?: number;
  /** Checkpoint root (step folders + `latest`, see checkpoint-files). */
  checkpointDir?: string;
  /** Updates between checkpoints (0 or absent: only at the end and on stop). */
  checkpointEvery?: number;
  /** Checkpoint folders to keep (older ones are removed). */
  keepLast?: number;
  /** Continue from the newest checkpoint in `checkpointDir` when there is one (default true). */
  resume?: boolean;
  /** Stops after the current update; the run can be continued later. */
  signal?: AbortSignal;
  onStep?: (report: StepReport) => void | Promise<void>;
  onCheckpoint?: (event: CheckpointEvent) => void | Promise<void>;
}

export interface TrainLoopResult<StepReport = unknown> {
  /** Updates taken in all (including those before a resume). */
  step: number;
  /** True when `signal` stopped training before its target. */
  aborted: boolean;
  /** The last update's report (null when no update ran). */
  last: StepReport | null;
  /** The last checkpoint written by this call (null when none). */
  checkpoint: string | null;
}

/** Checks the shared options; the error names the bad field. */
export function validateTrainLoopOptions<T extends TrainLoopOptions<never>>(
  o: T,
  where = 'fit',
): T {
  const int = (field: 'steps' | 'epochs' | 'checkpointEvery' | 'keepLast', min: number) => {
    const v = o[field];
    if (v !== undefined && !(Number.isInteger(v) && v >= min))
      throw new RangeError(
        `${where}: '${field}' must be an integer >= ${min}; got ${JSON.stringify(v)}`,
      );
  };
  int('steps', 0);
  int('epochs', 0);
  int('checkpointEvery', 0);
  int('keepLast', 1);
  if ((o.checkpointEvery ?? 0) > 0 && !o.checkpointDir)
    throw new RangeError(`${where}: 'checkpointEvery' needs 'checkpointDir'`);
  return o;
}

/** The error a caller throws (or an app reports) when a run was stopped and can be continued. */
export class TrainingInterruptedError extends Error {
  override readonly name = 'TrainingInterruptedError';
  constructor(readonly what: string) {
    super(`${what} stopped: run the same command again to continue`);
  }
}
