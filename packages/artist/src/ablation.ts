/**
 * The knowledge ablation's numbers: which seeds to repeat with, what one (seed, fusion mode) run
 * measured, and the aggregate over seeds per fusion mode and kg-shapes-zh scorer group
 * (`<run>/ablation.json`). Pure: the app runs the stages and writes the file.
 */
import type { EmojiHitSummary } from '@artist-ts/datasets';
import type { FusionMode } from '@artist-ts/gpt-knowl';

/**
 * gpt-knowl's fusion modes (its FUSION_MODES is not exported from the package root; the Record
 * type makes the compiler check this list against FusionMode).
 */
const FUSION_MODE_SET: Record<FusionMode, true> = { lattice: true, easynlp: true, none: true };
const FUSION_MODES = Object.keys(FUSION_MODE_SET);
/** Mean and spread of one measure over the seeds that have it. */
export interface SeedStat {
  /** Seeds that have a value (a run without FID, or a group absent from a seed, has none). */
  n: number;
  mean: number | null;
  /** Sample standard deviation (n - 1 denominator); null below two values. */
  sd: number | null;
  min: number | null;
  max: number | null;
}

/** The kg-shapes-zh scores of one scorer group in one run. */
export interface GroupScore {
  /** Scored images (captions x images per caption). */
  images: number;
  habitat: number;
  colour: number;
  shape: number;
}

/** What one (seed, fusion mode) run measured. */
export interface AblationRunResult {
  seed: number;
  fusion: string;
  /** The mode's run folder, relative to the ablation's run folder. */
  dir: string;
  valLoss: number | null;
  fid: number | null;
  kid: number | null;
  imagesPerCaption: number | null;
  /** Seconds of its gpt and eval stages (as their markers recorded them). */
  seconds: number;
  /** `all` (the scorer's overall) and each scorer group; empty when the data is not kg-shapes-zh. */
  groups: Record<string, GroupScore>;
  /** The same scores at each knowledge guidance scale of `eval.knowledgeGuidance` (may be empty). */
  guidance: Array<{ scale: number; groups: Record<string, GroupScore> }>;
  /** emoji-zh keyword hits: `all` and each group; empty for other data. */
  hits: Record<string, HitScore>;
  /** The VQGAN's ceiling: the scorer on reconstructions of the real test images (kg-shapes-zh). */
  ceiling: Record<string, GroupScore>;
  /** The same for emoji-zh: keyword hits of those reconstructions (empty for other data). */
  hitsCeiling?: Record<string, HitScore>;
}

/** The emoji-zh keyword hit of one group in one run (datasets' scoreEmojiZhImages). */
export type HitScore = Pick<
  EmojiHitSummary,
  'images' | 'hit1' | 'hit5' | 'hitTop1Percent' | 'rankPercentile' | 'subgroupHit1'
>;

export interface AblationHitStats {
  group: string;
  images: number | null;
  hit1: SeedStat;
  hit5: SeedStat;
  hitTop1Percent: SeedStat;
  rankPercentile: SeedStat;
  subgroupHit1: SeedStat;
}

export interface AblationGroupStats {
  group: string;
  /** Held-out captions in the group (images / images per caption), null when unknown. */
  captions: number | null;
  images: number | null;
  habitat: SeedStat;
  colour: SeedStat;
  shape: SeedStat;
}

export interface AblationModeStats {
  fusion: string;
  runs: number;
  valLoss: SeedStat;
  fid: SeedStat;
  kid: SeedStat;
  /** `all` first, then the scorer groups in name order. */
  groups: AblationGroupStats[];
  /** Per knowledge guidance scale (ascending): the groups as above. */
  guidance: Array<{ scale: number; groups: AblationGroupStats[] }>;
  /** emoji-zh keyword hits per group, `all` first (empty for other data). */
  hits: AblationHitStats[];
}

/** `<run>/ablation.json`. */
export interface AblationSummary {
  seeds: number[];
  modes: string[];
  /** The seed the shared data was built with (every repetition trains on the same data). */
  dataSeed: number;
  spread: string;
  /** Wall time of the command that finished the ablation (a resumed one counts its own part only). */
  wallSeconds: number;
  /** Seconds of every stage of every repetition, as their markers recorded them (survives resumes). */
  stageSeconds: number;
  runs: AblationRunResult[];
  byMode: AblationModeStats[];
  /**
   * The scorer on VQGAN reconstructions of the real test images, per group over the seeds (every
   * mode of a seed shares its VQGAN): what a perfect GPT could reach. Empty for other data.
   */
  ceiling: AblationGroupStats[];
  /** emoji-zh: keyword hits of the VQGAN reconstructions, per group over the seeds. */
  hitsCeiling?: AblationHitStats[];
}

