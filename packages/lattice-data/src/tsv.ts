/**
 * Streaming readers and writers for ARTIST's TSV files (reference §1.1):
 *
 * | format       | columns                                                       |
 * |--------------|---------------------------------------------------------------|
 * | `text-image` | `idx \t text \t imgbase64` (train / val)                      |
 * | `text`       | `idx \t text` (test)                                          |
 * | `knowledge`  | `idx \t text \t lex_ids \t pos_s \t pos_e \t seq_len [\t imgbase64]` |
 * | `prediction` | `idx \t text \t gen_imgbase64` (one or more image columns)    |
 *
 * Lines are split on tabs exactly (no trimming) and end at `\n`, `\r\n` or `\r`. Memory is bounded
 * by one line. A bad row raises a {@link DataFormatError} naming file, line and column, or with
 * `onBadRow: 'skip'` is dropped and counted in `reader.summary`.
 */

import type { Rng } from '@artist-ts/core/rng';
import { AtomicFileStream } from './atomic_stream';
import {
  ConfigError,
  checkOnBadRow,
  DataFormatError,
  type OnBadRow,
  type SkippedRow,
} from './errors';
import {
  decodeImage,
  detectImageFormat,
  type ImagePixels,
  imageFromBase64,
  type PreprocessConfig,
} from './image';
import { base64Problem, decodeBase64, parseImageColumn } from './image_column';
import { formatKnowledgeLine, type LatticeColumns } from './knowledge';
import { fileSize, readLines } from './lines';
import { type ProgressCallback, ProgressTracker } from './progress';
import { buildCharVocab, type CharVocabOptions, type Vocab } from './tokenizer';

export type TsvFormat = 'text-image' | 'text' | 'knowledge' | 'prediction';
export const TSV_FORMATS: readonly TsvFormat[] = ['text-image', 'text', 'knowledge', 'prediction'];

export interface TextRow {
  idx: string;
  text: string;
}
export interface TextImageRow extends TextRow {
  /** The image column as written (base64, either alphabet). */
  imageBase64: string;
}
/** A knowledge TSV row: the text and its lattice's columns (see {@link Lattice}). */
export interface KnowledgeRow extends TextRow, LatticeColumns {
  imageBase64?: string;
}
export interface PredictionRow extends TextRow {
  /** Generated images (base64). EasyNLP's Python-list column (`['…', '…']`) is unpacked. */
  images: string[];
}

export interface RowOf {
  'text-image': TextImageRow;
  text: TextRow;
  knowledge: KnowledgeRow;
  prediction: PredictionRow;
}

/** A parsed row with its 1-based line number. */
export type Located<R> = R & { line: number };

export interface TsvReadOptions {
  /** Bad rows: throw (default) or skip and count. */
  onBadRow?: OnBadRow;
  /**
   * Check image columns: 'syntax' (base64 alphabet and length; default), 'magic' (also require
   * PNG/JPEG/WebP magic bytes), 'decode' (also decode every image fully: slow, catches truncated
   * and corrupt files), 'none'.
   */
  validateImages?: ImageValidation;
  /** Ignore empty lines (default true). */
  skipBlankLines?: boolean;
  onProgress?: ProgressCallback;
  /** Longest accepted line in bytes (default 256 MiB). */
  maxLineBytes?: number;
  /**
   * Rows of the entity table (TransE vectors) that knowledge rows index: every `lex_ids` item must
   * then be an integer in [0, entityCount). Unchecked when absent (ids stay strings, as written).
   */
  entityCount?: number;
}

export type ImageValidation = 'none' | 'syntax' | 'magic' | 'decode';

export interface TsvReadSummary {
  rows: number;
  blank: number;
  skipped: number;
  /** The first skipped rows (at most 20). */
  skippedRows: SkippedRow[];
  bytes: number;
}

const COLUMNS: Record<TsvFormat, string[]> = {
  'text-image': ['idx', 'text', 'imgbase64'],
  text: ['idx', 'text'],
  knowledge: ['idx', 'text', 'lex_ids', 'pos_s', 'pos_e', 'seq_len', 'imgbase64'],
  prediction: ['idx', 'text', 'gen_imgbase64'],
};

