/** Reader options: bounds that keep hostile files from allocating or looping without end. */
export interface ReaderOptions {
  /** Largest pickle stream accepted, in bytes (data.pkl or a legacy file's pickles). */
  maxPickleBytes: number;
  /** Largest element count of one tensor or storage. */
  maxTensorElements: number;
  /** Largest sum of all storage sizes in bytes. */
  maxTotalBytes: number;
  /** Largest number of tensors in a file. */
  maxTensors: number;
  /** Largest container nesting depth in the pickle. */
  maxDepth: number;
  /** Largest safetensors JSON header, in bytes. */
  maxHeaderBytes: number;
  /**
   * Extra pickle globals ("module.name", or "module.*") accepted as inert objects: they are never
   * called, their arguments and state are only recorded. Use for metadata classes in training
   * checkpoints (e.g. 'pytorch_lightning.*'); tensors inside them still load.
   */
  allowGlobals: string[];
}

export const DEFAULT_READER_OPTIONS: Readonly<ReaderOptions> = Object.freeze({
  maxPickleBytes: 256 * 1024 * 1024,
  maxTensorElements: 2 ** 31 - 1,
  maxTotalBytes: 16 * 1024 ** 3,
  maxTensors: 1_000_000,
  maxDepth: 1000,
  maxHeaderBytes: 100 * 1024 * 1024,
  allowGlobals: [],
});

function positiveInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new Error(`ReaderOptions.${field}: expected a positive safe integer, got ${String(v)}`);
  }
  return v;
}

/** Copies, fills defaults, and throws naming the bad field. */
export function validateReaderOptions(options: Partial<ReaderOptions> = {}): ReaderOptions {
  const o = { ...DEFAULT_READER_OPTIONS, ...options };
  const known = new Set(Object.keys(DEFAULT_READER_OPTIONS));
  for (const k of Object.keys(options)) {
    if (!known.has(k)) {
      throw new Error(`ReaderOptions.${k}: unknown option; allowed: ${[...known].join(', ')}`);
    }
  }
  const allow = o.allowGlobals;
  if (
    !Array.isArray(allow) ||
    !allow.every((g) => typeof g === 'string' && /^[\w.]+(\.\*)?$/.test(g))
  ) {
    throw new Error(
      `ReaderOptions.allowGlobals: expected names like 'module.Class' or 'module.*', got ${JSON.stringify(allow)}`,
    );
  }
  return {
    maxPickleBytes: positiveInt(o.maxPickleBytes, 'maxPickleBytes'),
    maxTensorElements: positiveInt(o.maxTensorElements, 'maxTensorElements'),
    maxTotalBytes: positiveInt(o.maxTotalBytes, 'maxTotalBytes'),
    maxTensors: positiveInt(o.maxTensors, 'maxTensors'),
    maxDepth: positiveInt(o.maxDepth, 'maxDepth'),
    maxHeaderBytes: positiveInt(o.maxHeaderBytes, 'maxHeaderBytes'),
    allowGlobals: [...allow],
  };
}
