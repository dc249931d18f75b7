/**
 * The protocol fingerprint: everything that makes two FID numbers comparable or not (feature
 * network and a hash of its weights, resize filter, image size, sample counts, dtype, eps).
 * Does not load tfjs.
 */

/** How a set of features was produced. Two statistics are comparable only if these agree. */
export interface FeatureProtocol {
  /** Extractor id, e.g. `pytorch-fid-inception-v3-pool3` or `nsfwjs-inception-v3-avgpool`. */
  extractor: string;
  /** `sha256:<hex>` of the extractor weights (names, shapes and bytes), or `unknown`. */
  weightsHash: string;
  /** Feature dimension d. */
  featureDim: number;
  /** Side of the square network input after resizing, e.g. 299. */
  imageSize: number;
  /** Resize filter, e.g. `bilinear(half-pixel,no-antialias)`. */
  resize: string;
  /** Whether scores are comparable with published FIDs (pytorch-fid weights only). */
  comparableWithPublished: boolean;
}

/** Thrown when two statistics come from different protocols (their FID would be meaningless). */
export class ProtocolMismatchError extends Error {
  constructor(
    readonly field: keyof FeatureProtocol,
    readonly a: unknown,
    readonly b: unknown,
  ) {
    super(
      `statistics were computed with different protocols: ${String(field)} is '${String(a)}' vs '${String(b)}' ` +
        '(pass allowProtocolMismatch: true to compare anyway)',
    );
    this.name = 'ProtocolMismatchError';
  }
}

const COMPARED_FIELDS: (keyof FeatureProtocol)[] = [
  'extractor',
  'weightsHash',
  'featureDim',
  'imageSize',
  'resize',
];

/** The first differing field of two protocols, or null when they agree. */
export function protocolDifference(
  a: FeatureProtocol,
  b: FeatureProtocol,
): { field: keyof FeatureProtocol; a: unknown; b: unknown } | null {
  for (const f of COMPARED_FIELDS) if (a[f] !== b[f]) return { field: f, a: a[f], b: b[f] };
  return null;
}

/** Checks a protocol read from a file; the error names the bad field. */
export function validateFeatureProtocol(p: unknown, where = 'protocol'): FeatureProtocol {
  if (typeof p !== 'object' || p === null) throw new TypeError(`${where}: expected an object`);
  const o = p as Record<string, unknown>;
  for (const f of ['extractor', 'weightsHash', 'resize'] as const) {
    if (typeof o[f] !== 'string' || (o[f] as string).length === 0) {
      throw new TypeError(
        `${where}.${f}: expected a non-empty string, got ${JSON.stringify(o[f])}`,
      );
    }
  }
  for (const f of ['featureDim', 'imageSize'] as const) {
    if (!Number.isInteger(o[f]) || (o[f] as number) <= 0) {
      throw new TypeError(
        `${where}.${f}: expected a positive integer, got ${JSON.stringify(o[f])}`,
      );
    }
  }
  if (typeof o['comparableWithPublished'] !== 'boolean') {
    throw new TypeError(`${where}.comparableWithPublished: expected a boolean`);
  }
  return {
    extractor: o['extractor'] as string,
    weightsHash: o['weightsHash'] as string,
    featureDim: o['featureDim'] as number,
    imageSize: o['imageSize'] as number,
    resize: o['resize'] as string,
    comparableWithPublished: o['comparableWithPublished'] as boolean,
  };
}

/** Everything a score depends on, printed next to every FID/KID value. */
export interface ScoreFingerprint {
  metric: 'FID' | 'KID';
  /** Protocol of the first set (null for bare mu/sigma without provenance). */
  protocol: FeatureProtocol | null;
  /** Sample counts of the two sets (null when unknown, e.g. an external `.npz`). */
  counts: [number | null, number | null];
  dtype: 'float64';
  /** FID only: whether eps*I was added to both covariances. */
  epsUsed?: boolean;
  eps?: number;
  /** KID only: subsets x subset size. */
  subsets?: number;
  subsetSize?: number;
}

function shortHash(h: string): string {
  const m = /^sha256:([0-9a-f]+)$/.exec(h);
  return m ? `sha256:${m[1]!.slice(0, 12)}` : h;
}

/** One line, e.g. `FID[nsfwjs-inception-v3-avgpool sha256:1a2b.. 299px bilinear(...) n=256/256 d=2048 float64 eps=no; NOT comparable with published FID]`. */
export function formatFingerprint(f: ScoreFingerprint): string {
  const parts: string[] = [];
  if (f.protocol) {
    parts.push(
      f.protocol.extractor,
      `weights=${shortHash(f.protocol.weightsHash)}`,
      `size=${f.protocol.imageSize}`,
      `resize=${f.protocol.resize}`,
    );
  } else {
    parts.push('extractor=unknown');
  }
  const c = f.counts.map((x) => (x === null ? '?' : String(x)));
  parts.push(`n=${c[0]}/${c[1]}`);
  if (f.protocol) parts.push(`d=${f.protocol.featureDim}`);
  parts.push(`dtype=${f.dtype}`);
  if (f.metric === 'FID') parts.push(f.epsUsed ? `eps=${f.eps}` : 'eps=no');
  if (f.metric === 'KID') parts.push(`subsets=${f.subsets}x${f.subsetSize}`);
  const comparable = f.protocol?.comparableWithPublished
    ? 'comparable with pytorch-fid'
    : 'NOT comparable with published scores';
  return `${f.metric}[${parts.join(' ')}; ${comparable}]`;
}