class RowError extends Error {
  constructor(
    readonly column: number,
    readonly field: string,
    reason: string,
  ) {
    super(reason);
  }
}

function parseInts(s: string, column: number, field: string): number[] {
  if (s === '') return [];
  const parts = s.split(' ');
  const out = new Array<number>(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (!/^-?[0-9]+$/.test(p))
      throw new RowError(column, field, `item ${i + 1} is not an integer: ${JSON.stringify(p)}`);
    out[i] = Number(p);
  }
  return out;
}

function checkImage(s: string, column: number, field: string, mode: ImageValidation): void {
  if (mode === 'none') return;
  const problem = base64Problem(s);
  if (problem) throw new RowError(column, field, problem);
  if (mode !== 'syntax' && !detectImageFormat(decodeBase64(s.slice(0, 64)))) {
    throw new RowError(column, field, 'not a PNG, JPEG or WebP image');
  }
}

/**
 * A wrong column count, located at the first missing column (named) or the first extra one, so
 * that the error reads `file:line:column (field): …`.
 */
function columnCountError(
  format: TsvFormat,
  n: number,
  min: number,
  max: number,
  expected: string,
): RowError {
  const missing = n < min;
  const column = missing ? n + 1 : max + 1;
  const field = missing ? COLUMNS[format][n]! : '';
  return new RowError(column, field, `expected ${expected}, got ${n}`);
}

function checkLexIds(lexIds: readonly string[], entityCount: number | undefined): void {
  if (entityCount === undefined) return;
  for (let i = 0; i < lexIds.length; i++) {
    const id = lexIds[i]!;
    if (!/^[0-9]+$/.test(id))
      throw new RowError(3, 'lex_ids', `item ${i + 1} is not an entity row: ${JSON.stringify(id)}`);
    if (Number(id) >= entityCount) {
      throw new RowError(
        3,
        'lex_ids',
        `item ${i + 1}: entity ${id} is beyond the entity table (${entityCount} rows)`,
      );
    }
  }
}

function parseRow(
  format: TsvFormat,
  f: string[],
  images: ImageValidation,
  entityCount: number | undefined,
): RowOf[TsvFormat] {
  const n = f.length;
  switch (format) {
    case 'text':
      if (n !== 2) throw columnCountError(format, n, 2, 2, '2 columns (idx, text)');
      return { idx: f[0]!, text: f[1]! };
    case 'text-image':
      if (n !== 3) throw columnCountError(format, n, 3, 3, '3 columns (idx, text, imgbase64)');
      checkImage(f[2]!, 3, 'imgbase64', images);
      return { idx: f[0]!, text: f[1]!, imageBase64: f[2]! };
    case 'prediction': {
      if (n < 3) {
        throw columnCountError(
          format,
          n,
          3,
          Number.POSITIVE_INFINITY,
          'at least 3 columns (idx, text, gen_imgbase64)',
        );
      }
      const imgs: string[] = [];
      for (let c = 2; c < n; c++) {
        let list: string[];
        try {
          list = parseImageColumn(f[c]!);
        } catch (err) {
          throw new RowError(c + 1, 'gen_imgbase64', (err as Error).message);
        }
        for (const s of list) checkImage(s, c + 1, 'gen_imgbase64', images);
        imgs.push(...list);
      }
      return { idx: f[0]!, text: f[1]!, images: imgs };
    }
    case 'knowledge': {
      if (n !== 6 && n !== 7) {
        throw columnCountError(
          format,
          n,
          6,
          7,
          '6 or 7 columns (idx, text, lex_ids, pos_s, pos_e, seq_len[, imgbase64])',
        );
      }
      const lexIds = f[2] === '' ? [] : f[2]!.split(' ');
      checkLexIds(lexIds, entityCount);
      const posS = parseInts(f[3]!, 4, 'pos_s');
      const posE = parseInts(f[4]!, 5, 'pos_e');
      if (!/^[0-9]+$/.test(f[5]!))
        throw new RowError(6, 'seq_len', `not a non-negative integer: ${JSON.stringify(f[5])}`);
      const seqLen = Number(f[5]);
      const expect = seqLen + lexIds.length;
      if (posS.length !== expect) {
        throw new RowError(
          4,
          'pos_s',
          `has ${posS.length} items, expected seq_len + len(lex_ids) = ${expect}`,
        );
      }
      if (posE.length !== expect) {
        throw new RowError(
          5,
          'pos_e',
          `has ${posE.length} items, expected seq_len + len(lex_ids) = ${expect}`,
        );
      }
      for (let i = 0; i < seqLen; i++) {
        if (posS[i] !== i)
          throw new RowError(4, 'pos_s', `item ${i + 1} should be ${i} (character position)`);
        if (posE[i] !== i)
          throw new RowError(5, 'pos_e', `item ${i + 1} should be ${i} (character position)`);
      }
      for (let k = seqLen; k < expect; k++) {
        const s = posS[k]!;
        const e = posE[k]!;
        if (s < 0 || s > e || e >= seqLen) {
          const [column, field] = s < 0 || s >= seqLen ? [4, 'pos_s'] : [5, 'pos_e'];
          throw new RowError(
            column,
            field,
            `entity ${k - seqLen + 1} span [${s}, ${e}] is outside [0, ${seqLen})`,
          );
        }
      }
      const row: KnowledgeRow = { idx: f[0]!, text: f[1]!, lexIds, posS, posE, seqLen };
      if (n === 7) {
        checkImage(f[6]!, 7, 'imgbase64', images);
        row.imageBase64 = f[6]!;
      }
      return row;
    }
  }
}