export const SPREAD_NOTE = 'sample standard deviation over seeds (n - 1); none with one seed';

/** The table label of the VQGAN ceiling rows. */
export const CEILING_LABEL = 'VQGAN reconstructions (ceiling)';

/** The scorer group that stands for all held-out captions. */
export const ALL_GROUP = 'all';

/**
 * `--seeds`: a count `3` (seeds 1, 2, 3) or a list `7,8,9`. Throws a RangeError saying what is
 * expected (the CLI reports it as the flag's bad argument).
 */
export function parseSeeds(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const bad = parts.find((p) => !/^\d+$/.test(p));
  if (bad !== undefined)
    throw new RangeError(
      `expected a count (3) or a comma-separated list of non-negative integer seeds (7,8,9), got '${text}'`,
    );
  const values = parts.map(Number);
  if (parts.length === 1) {
    if (values[0] < 1) throw new RangeError(`a count must be at least 1, got '${text}'`);
    return Array.from({ length: values[0] }, (_, i) => i + 1);
  }
  if (new Set(values).size !== values.length)
    throw new RangeError(`seeds must be distinct, got '${text}'`);
  return values;
}

/** `--modes`: distinct fusion modes, comma-separated. Throws a RangeError naming the allowed ones. */
export function parseModes(text: string): FusionMode[] {
  const modes = text.split(',').map((s) => s.trim());
  checkModes(modes);
  return modes as FusionMode[];
}

/** Throws a RangeError unless `modes` are distinct fusion modes, at least one. */
export function checkModes(modes: readonly string[]): void {
  const bad = modes.find((m) => !FUSION_MODES.includes(m));
  if (modes.length === 0 || bad !== undefined)
    throw new RangeError(
      `fusion modes are ${FUSION_MODES.join(', ')}; got '${bad ?? ''}' in '${modes.join(',')}'`,
    );
  if (new Set(modes).size !== modes.length)
    throw new RangeError(`fusion modes must be distinct, got '${modes.join(',')}'`);
}

