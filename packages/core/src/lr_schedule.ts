/**
 * The one learning-rate schedule every trainer uses: linear warm-up to the peak, then constant,
 * linear or cosine decay to `minRatio` times the peak at `totalSteps`, constant after. A pure
 * function of the update number, so a resumed run gets exactly the rates of an uninterrupted one.
 */

export const LR_SCHEDULE_KINDS = ['constant', 'linear', 'cosine'] as const;
export type LrScheduleKind = (typeof LR_SCHEDULE_KINDS)[number];

export interface LrSchedule {
  /** The peak learning rate (reached at the end of warm-up). */
  peak: number;
  kind: LrScheduleKind;
  /** Updates of linear warm-up: update u <= warmupSteps gets peak * u / warmupSteps. */
  warmupSteps: number;
  /** The update at which decay ends (ignored by 'constant'). */
  totalSteps: number;
  /** Where decay ends, as a fraction of the peak (0: decays to zero, as EasyNLP / HF `linear`). */
  minRatio: number;
}

export const DEFAULT_LR_SCHEDULE: LrSchedule = {
  peak: 1e-3,
  kind: 'constant',
  warmupSteps: 0,
  totalSteps: 0,
  minRatio: 0,
};

/** Checks every field; the error names the bad one (prefixed with `where`). */
export function validateLrSchedule(s: Partial<LrSchedule>, where = 'schedule'): LrSchedule {
  const out: LrSchedule = { ...DEFAULT_LR_SCHEDULE, ...s };
  const bad = (field: string, why: string, v: unknown) => {
    throw new RangeError(`${where}.${field} ${why}; got ${JSON.stringify(v)}`);
  };
  if (!(Number.isFinite(out.peak) && out.peak >= 0)) bad('peak', 'must be a number >= 0', out.peak);
  if (!LR_SCHEDULE_KINDS.includes(out.kind))
    bad('kind', `must be one of ${LR_SCHEDULE_KINDS.join(', ')}`, out.kind);
  for (const f of ['warmupSteps', 'totalSteps'] as const)
    if (!(Number.isInteger(out[f]) && out[f] >= 0)) bad(f, 'must be an integer >= 0', out[f]);
  if (!(Number.isFinite(out.minRatio) && out.minRatio >= 0 && out.minRatio <= 1))
    bad('minRatio', 'must be in [0, 1]', out.minRatio);
  return out;
}

/**
 * Decay progress of update `u` in [0, 1]: 0 at the last warm-up update, 1 at `totalSteps`.
 * `offset` shifts where decay starts counting (-1: the first update after warm-up is at progress 0,
 * as the TransE trainer has always counted).
 */
function progress(s: LrSchedule, u: number, offset: number): number {
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  return Math.min(1, Math.max(0, (u + offset - s.warmupSteps) / span));
}

/**
 * Learning rate of update `u` (1-based: the first update is 1). `decayOffset` (default 0) is
 * added to u when measuring decay progress.
 */
export function learningRateAt(s: LrSchedule, u: number, decayOffset = 0): number {
  if (s.warmupSteps > 0 && u <= s.warmupSteps) return (s.peak * u) / s.warmupSteps;
  if (s.kind === 'constant') return s.peak;
  const p = progress(s, u, decayOffset);
  const floor = s.peak * s.minRatio;
  if (s.kind === 'linear') return floor + (s.peak - floor) * (1 - p);
  return floor + (s.peak - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
}