/**
 * Streaming reader: `for await (const row of new TsvReader(file, 'text-image')) …`; counts are in
 * `reader.summary` once the loop ends.
 */
export class TsvReader<F extends TsvFormat> implements AsyncIterable<Located<RowOf[F]>> {
  readonly summary: TsvReadSummary = { rows: 0, blank: 0, skipped: 0, skippedRows: [], bytes: 0 };
  private readonly onBadRow: OnBadRow;
  private readonly images: ImageValidation;

  constructor(
    readonly file: string,
    readonly format: F,
    private readonly options: TsvReadOptions = {},
  ) {
    if (!TSV_FORMATS.includes(format)) {
      throw new ConfigError(
        'format',
        `must be one of ${TSV_FORMATS.join(', ')}, got ${JSON.stringify(format)}`,
      );
    }
    this.onBadRow = checkOnBadRow(options.onBadRow);
    const ec = options.entityCount;
    if (ec !== undefined && !(Number.isInteger(ec) && ec >= 0)) {
      throw new ConfigError('entityCount', `must be a non-negative integer, got ${ec}`);
    }
    this.images = options.validateImages ?? 'syntax';
    if (!['none', 'syntax', 'magic', 'decode'].includes(this.images)) {
      throw new ConfigError('validateImages', `must be 'none', 'syntax', 'magic' or 'decode'`);
    }
  }

