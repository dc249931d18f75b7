/**
 * A conversion plan: for every weight of the target model, which source key feeds it, with which
 * shape and layout change; plus the rules for source keys that are knowingly dropped. Applying a
 * plan checks everything at once with core's weight matcher (missing, unexpected and mis-shaped keys
 * are listed together) and accounts for every source key: used, ignored with a reason, or an error.
 */
import type { RawTensor } from '@artist-ts/core/trainer-state';
import {
  type MisShapedWeight,
  matchWeights,
  WeightMismatchError,
} from '@artist-ts/core/weight-match';
import { type ByteChunks, type StateDict, WritableTensor } from '@artist-ts/torch-files';
import {
  applyLayout,
  type LayoutTransform,
  oihwToHwio,
  transformedShape,
  transpose2d,
} from './layout';

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

const ALLOW_UNUSED_HINT =
  'to convert anyway and list the unexpected keys in the report, pass allowUnused (--allow-unused)';

/**
 * Everything that does not fit, listed at once: core's WeightMismatchError (missing, unexpected and
 * mis-shaped source keys) with a hint about the source and, when keys are unexpected, about
 * `allowUnused`.
 */
export class ConversionError extends WeightMismatchError {
  override readonly name = 'ConversionError';
  constructor(
    source: string,
    missing: string[],
    unexpected: string[],
    misShaped: MisShapedWeight[],
    hint = '',
  ) {
    const hints = [hint, unexpected.length ? ALLOW_UNUSED_HINT : ''].filter((h) => h !== '');
    super(source, { missing, unexpected, misShaped }, hints.join('\n'));
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
  const rowKeys = new Set(rows.map((r) => r.sourceKey));
  const inScope = (key: string) => options.scope === undefined || key.startsWith(options.scope);
  const ignored: { key: string; reason: string }[] = [];
  for (const key of sd.tensors.keys()) {
    if (rowKeys.has(key) || !inScope(key)) continue;
    const rule = ignore.find((g) => ruleMatches(g, key));
    if (rule) ignored.push({ key, reason: rule.reason });
  }
  const dropped = new Set(ignored.map((g) => g.key));
  const { missing, unexpected, misShaped } = matchWeights(
    rows.map((r) => [r.sourceKey, r.sourceShape] as const),
    [...sd.tensors].map(([key, t]) => [key, t.shape] as const),
    { ignore: (key) => !rowKeys.has(key) && (!inScope(key) || dropped.has(key)) },
  );
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

/** Our tensor back in the source layout: the inverse of applyLayout (`sourceShape`: the source's). */
export function undoLayout(
  data: Float32Array,
  sourceShape: readonly number[],
  t: LayoutTransform,
): Float32Array {
  if (t === 'linear_transpose') return transpose2d(data, [sourceShape[1], sourceShape[0]]);
  if (t === 'conv_oihw_to_hwio') {
    // HWIO [(kh kw), i, o] -> OIHW [o, i, (kh kw)]: the same tiled transpose, read as a
    // [(kh kw), i, o, 1] "kernel".
    const [co, ci, kh, kw] = sourceShape;
    return oihwToHwio(data, [kh * kw, ci, co, 1]);
  }
  return data;
}

/** Bytes of a float32 array (a view, no copy). */
function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * The inverse of applyPlan: our tensors (checked against the rows with core's weight matcher, all
 * misfits listed at once) -> source tensors by source key, in row order. Layout changes run lazily,
 * when a writer reaches the tensor, so only one converted copy exists at a time.
 */
export function invertPlan(
  source: string,
  tensors: Iterable<RawTensor>,
  rows: readonly MappingRow[],
  options: { allowUnused?: boolean; hint?: string } = {},
): { tensors: Map<string, WritableTensor>; unused: string[] } {
  const ours = new Map<string, RawTensor>();
  for (const t of tensors) ours.set(t.name, t);
  const m = matchWeights(
    rows.map((r) => [r.name, transformedShape(r.sourceShape, r.transform)] as const),
    [...ours].map(([name, t]) => [name, t.shape] as const),
  );
  if (m.missing.length || m.misShaped.length || (m.unexpected.length && !options.allowUnused)) {
    throw new ConversionError(
      source,
      m.missing,
      options.allowUnused ? [] : m.unexpected,
      m.misShaped,
      options.hint,
    );
  }
  const out = new Map<string, WritableTensor>();
  for (const r of rows) {
    const t = ours.get(r.name) as RawTensor;
    if (!(t.data instanceof Float32Array)) {
      throw new Error(`${source}: weight '${r.name}' must be float32, got ${t.dtype}`);
    }
    const data = t.data;
    const chunks: ByteChunks =
      r.transform === 'identity'
        ? [bytesOf(data)]
        : {
            *[Symbol.iterator]() {
              yield bytesOf(undoLayout(data, r.sourceShape, r.transform));
            },
          };
    out.set(
      r.sourceKey,
      new WritableTensor({ dtype: 'float32', shape: r.sourceShape, data: chunks }, r.sourceKey),
    );
  }
  return { tensors: out, unused: options.allowUnused ? m.unexpected : [] };
}
