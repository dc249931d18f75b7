/**
 * The one weight matcher: compares the names and shapes a model expects with those a weight set
 * holds and lists every missing, unexpected and mis-shaped name together. Every loader (our
 * checkpoints, PyTorch conversions, Inception weights) goes through it, so all of them report a
 * mismatch the same way and all at once.
 */

/** A name -> shape table: a Map, or any iterable of [name, shape] pairs. */
export type ShapeTable =
  | ReadonlyMap<string, readonly number[]>
  | Iterable<readonly [string, readonly number[]]>;

export interface MisShapedWeight {
  name: string;
  /** Shape the model expects. */
  expected: number[];
  /** Shape the weight set holds. */
  got: number[];
}

export interface WeightMatch {
  /** Expected by the model, absent from the weight set (in the model's order). */
  missing: string[];
  /** In the weight set, not expected by the model (in the weight set's order). */
  unexpected: string[];
  misShaped: MisShapedWeight[];
}

export interface MatchWeightsOptions {
  /** Names that start with one of these are left out on both sides. */
  ignorePrefixes?: readonly string[];
  /** Names for which this returns true are left out on both sides. */
  ignore?: (name: string) => boolean;
}

function toMap(t: ShapeTable): ReadonlyMap<string, readonly number[]> {
  return t instanceof Map ? t : new Map(t as Iterable<readonly [string, readonly number[]]>);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Compares two shape tables; never throws. */
export function matchWeights(
  expected: ShapeTable,
  actual: ShapeTable,
  options: MatchWeightsOptions = {},
): WeightMatch {
  const prefixes = options.ignorePrefixes ?? [];
  const skip = (n: string) =>
    prefixes.some((p) => n.startsWith(p)) || (options.ignore ? options.ignore(n) : false);
  const want = toMap(expected);
  const have = toMap(actual);
  const missing: string[] = [];
  const misShaped: MisShapedWeight[] = [];
  for (const [name, shape] of want) {
    if (skip(name)) continue;
    const got = have.get(name);
    if (!got) missing.push(name);
    else if (!sameShape(shape, got)) misShaped.push({ name, expected: [...shape], got: [...got] });
  }
  const unexpected = [...have.keys()].filter((n) => !skip(n) && !want.has(n));
  return { missing, unexpected, misShaped };
}

export function weightsMatch(m: WeightMatch): boolean {
  return m.missing.length === 0 && m.unexpected.length === 0 && m.misShaped.length === 0;
}

function listNames(a: readonly string[], most = 12): string {
  return a.slice(0, most).join(', ') + (a.length > most ? `, ... (${a.length} in all)` : '');
}

/** A weight set that does not fit a model: every difference, listed at once. */
export class WeightMismatchError extends Error {
  override readonly name: string = 'WeightMismatchError';
  readonly missing: string[];
  readonly unexpected: string[];
  readonly misShaped: MisShapedWeight[];
  constructor(
    /** Where the weights came from (a path, or a description). */
    readonly source: string,
    match: WeightMatch,
    /** Appended to the message: what to do about it. */
    readonly hint = '',
  ) {
    const parts: string[] = [];
    if (match.missing.length)
      parts.push(`missing (the model has them, the weights do not): ${listNames(match.missing)}`);
    if (match.unexpected.length)
      parts.push(`unexpected (in the weights, not in the model): ${listNames(match.unexpected)}`);
    if (match.misShaped.length)
      parts.push(
        `wrong shape: ${listNames(match.misShaped.map((m) => `${m.name} [${m.got}] (expected [${m.expected}])`))}`,
      );
    super(
      `${source}: the weights do not match the model:\n  ${parts.join('\n  ')}${hint ? `\n${hint}` : ''}`,
    );
    this.missing = match.missing;
    this.unexpected = match.unexpected;
    this.misShaped = match.misShaped;
  }
}

/** matchWeights, throwing a WeightMismatchError naming `source` when anything differs. */
export function assertWeightsMatch(
  source: string,
  expected: ShapeTable,
  actual: ShapeTable,
  options: MatchWeightsOptions & { hint?: string } = {},
): void {
  const m = matchWeights(expected, actual, options);
  if (!weightsMatch(m)) throw new WeightMismatchError(source, m, options.hint);
}
