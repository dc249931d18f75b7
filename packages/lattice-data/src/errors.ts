/**
 * Errors raised on bad input. Every one names the file, the 1-based line and, where it applies, the
 * column (TSV field) so that a user can open the file at the right place.
 */

export interface DataLocation {
  /** File path as given by the caller (or a label such as `<memory>`). */
  file: string;
  /** 1-based line number. */
  line: number;
  /** 1-based TSV column (field) number, when the problem is inside one field. */
  column?: number;
  /** Name of that column (`imgbase64`, `pos_s` ...). */
  field?: string;
}

/** Bad input data: wrong column count, bad base64, undecodable image, non-UTF-8 bytes, bad number. */
export class DataFormatError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: number | undefined;
  readonly field: string | undefined;
  readonly reason: string;

  constructor(loc: DataLocation, reason: string) {
    const col =
      loc.column === undefined ? '' : `:${loc.column}${loc.field ? ` (${loc.field})` : ''}`;
    super(`${loc.file}:${loc.line}${col}: ${reason}`);
    this.name = 'DataFormatError';
    this.file = loc.file;
    this.line = loc.line;
    this.column = loc.column;
    this.field = loc.field;
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