/** Mean, sample standard deviation, min and max of the values that are numbers. */
export function seedStat(values: ReadonlyArray<number | null | undefined>): SeedStat {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { n, mean: null, sd: null, min: null, max: null };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? null : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { n, mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
}

interface ScoreSummaryLike {
  images: number;
  habitatAccuracy: number;
  colourAccuracy: number;
  shapeAccuracy: number;
}

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** One run's result from its gpt and eval markers' summaries. */
export function ablationRunResult(run: {
  seed: number;
  fusion: string;
  dir: string;
  seconds: number;
  gpt: Record<string, unknown> | undefined;
  eval: Record<string, unknown> | undefined;
}): AblationRunResult {
  const ev = run.eval ?? {};
  const kgs = ev.kgShapes as ByGroup<ScoreSummaryLike> | undefined;
  const sweep = ev.knowledgeGuidance as
    | { scales: Array<ByGroup<ScoreSummaryLike> & { knowledgeGuidanceScale: number }> }
    | undefined;
  return {
    seed: run.seed,
    fusion: run.fusion,
    dir: run.dir,
    valLoss: num(run.gpt?.valLoss),
    fid: num(ev.fid),
    kid: num(ev.kid),
    imagesPerCaption: num(ev.imagesPerCaption),
    seconds: run.seconds,
    groups: kgs ? scoreGroups(kgs) : {},
    guidance: (sweep?.scales ?? []).map((g) => ({
      scale: g.knowledgeGuidanceScale,
      groups: scoreGroups(g),
    })),
    hits: hitGroups(ev.emojiHits as ByGroup<HitScore> | undefined),
    ceiling: ev.kgShapesReconstructions
      ? scoreGroups(ev.kgShapesReconstructions as ByGroup<ScoreSummaryLike>)
      : {},
    hitsCeiling: hitGroups(ev.emojiHitsReconstructions as ByGroup<HitScore> | undefined),
  };
}

/** One run per seed that has `part` (every mode of a seed shares its VQGAN, so one counts). */
function onePerSeed<T>(
  runs: readonly AblationRunResult[],
  part: (r: AblationRunResult) => Record<string, T> | undefined,
): Record<string, T>[] {
  const perSeed = new Map<number, Record<string, T>>();
  for (const r of runs) {
    const p = part(r);
    if (!perSeed.has(r.seed) && p && Object.keys(p).length > 0) perSeed.set(r.seed, p);
  }
  return [...perSeed.values()];
}

/** The VQGAN ceiling per group over the seeds: one run per seed (its modes share the VQGAN). */
export function aggregateCeiling(runs: readonly AblationRunResult[]): AblationGroupStats[] {
  return groupStats(onePerSeed(runs, (r) => r.ceiling).map((groups) => ({ groups, per: 1 })));
}

/** emoji-zh keyword hits of the VQGAN reconstructions per group over the seeds, as above. */
export function aggregateHitsCeiling(runs: readonly AblationRunResult[]): AblationHitStats[] {
  return hitStats(onePerSeed(runs, (r) => r.hitsCeiling));
}

/** A scorer's output: one summary over all images and one per group. */
interface ByGroup<S> {
  overall: S;
  byGroup: Record<string, S>;
}

/** `all` (the overall summary) and every group, each summary mapped by `pick`. */
function flattenGroups<S, T>(scores: ByGroup<S>, pick: (s: S) => T): Record<string, T> {
  const out: Record<string, T> = { [ALL_GROUP]: pick(scores.overall) };
  for (const [g, s] of Object.entries(scores.byGroup)) out[g] = pick(s);
  return out;
}

function hitGroups(h: ByGroup<HitScore> | undefined): Record<string, HitScore> {
  if (!h) return {};
  return flattenGroups(h, (x) => ({
    images: x.images,
    hit1: x.hit1,
    hit5: x.hit5,
    hitTop1Percent: x.hitTop1Percent,
    rankPercentile: x.rankPercentile,
    subgroupHit1: x.subgroupHit1,
  }));
}

/** The kg-shapes-zh scorer's summaries as `all` + one entry per group. */
function scoreGroups(kgs: ByGroup<ScoreSummaryLike>): Record<string, GroupScore> {
  return flattenGroups(kgs, (s) => ({
    images: s.images,
    habitat: s.habitatAccuracy,
    colour: s.colourAccuracy,
    shape: s.shapeAccuracy,
  }));
}

/** The group names of per-seed records: `all` first (when any seed has it), then the rest by name. */
function groupNames(seeds: ReadonlyArray<Record<string, unknown>>): string[] {
  const names = [...new Set(seeds.flatMap((r) => Object.keys(r)))]
    .filter((g) => g !== ALL_GROUP)
    .sort();
  if (seeds.some((r) => r[ALL_GROUP])) names.unshift(ALL_GROUP);
  return names;
}

/** Per fusion mode (in `modes` order) and scorer group: every measure over the seeds. */
export function aggregateAblation(
  runs: readonly AblationRunResult[],
  modes: readonly string[],
): AblationModeStats[] {
  return modes.map((fusion) => {
    const mine = runs.filter((r) => r.fusion === fusion);
    const scales = [...new Set(mine.flatMap((r) => (r.guidance ?? []).map((g) => g.scale)))];
    return {
      fusion,
      runs: mine.length,
      valLoss: seedStat(mine.map((r) => r.valLoss)),
      fid: seedStat(mine.map((r) => r.fid)),
      kid: seedStat(mine.map((r) => r.kid)),
      groups: groupStats(mine.map((r) => ({ groups: r.groups, per: r.imagesPerCaption }))),
      hits: hitStats(mine.map((r) => r.hits ?? {})),
      guidance: scales
        .sort((a, b) => a - b)
        .map((scale) => ({
          scale,
          groups: groupStats(
            mine.flatMap((r) => {
              const g = (r.guidance ?? []).find((x) => x.scale === scale);
              return g ? [{ groups: g.groups, per: r.imagesPerCaption }] : [];
            }),
          ),
        })),
    };
  });
}

/** Every keyword-hit group over the seeds that have it, `all` first. */
function hitStats(seeds: ReadonlyArray<Record<string, HitScore>>): AblationHitStats[] {
  return groupNames(seeds).map((group) => {
    const having = seeds.filter((r) => r[group]).map((r) => r[group]);
    return {
      group,
      images: having[0]?.images ?? null,
      hit1: seedStat(having.map((h) => h.hit1)),
      hit5: seedStat(having.map((h) => h.hit5)),
      hitTop1Percent: seedStat(having.map((h) => h.hitTop1Percent)),
      rankPercentile: seedStat(having.map((h) => h.rankPercentile)),
      subgroupHit1: seedStat(having.map((h) => h.subgroupHit1)),
    };
  });
}

/** Every group's scores over the seeds that have it: `all` first, then the others by name. */
function groupStats(
  seeds: ReadonlyArray<{ groups: Record<string, GroupScore>; per: number | null }>,
): AblationGroupStats[] {
  return groupNames(seeds.map((r) => r.groups)).map((group): AblationGroupStats => {
    const having = seeds.filter((r) => r.groups[group]);
    const first = having[0];
    const images = first ? first.groups[group].images : null;
    const per = first?.per ?? null;
    return {
      group,
      captions: images !== null && per ? images / per : null,
      images,
      habitat: seedStat(having.map((r) => r.groups[group].habitat)),
      colour: seedStat(having.map((r) => r.groups[group].colour)),
      shape: seedStat(having.map((r) => r.groups[group].shape)),
    };
  });
}

/** `0.512 ± 0.031` (n >= 2), `0.512` (one seed), `-` (no value). */
export function formatStat(s: SeedStat, digits = 3): string {
  if (s.mean === null) return '-';
  return s.sd === null
    ? s.mean.toFixed(digits)
    : `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}`;
}

/** The aggregate as plain-text tables (what the CLI prints at the end). */
export function formatAblationTable(summary: AblationSummary): string {
  const lines: string[] = [];
  const table = (header: string[], rows: string[][]) => {
    const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) =>
      r
        .map((c, i) => c.padEnd(w[i]))
        .join('  ')
        .trimEnd();
    lines.push(line(header), w.map((n) => '-'.repeat(n)).join('  '));
    for (const r of rows) lines.push(line(r));
    lines.push('');
  };
  lines.push(`knowledge ablation: seeds ${summary.seeds.join(', ')}; mean ± ${SPREAD_NOTE}`, '');
  table(
    ['fusion', 'runs', 'val loss', 'FID', 'KID'],
    summary.byMode.map((m) => [
      m.fusion,
      String(m.runs),
      formatStat(m.valLoss),
      formatStat(m.fid, 2),
      formatStat(m.kid, 4),
    ]),
  );
  const rows = summary.byMode.flatMap((m) =>
    m.groups.map((g) => [
      m.fusion,
      g.group,
      g.captions === null ? '-' : String(g.captions),
      formatStat(g.habitat),
      formatStat(g.colour),
      formatStat(g.shape),
    ]),
  );
  for (const g of summary.ceiling ?? [])
    rows.push([
      CEILING_LABEL,
      g.group,
      g.images === null ? '-' : String(g.images),
      formatStat(g.habitat),
      formatStat(g.colour),
      formatStat(g.shape),
    ]);
  if (rows.length > 0)
    table(['fusion', 'group', 'captions', 'habitat acc.', 'colour acc.', 'shape acc.'], rows);
  const hits = hitRows(summary);
  if (hits.length > 0) table(['fusion', 'group', 'images', ...HIT_COLUMNS], hits);
  const guided = guidanceRows(summary);
  if (guided.length > 0) {
    lines.push('knowledge-aware guidance (s_kg; s_kg = none is the table above):');
    table(['fusion', 's_kg', 'group', 'habitat acc.', 'colour acc.', 'shape acc.'], guided);
  }
  lines.push(
    `wall time ${formatSeconds(summary.wallSeconds)} (this command); stage time ${formatSeconds(summary.stageSeconds)} (all repetitions)`,
  );
  return lines.join('\n');
}

