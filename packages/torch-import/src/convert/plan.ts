/**
 * A conversion plan: for every weight of the target model, which source key feeds it, with which
 * shape and layout change; plus the rules for source keys that are knowingly dropped. Applying a
 * plan checks everything at once (missing, unexpected and mis-shaped keys are listed together) and
 * accounts for every source key: used, ignored with a reason, or an error.
 */
import type { RawTensor } from '@artist-ts/core/trainer-state';
import type { StateDict } from '@artist-ts/torch-files';
import { applyLayout, type LayoutTransform, transformedShape } from './layout';

export interface MappingRow {
  /** Our weight name. */
  name: string;
  /** Source state-dict key. */
  sourceKey: string;
  /** Expected source (PyTorch) shape. */
  sourceShape: number[];
  transform: LayoutTransform;
}

export interface IgnoreRule {
  /** Source keys this rule drops: a pattern or a predicate. */
  pattern: RegExp | ((key: string) => boolean);
  reason: string;
}

function ruleMatches(rule: IgnoreRule, key: string): boolean {
  return typeof rule.pattern === 'function' ? rule.pattern(key) : rule.pattern.test(key);
}

export interface ConversionReport {
  kind: string;
  /** Our tensors written. */
  tensors: number;
  parameters: number;
  used: { sourceKey: string; name: string; transform: LayoutTransform; sourceDType: string }[];
  /** Source keys dropped on purpose (buffers, training-only modules), with the reason. */
  ignored: { key: string; reason: string }[];
  /** Source keys left unused because `allowUnused` was set. */
  unused: string[];
}

/** Everything that does not fit, listed at once. */
export class ConversionError extends Error {
  override readonly name = 'ConversionError';
  constructor(
    readonly source: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly misShaped: { key: string; expected: number[]; got: number[] }[],
    readonly hint = '',
  ) {
    const list = (a: string[]) =>
      a.slice(0, 12).join(', ') + (a.length > 12 ? `, ... (${a.length} in all)` : '');
    const parts: string[] = [];
    if (missing.length) parts.push(`missing source keys: ${list(missing)}`);
    if (unexpected.length) parts.push(`source keys with no destination: ${list(unexpected)}`);
    if (misShaped.length) {
      parts.push(
        `wrong shapes: ${list(misShaped.map((m) => `${m.key} [${m.got}] (expected [${m.expected}])`))}`,
      );
    }
    super(
      `${source}: the checkpoint does not match the model (${parts.join('; ')})${hint ? `. ${hint}` : ''}`,
    );
  }
}

export interface ApplyOptions {
  kind: string;
  /** Leave source keys that no row uses and no rule ignores, instead of failing (they are listed). */
  allowUnused?: boolean;
  /** Only source keys starting with this are considered (others belong to another model). */
  scope?: string;
  hint?: string;
  onTensor?: (done: number, total: number, name: string) => void;
}

/**
 * Checks a plan against the state dict without reading any tensor data: returns the source keys
 * ignored by rule and those left unused; throws ConversionError listing every misfit.
 */
export function checkPlan(
  sd: StateDict,
  rows: readonly MappingRow[],
  ignore: readonly IgnoreRule[],
  options: ApplyOptions,
): { ignored: { key: string; reason: string }[]; unused: string[] } {
  const missing: string[] = [];
  const misShaped: { key: string; expected: number[]; got: number[] }[] = [];
  const usedKeys = new Set<string>();
  for (const r of rows) {
    const t = sd.tensors.get(r.sourceKey);
    usedKeys.add(r.sourceKey);
    if (!t) missing.push(r.sourceKey);
    else if (
      t.shape.length !== r.sourceShape.length ||
      t.shape.some((d, i) => d !== r.sourceShape[i])
    ) {
      misShaped.push({ key: r.sourceKey, expected: r.sourceShape, got: [...t.shape] });
    }
  }
  const ignored: { key: string; reason: string }[] = [];
  const unexpected: string[] = [];
  for (const key of sd.tensors.keys()) {
    if (usedKeys.has(key) || (options.scope !== undefined && !key.startsWith(options.scope)))
      continue;
    const rule = ignore.find((g) => ruleMatches(g, key));
    if (rule) ignored.push({ key, reason: rule.reason });
    else unexpected.push(key);
  }
  if (missing.length || misShaped.length || (unexpected.length && !options.allowUnused)) {
    throw new ConversionError(
      sd.file,
      missing,
      options.allowUnused ? [] : unexpected,
      misShaped,
      options.hint,
    );
  }
  return { ignored, unused: options.allowUnused ? unexpected : [] };
}

/** checkPlan, then converts every row (one source tensor in memory at a time, plus the outputs). */
export function applyPlan(
  sd: StateDict,
  rows: readonly MappingRow[],
  ignore: readonly IgnoreRule[],
  options: ApplyOptions,
): { tensors: RawTensor[]; report: ConversionReport } {
  const { ignored, unused } = checkPlan(sd, rows, ignore, options);
  const tensors: RawTensor[] = [];
  const used: ConversionReport['used'] = [];
  let parameters = 0;
  rows.forEach((r, i) => {
    const t = sd.tensors.get(r.sourceKey);
    if (!t) return;
    const data = applyLayout(t.toFloat32(), r.sourceShape, r.transform);
    tensors.push({
      name: r.name,
      shape: transformedShape(r.sourceShape, r.transform),
      dtype: 'float32',
      data,
    });
    used.push({
      sourceKey: r.sourceKey,
      name: r.name,
      transform: r.transform,
      sourceDType: t.dtype,
    });
    parameters += data.length;
    options.onTensor?.(i + 1, rows.length, r.name);
  });
  return {
    tensors,
    report: {
      kind: options.kind,
      tensors: tensors.length,
      parameters,
      used,
      ignored,
      unused,
    },
  };
}

/** Shape of a source tensor, or throws a ConversionError naming the key when absent. */
export function sourceShape(sd: StateDict, key: string, hint = ''): readonly number[] {
  const t = sd.tensors.get(key);
  if (!t) throw new ConversionError(sd.file, [key], [], [], hint);
  return t.shape;
}
