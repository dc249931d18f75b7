/**
 * Config trees: a user's JSON merged over the resolved defaults, where the defaults are the schema.
 * Unknown keys and values of the wrong type are errors that name the dotted field; `--set a.b=v`
 * overrides parse `v` as JSON when it can and as a string otherwise.
 */
import { createHash } from 'node:crypto';

export type ConfigValue = null | boolean | number | string | ConfigValue[] | ConfigObject;
export interface ConfigObject {
  [key: string]: ConfigValue;
}

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    /** What is wrong with the field (the message without the source and field). */
    readonly detail: string,
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}config field '${field}': ${detail}`);
    this.name = 'ConfigError';
  }
}

function isObject(v: unknown): v is ConfigObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Closest key by edit distance, for "did you mean" hints. */
function suggest(key: string, options: string[]): string | null {
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const o of options) {
    const d = editDistance(key.toLowerCase(), o.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

/**
 * Merges `user` over `defaults`. Every key of `user` must exist in `defaults` with a value of the
 * same kind (numbers for numbers, arrays for arrays...); a default of `null` accepts anything.
 */
export function mergeConfig<T extends ConfigObject>(
  defaults: T,
  user: unknown,
  source?: string,
  prefix = '',
): T {
  if (!isObject(user)) {
    throw new ConfigError(prefix || '(root)', `must be an object, got ${kindOf(user)}`, source);
  }
  const out: ConfigObject = structuredClone(defaults);
  for (const [key, value] of Object.entries(user)) {
    const field = prefix ? `${prefix}.${key}` : key;
    if (!(key in defaults)) {
      const hint = suggest(key, Object.keys(defaults));
      throw new ConfigError(
        field,
        `unknown key${hint ? ` (did you mean '${hint}'?)` : ''}; known keys: ${Object.keys(defaults).join(', ')}`,
        source,
      );
    }
    const def = defaults[key];
    if (def === null || value === null) {
      out[key] = value as ConfigValue;
    } else if (isObject(def)) {
      out[key] = mergeConfig(def, value, source, field);
    } else if (kindOf(def) !== kindOf(value)) {
      throw new ConfigError(
        field,
        `must be ${kindOf(def)}, got ${kindOf(value)} ${JSON.stringify(value)}`,
        source,
      );
    } else {
      out[key] = structuredClone(value) as ConfigValue;
    }
  }
  return out as T;
}

/** Parses `a.b.c=value` into a nested object `{a: {b: {c: value}}}`. */
export function parseOverride(text: string): ConfigObject {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ConfigError(text, "override must look like 'section.key=value'");
  const path = text.slice(0, eq).split('.');
  const raw = text.slice(eq + 1);
  let value: ConfigValue;
  try {
    value = JSON.parse(raw) as ConfigValue;
  } catch {
    value = raw;
  }
  if (path.some((p) => p.length === 0)) throw new ConfigError(text, 'empty key in dotted path');
  const root: ConfigObject = {};
  let node = root;
  for (const p of path.slice(0, -1)) {
    const next: ConfigObject = {};
    node[p] = next;
    node = next;
  }
  node[path[path.length - 1]] = value;
  return root;
}

/** JSON with sorted keys: equal configs give equal text, whatever the key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function hashConfig(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex');
}

/** Reads a dotted field, e.g. getDotted(cfg, 'gpt.nLayer'). */
export function getDotted(obj: ConfigObject, dotted: string): ConfigValue | undefined {
  let node: ConfigValue | undefined = obj;
  for (const p of dotted.split('.')) {
    if (!isObject(node)) return undefined;
    node = node[p];
  }
  return node;
}
