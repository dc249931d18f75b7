/**
 * Errors raised on bad input. Every one names the file and where in it: in a text file the 1-based
 * line and, where it applies, the column (TSV field), so that a user can open the file at the right
 * place; in a binary file (protobuf shards, the lexicon file, offset tables) the record index and
 * the byte offset, never a line number.
 */

/** Where in a text file: `file:line[:column (field)]`. */
export interface TextLocation {
  /** File path as given by the caller (or a label such as `<memory>`). */
  file: string;
  /** 1-based line number. */
  line: number;
  /** 1-based TSV column (field) number, when the problem is inside one field. */
  column?: number;
  /** Name of that column (`imgbase64`, `pos_s` ...). */
  field?: string;
}

/** Where in a binary file: `file: record r, byte o (field)`; any part may be absent. */
export interface BinaryLocation {
  file: string;
  /** 0-based record index (a shard's protobuf record). */
  record?: number;
  /** Byte offset in the file. */
  offset?: number;
  /** Name of the part that is wrong (a header field, a section). */
  field?: string;
}

export type DataLocation = TextLocation | BinaryLocation;

/** `file:line:column (field)` or `file: record r, byte o (field)`. */
export function formatLocation(loc: DataLocation): string {
  if ('line' in loc && loc.line !== undefined) {
    const col =
      loc.column === undefined ? '' : `:${loc.column}${loc.field ? ` (${loc.field})` : ''}`;
    const field = loc.column === undefined && loc.field ? ` (${loc.field})` : '';
    return `${loc.file}:${loc.line}${col}${field}`;
  }
  const b = loc as BinaryLocation;
  const parts: string[] = [];
  if (b.record !== undefined) parts.push(`record ${b.record}`);
  if (b.offset !== undefined) parts.push(`byte ${b.offset}`);
  const where = parts.length > 0 ? `: ${parts.join(', ')}` : '';
  return `${b.file}${where}${b.field ? ` (${b.field})` : ''}`;
}

/**
 * Bad input data: wrong column count, bad base64, undecodable image, non-UTF-8 bytes, bad number,
 * a corrupt binary file.
 */
export class DataFormatError extends Error {
  readonly file: string;
  /** 1-based line (text files only). */
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly field: string | undefined;
  /** 0-based record index (binary files). */
  readonly record: number | undefined;
  /** Byte offset (binary files). */
  readonly offset: number | undefined;
  readonly reason: string;

  constructor(loc: DataLocation, reason: string) {
    super(`${formatLocation(loc)}: ${reason}`);
    this.name = 'DataFormatError';
    const t = loc as Partial<TextLocation> & Partial<BinaryLocation>;
    this.file = loc.file;
    this.line = t.line;
    this.column = t.column;
    this.field = t.field;
    this.record = t.record;
    this.offset = t.offset;
    this.reason = reason;
  }
}

/** A configuration value is wrong; names the field and the allowed values. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** What to do with a bad row: throw a {@link DataFormatError} (default) or skip it and count it. */
export type OnBadRow = 'error' | 'skip';

/** A skipped bad row, as reported in summaries (the first few are kept). */
export interface SkippedRow {
  line: number;
  column?: number;
  field?: string;
  reason: string;
}

export function checkOnBadRow(value: unknown, field = 'onBadRow'): OnBadRow {
  if (value === undefined) return 'error';
  if (value !== 'error' && value !== 'skip') {
    throw new ConfigError(field, `must be 'error' or 'skip', got ${JSON.stringify(value)}`);
  }
  return value;
}