  private async decodeCheck(row: RowOf[F], line: number): Promise<DataFormatError | undefined> {
    for (const [column, field, b64] of imageCells(row as RowOf[TsvFormat])) {
      try {
        await decodeImage(decodeBase64(b64));
      } catch (e) {
        return new DataFormatError(
          { file: this.file, line, column, field },
          `undecodable image: ${(e as Error).message}`,
        );
      }
    }
    return undefined;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Located<RowOf[F]>> {
    const progress = new ProgressTracker('read', this.options.onProgress, fileSize(this.file));
    const s = this.summary;
    const skipBlank = this.options.skipBlankLines ?? true;
    const lines = readLines(this.file, {
      onInvalidUtf8: 'yield',
      ...(this.options.maxLineBytes ? { maxLineBytes: this.options.maxLineBytes } : {}),
    });
    for await (const l of lines) {
      progress.bytes = s.bytes = l.bytesRead;
      let err: DataFormatError | undefined;
      let row: RowOf[F] | undefined;
      if (l.text === undefined) {
        err = new DataFormatError({ file: this.file, line: l.line }, l.invalidUtf8!.message);
      } else if (l.text === '' && skipBlank) {
        s.blank++;
        continue;
      } else {
        try {
          row = parseRow(
            this.format,
            l.text.split('\t'),
            this.images,
            this.options.entityCount,
          ) as RowOf[F];
        } catch (e) {
          if (!(e instanceof RowError)) throw e;
          const loc = {
            file: this.file,
            line: l.line,
            ...(e.column ? { column: e.column, field: e.field } : {}),
          };
          err = new DataFormatError(loc, e.message);
        }
        if (row && this.images === 'decode') err = await this.decodeCheck(row, l.line);
      }
      if (err) {
        if (this.onBadRow === 'error') throw err;
        s.skipped++;
        progress.skipped++;
        if (s.skippedRows.length < 20) {
          s.skippedRows.push({
            line: err.line ?? l.line,
            reason: err.reason,
            ...(err.column ? { column: err.column } : {}),
            ...(err.field ? { field: err.field } : {}),
          });
        }
        continue;
      }
      s.rows++;
      progress.rows++;
      progress.tick();
      yield Object.assign(row!, { line: l.line });
    }
    progress.finish();
  }
}

/** Image columns of a parsed row: [1-based column, field name, base64]. */
function imageCells(row: RowOf[TsvFormat]): [number, string, string][] {
  if ('images' in row) return row.images.map((b, k) => [3 + k, 'gen_imgbase64', b]);
  if ('lexIds' in row)
    return row.imageBase64 === undefined ? [] : [[7, 'imgbase64', row.imageBase64]];
  if ('imageBase64' in row) return [[3, 'imgbase64', row.imageBase64]];
  return [];
}

/**
 * Decodes and transforms the image of a TSV row (ARTIST's `SmallestMaxSize` + crop, see
 * `preprocessImage`); a bad image raises a {@link DataFormatError} naming the file, line and column.
 */
export async function decodeRowImage(
  file: string,
  row: Located<TextImageRow | KnowledgeRow>,
  config: Partial<PreprocessConfig> = {},
  rng?: Rng,
): Promise<ImagePixels> {
  const cell = imageCells(row)[0];
  if (!cell) throw new DataFormatError({ file, line: row.line }, 'row has no image column');
  try {
    return await imageFromBase64(cell[2], config, rng);
  } catch (err) {
    throw new DataFormatError(
      { file, line: row.line, column: cell[0], field: cell[1] },
      `undecodable image: ${(err as Error).message}`,
    );
  }
}

/** Reads a whole TSV into memory (small files, tests). */
export async function readTsv<F extends TsvFormat>(
  file: string,
  format: F,
  options: TsvReadOptions = {},
): Promise<{ rows: Located<RowOf[F]>[]; summary: TsvReadSummary }> {
  const reader = new TsvReader(file, format, options);
  const rows: Located<RowOf[F]>[] = [];
  for await (const r of reader) rows.push(r);
  return { rows, summary: reader.summary };
}

/** The formats of EasyNLP's input TSVs (train, val, test, predict inputs). */
export type InputTsvFormat = 'text' | 'text-image' | 'knowledge';

/**
 * The input format of a TSV from its column count, as EasyNLP's files tell them apart: 2 `text`
 * (raw test), 3 `text-image` (raw train/val), 6 or 7 `knowledge` (`preprocess_data_knowl.py`'s
 * output, test or train/val). Undefined for any other count.
 */
export function detectTsvFormat(columns: number): InputTsvFormat | undefined {
  if (columns === 2) return 'text';
  if (columns === 3) return 'text-image';
  if (columns === 6 || columns === 7) return 'knowledge';
  return undefined;
}

export interface TsvCheckOptions extends TsvReadOptions {
  /** Every row must carry an image (train and val files): `text` files and 6-column knowledge rows are errors. */
  requireImages?: boolean;
  /** The formats accepted (default: all of {@link InputTsvFormat}). */
  formats?: readonly InputTsvFormat[];
}

/** What {@link checkTsv} found. */
export interface TsvCheck {
  file: string;
  format: InputTsvFormat;
  /** Whether the rows carry an image column (the same for every row). */
  images: boolean;
  rows: number;
  summary: TsvReadSummary;
}

const INPUT_COLUMNS: Record<InputTsvFormat, string> = {
  text: '2 (idx, text)',
  'text-image': '3 (idx, text, imgbase64)',
  knowledge: '6 or 7 (idx, text, lex_ids, pos_s, pos_e, seq_len[, imgbase64])',
};

/**
 * Validates a whole input TSV before any work starts, in either of EasyNLP's schemas: raw
 * (`idx, text[, imgbase64]`) or knowledge (`idx, text, lex_id, pos_s, pos_e, token_len[,
 * imgbase64]`), detected from the column count of the first row ({@link detectTsvFormat}). Every
 * row must then have the same columns; base64 images, integer `pos_s`/`pos_e` within the caption,
 * and (with `entityCount`) `lex_ids` within the entity table are checked as {@link TsvReader}
 * does. The first bad row raises a {@link DataFormatError} naming file:line:column (or, with
 * `onBadRow: 'skip'`, is counted in the summary). Reads the file once and keeps nothing.
 */
export async function checkTsv(file: string, options: TsvCheckOptions = {}): Promise<TsvCheck> {
  const formats = options.formats ?? (Object.keys(INPUT_COLUMNS) as InputTsvFormat[]);
  for (const f of formats) {
    if (!(f in INPUT_COLUMNS)) {
      throw new ConfigError(
        'formats',
        `must list formats among ${Object.keys(INPUT_COLUMNS).join(', ')}, got ${JSON.stringify(f)}`,
      );
    }
  }
  // The first non-blank line decides the format.
  let first: { line: number; columns: number } | undefined;
  for await (const l of readLines(file, { onInvalidUtf8: 'yield' })) {
    if (l.text === undefined)
      throw new DataFormatError({ file, line: l.line }, l.invalidUtf8!.message);
    if (l.text === '') continue;
    first = { line: l.line, columns: l.text.split('\t').length };
    break;
  }
  if (!first) throw new DataFormatError({ file, line: 1 }, 'the file has no rows');
  const expected = formats.map((f) => INPUT_COLUMNS[f]).join(', or ');
  const format = detectTsvFormat(first.columns);
  if (!format || !formats.includes(format)) {
    throw new DataFormatError(
      { file, line: first.line },
      `expected ${expected} columns, got ${first.columns}`,
    );
  }
  const images = format === 'text-image' || first.columns === 7;
  if (options.requireImages && !images) {
    throw new DataFormatError(
      { file, line: first.line },
      `no imgbase64 column (${first.columns} columns): training and validation files need an image on every row`,
    );
  }
  const reader = new TsvReader(file, format, options);
  const imageColumn = format === 'knowledge' ? 7 : 3;
  let rows = 0;
  for await (const row of reader) {
    // Knowledge rows parse with or without the image: all of them must agree with the first.
    if (format === 'knowledge' && 'imageBase64' in row !== images) {
      const err = new DataFormatError(
        { file, line: row.line, column: imageColumn, field: 'imgbase64' },
        images
          ? `no imgbase64 column, but line ${first.line} has one (every row needs the same columns)`
          : `an imgbase64 column, but line ${first.line} has none (every row needs the same columns)`,
      );
      if ((options.onBadRow ?? 'error') === 'error') throw err;
      const s = reader.summary;
      s.skipped++;
      if (s.skippedRows.length < 20) {
        s.skippedRows.push({
          line: row.line,
          column: imageColumn,
          field: 'imgbase64',
          reason: err.reason,
        });
      }
      continue;
    }
    rows++;
  }
  return { file, format, images, rows, summary: reader.summary };
}

/**
 * {@link checkTsv}, then a reader of the validated file in the detected format: the way to take
 * any of EasyNLP's input TSVs (raw or knowledge) knowing that nothing is read or written from a
 * file with a bad row.
 */
export async function openInputTsv(
  file: string,
  options: TsvCheckOptions = {},
): Promise<{ check: TsvCheck; reader: TsvReader<InputTsvFormat> }> {
  const check = await checkTsv(file, options);
  return { check, reader: new TsvReader(file, check.format, options) };
}

function checkCell(value: string, name: string): string {
  if (/[\t\n\r]/.test(value)) {
    throw new ConfigError(name, 'contains a tab or newline, which the TSV format cannot hold');
  }
  return value;
}

/**
 * Formats one row of `format` as a TSV line (no newline). A prediction row gives one line per
 * image, in EasyNLP's prediction schema `idx \t text \t gen_imgbase64`, joined by `\n`.
 */
export function formatRow<F extends TsvFormat>(format: F, row: RowOf[F]): string {
  const r = row as RowOf[TsvFormat];
  const head = `${checkCell(r.idx, 'idx')}\t${checkCell(r.text, 'text')}`;
  switch (format) {
    case 'text':
      return head;
    case 'text-image':
      return `${head}\t${checkCell((r as TextImageRow).imageBase64, 'imageBase64')}`;
    case 'prediction': {
      const imgs = (r as PredictionRow).images;
      if (imgs.length === 0)
        throw new ConfigError('images', 'a prediction row needs at least one image');
      return imgs.map((i) => `${head}\t${checkCell(i, 'images')}`).join('\n');
    }
    default: {
      const k = r as KnowledgeRow;
      if (k.imageBase64 !== undefined) checkCell(k.imageBase64, 'imageBase64');
      return formatKnowledgeLine({
        idx: r.idx,
        text: r.text,
        lattice: k,
        imageBase64: k.imageBase64,
      });
    }
  }
}

/**
 * Streaming TSV writer, atomic: rows go to a temporary file renamed over `file` by `close()`
 * (`abort()` discards), so a failure never leaves a partial file. Prediction rows are written in
 * EasyNLP's prediction schema (`idx, text, gen_imgbase64`), one line per image; `rows` counts lines.
 */
export class TsvWriter<F extends TsvFormat> {
  rows = 0;
  private buffer = '';