/** Column titles of the emoji-zh keyword-hit measures, in `hitRows` order. */
export const HIT_COLUMNS = ['hit@1', 'hit@5', 'hit@1%', 'rank pct.', 'subgroup hit@1'];

/** Rows of the emoji-zh keyword-hit table: per mode, every group. */
export function hitRows(summary: AblationSummary): string[][] {
  const row = (label: string, h: AblationHitStats) => [
    label,
    h.group,
    h.images === null ? '-' : String(h.images),
    formatStat(h.hit1),
    formatStat(h.hit5),
    formatStat(h.hitTop1Percent),
    formatStat(h.rankPercentile),
    formatStat(h.subgroupHit1),
  ];
  return [
    ...summary.byMode.flatMap((m) => (m.hits ?? []).map((h) => row(m.fusion, h))),
    ...(summary.hitsCeiling ?? []).map((h) => row(CEILING_LABEL, h)),
  ];
}

/** Rows of the knowledge guidance table: per mode and scale, every scorer group. */
export function guidanceRows(summary: AblationSummary): string[][] {
  return summary.byMode.flatMap((m) =>
    (m.guidance ?? []).flatMap((g) =>
      g.groups.map((gr) => [
        m.fusion,
        String(g.scale),
        gr.group,
        formatStat(gr.habitat),
        formatStat(gr.colour),
        formatStat(gr.shape),
      ]),
    ),
  );
}

/** `14 min 45 s`, `52.3 s`. */
export function formatSeconds(s: number): string {
  if (s < 59.95) return `${s.toFixed(1)} s`;
  const whole = Math.round(s); // round first: 659.6 s is 11 min 0 s, not 10 min 60 s
  const m = Math.floor(whole / 60);
  return m < 60 ? `${m} min ${whole - 60 * m} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
