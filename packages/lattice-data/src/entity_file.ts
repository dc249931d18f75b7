/**
 * OpenKE / Fast-TransX `entity2id.txt`: the first line is the entity count (skipped, as EasyNLP's
 * `load_cn_dbpedia_word_list` does), then `name<TAB>id` per line. Each line is stripped of Python
 * whitespace at both ends and split on tabs; field 0 is the name, field 1 the id (kept as a string).
 * Later lines win for repeated names; single-character names are dropped from the matcher.
 */
import { checkOnBadRow, DataFormatError, type OnBadRow, type SkippedRow } from './errors';
import { LexiconBuilder, type LexiconBuilderOptions } from './lexicon_builder';
import type { Lexicon } from './lexicon_match';
import { fileSize, readLines, splitStrippedLine } from './lines';
import { type ProgressCallback, ProgressTracker } from './progress';
import { pyStrip } from './text_utils';

export interface LoadLexiconOptions extends LexiconBuilderOptions {
  /** Bad line (fewer than 2 fields, invalid UTF-8): throw (default) or skip and count. */
  onBadRow?: OnBadRow;
  onProgress?: ProgressCallback;
}

export interface LoadLexiconSummary {
  /** The count on the header line, if it was an integer. */
  declaredCount: number | undefined;
  /** Data lines read (after the header). */
  lines: number;
  /** Names stored in the matcher (distinct, at least 2 characters by default). */
  entries: number;
  /** Names dropped because they are a single character. */
  droppedSingleChar: number;
  /** Empty lines (ignored; EasyNLP would crash on them). */
  blank: number;
  skipped: number;
  /** The first skipped lines (at most 20). */
  skippedRows: SkippedRow[];
}

/** Reads `entity2id.txt` into a {@link Lexicon} (streaming; memory is the lexicon itself). */
export async function loadEntityLexicon(
  file: string,
  options: LoadLexiconOptions = {},
): Promise<{ lexicon: Lexicon; summary: LoadLexiconSummary }> {
  const onBadRow = checkOnBadRow(options.onBadRow);
  let builder: LexiconBuilder | undefined;
  const progress = new ProgressTracker('lexicon', options.onProgress, fileSize(file));
  const summary: LoadLexiconSummary = {
    declaredCount: undefined,
    lines: 0,
    entries: 0,
    droppedSingleChar: 0,
    blank: 0,
    skipped: 0,
    skippedRows: [],
  };
  const countBlank = () => {
    summary.blank++;
  };
  const bad = (line: number, reason: string, column?: number) => {
    if (onBadRow === 'error') {
      throw new DataFormatError({ file, line, ...(column ? { column } : {}) }, reason);
    }
    summary.skipped++;
    progress.skipped++;
    if (summary.skippedRows.length < 20)
      summary.skippedRows.push({ line, reason, ...(column ? { column } : {}) });
  };
  for await (const l of readLines(file, { onInvalidUtf8: 'yield' })) {
    progress.bytes = l.bytesRead;
    if (l.line === 1) {
      const head = l.text === undefined ? '' : pyStrip(l.text);
      if (/^[0-9]+$/.test(head)) summary.declaredCount = Number(head);
      // Size the table from the header count (capped, in case the header is wrong).
      const expected = Math.min(summary.declaredCount ?? 0, 1e8);
      builder = new LexiconBuilder({
        ...options,
        expectedEntries: options.expectedEntries ?? expected,
      });
      continue;
    }
    summary.lines++;
    progress.rows++;
    const fields = splitStrippedLine(l, countBlank, bad);
    if (!fields) continue;
    if (fields.length < 2) {
      bad(l.line, 'expected `name<TAB>id`, found no tab');
      continue;
    }
    const [name, id] = fields as [string, string];
    if (!builder!.add(name, id)) summary.droppedSingleChar++;
    progress.tick();
  }
  builder ??= new LexiconBuilder(options);
  summary.entries = builder.size;
  progress.finish();
  return { lexicon: builder.finish(), summary };
}