  private constructor(
    readonly file: string,
    readonly format: F,
    private readonly out: AtomicFileStream,
  ) {}

  static async open<F extends TsvFormat>(file: string, format: F): Promise<TsvWriter<F>> {
    if (!TSV_FORMATS.includes(format)) {
      throw new ConfigError(
        'format',
        `must be one of ${TSV_FORMATS.join(', ')}, got ${JSON.stringify(format)}`,
      );
    }
    return new TsvWriter(file, format, await AtomicFileStream.open(file));
  }

  async write(row: RowOf[F]): Promise<void> {
    this.buffer += `${formatRow(this.format, row)}\n`;
    this.rows += this.format === 'prediction' ? (row as PredictionRow).images.length : 1;
    if (this.buffer.length >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.buffer) await this.out.write(this.buffer);
    this.buffer = '';
  }

  async close(): Promise<void> {
    await this.flush();
    await this.out.close();
  }

  async abort(): Promise<void> {
    this.buffer = '';
    await this.out.abort();
  }
}

/** Writes all `rows` to `file` atomically. */
export async function writeTsv<F extends TsvFormat>(
  file: string,
  format: F,
  rows: Iterable<RowOf[F]> | AsyncIterable<RowOf[F]>,
): Promise<number> {
  const w = await TsvWriter.open(file, format);
  try {
    for await (const r of rows) await w.write(r);
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
  return w.rows;
}

export { COLUMNS as TSV_COLUMNS };

/**
 * Builds a character vocabulary from the `text` column of TSV files (any format), streaming. See
 * {@link buildCharVocab} for the layout and options.
 */
export async function buildCharVocabFromTsv(
  files: readonly { file: string; format: TsvFormat }[],
  options: CharVocabOptions & TsvReadOptions = {},
): Promise<{ vocab: Vocab; rows: number }> {
  const texts: string[] = [];
  let rows = 0;
  for (const { file, format } of files) {
    const reader = new TsvReader(file, format, { ...options, validateImages: 'none' });
    for await (const row of reader) {
      texts.push(row.text);
      rows++;
    }
  }
  return { vocab: buildCharVocab(texts, options), rows };
}
