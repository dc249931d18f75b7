/**
 * The FLAT lattice of a caption and EasyNLP's knowledge TSV
 * (`examples/text2image_generation/preprocess_data_knowl.py`):
 * `idx \t text \t lex_ids \t pos_s \t pos_e \t seq_len [\t imgbase64]`, where `pos_s`/`pos_e` are
 * `0 1 … seq_len−1` followed by the start/end token of each matched entity, and `seq_len` is the
 * token count of the full, untruncated caption.
 */

import { AtomicFileStream } from './atomic_stream';
import { checkOnBadRow, DataFormatError, type OnBadRow, type SkippedRow } from './errors';
import type { EntityMatches, Lexicon } from './lexicon_match';
import { fileSize, readLines, splitStrippedLine } from './lines';
import { expandLattice, type NeighbourTable } from './neighbours';
import { type ProgressCallback, ProgressTracker } from './progress';
import type { BertTokenizer } from './tokenizer';

/** A caption's tokens plus its matched entities in EasyNLP's FLAT layout. */
export interface Lattice {
  /** WordPiece tokens of the full caption. */
  tokens: string[];
  /** `tokens.length` (EasyNLP `seq_len`, the run script's `token_len`). */
  seqLen: number;
  /** Entity ids of the matches, in match order (start, then end), as written in entity2id.txt. */
  lexIds: string[];
  /** `0 … seqLen−1`, then the start token of each match. */
  posS: number[];
  /** `0 … seqLen−1`, then the inclusive end token of each match. */
  posE: number[];
}

/**
 * A {@link Lattice} as EasyNLP's knowledge TSV stores it: without the tokens (the columns
 * `lex_ids, pos_s, pos_e, seq_len`). A knowledge TSV row ({@link KnowledgeRow}) is its text plus
 * these fields, so there is one lattice type, whichever side it comes from.
 */
export type LatticeColumns = Omit<Lattice, 'tokens'>;

/** Matches `tokens` against `lexicon` and lays the result out as EasyNLP does. */
export function latticeOfTokens(tokens: string[], lexicon: Lexicon): Lattice {
  return layoutLattice(tokens, lexicon.matchTokens(tokens));
}

/** Tokenizes `text` with `tokenizer` and builds its lattice. */
export function latticeOf(text: string, tokenizer: BertTokenizer, lexicon: Lexicon): Lattice {
  return latticeOfTokens(tokenizer.tokenize(text), lexicon);
}

/**
 * {@link latticeOfTokens} of many token sequences with one batched match
 * ({@link Lexicon.matchTokensBatch}): the same lattices, faster on big lexicons.
 */
export function latticesOfTokens(tokenLists: string[][], lexicon: Lexicon): Lattice[] {
  const matches = lexicon.matchTokensBatch(tokenLists);
  return tokenLists.map((tokens, b) => layoutLattice(tokens, matches[b]!));
}

/** {@link latticeOf} of many texts with one batched match. */
export function latticesOf(
  texts: readonly string[],
  tokenizer: BertTokenizer,
  lexicon: Lexicon,
): Lattice[] {
  return latticesOfTokens(
    texts.map((t) => tokenizer.tokenize(t)),
    lexicon,
  );
}

function layoutLattice(tokens: string[], m: EntityMatches): Lattice {
  const seqLen = tokens.length;
  const posS: number[] = new Array(seqLen + m.starts.length);
  const posE: number[] = new Array(seqLen + m.starts.length);
  for (let i = 0; i < seqLen; i++) {
    posS[i] = i;
    posE[i] = i;
  }
  for (let k = 0; k < m.starts.length; k++) {
    posS[seqLen + k] = m.starts[k]!;
    posE[seqLen + k] = m.ends[k]!;
  }
  return { tokens, seqLen, lexIds: m.ids, posS, posE };
}

/** Entity spans of a lattice (the part of pos_s/pos_e after the characters). */
export function entitySpans(lattice: Pick<LatticeColumns, 'seqLen' | 'posS' | 'posE'>): {
  starts: number[];
  ends: number[];
} {
  return { starts: lattice.posS.slice(lattice.seqLen), ends: lattice.posE.slice(lattice.seqLen) };
}

/** One knowledge TSV line, without its newline. */
export function formatKnowledgeLine(row: {
  idx: string;
  text: string;
  lattice: LatticeColumns;
  imageBase64?: string | undefined;
}): string {
  const { lattice: l } = row;
  const cols = [
    row.idx,
    row.text,
    l.lexIds.join(' '),
    l.posS.join(' '),
    l.posE.join(' '),
    String(l.seqLen),
  ];
  if (row.imageBase64 !== undefined) cols.push(row.imageBase64);
  return cols.join('\t');
}

/**
 * EasyNLP's `words_mat` (§1.5 of the reference): an int32 `[entityNum, textLen]` matrix, zero
 * everywhere, where slot i holds entity id i over its span `s_i … e_i` (inclusive, clipped to
 * `textLen`) for the first `entityNum` matches. Note that 0 is also a real entity id in EasyNLP.
 */
export function wordsMatrix(
  lexIds: ArrayLike<number>,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  { entityNum = 10, textLen = 32 }: { entityNum?: number; textLen?: number } = {},
): Int32Array {
  const m = new Int32Array(entityNum * textLen); // [entityNum, textLen]
  const n = Math.min(entityNum, lexIds.length);
  for (let i = 0; i < n; i++) {
    const e = Math.min(ends[i]!, textLen - 1);
    for (let c = Math.max(0, starts[i]!); c <= e; c++) m[i * textLen + c] = lexIds[i]!;
  }
  return m;
}

/** Rows of {@link writeKnowledgeTsv} matched together. */
const KNOWLEDGE_BATCH_ROWS = 64;

export interface KnowledgeTsvOptions {
  /** Input TSV: `idx\ttext` or `idx\ttext\timgbase64` lines. */
  input: string;
  /** Output knowledge TSV (written atomically). */
  output: string;
  tokenizer: BertTokenizer;
  lexicon: Lexicon;
  /** One-hop knowledge expansion: each match's KG neighbours join its span ({@link expandLattice}). */
  neighbours?: NeighbourTable;
  /**
   * A line without 2 or 3 fields (after Python `strip()`), or with invalid UTF-8: 'error' throws
   * naming the file and line (default); 'skip' drops it and counts it, which is what EasyNLP's
   * preprocessor does silently. Empty lines are always ignored.
   */
  onBadRow?: OnBadRow;
  onProgress?: ProgressCallback;
}

export interface KnowledgeTsvSummary {
  rows: number;
  withImage: number;
  blank: number;
  skipped: number;
  skippedRows: SkippedRow[];
  /** Total matched entities over all rows. */
  entities: number;
  /** Rows whose caption has more than 32 tokens (truncated later at training time). */
  longCaptions: number;
}

/**
 * Converts a T2I TSV into the knowledge TSV, byte for byte as EasyNLP's `preprocess_data_knowl.py`
 * does: each line is Python-`strip()`ped and split on tabs; lines of 2 or 3 fields are kept; the
 * caption is BERT-tokenized; all lexicon matches are listed; lines end with `\n`.
 */
export async function writeKnowledgeTsv(
  options: KnowledgeTsvOptions,
): Promise<KnowledgeTsvSummary> {
  const onBadRow = checkOnBadRow(options.onBadRow);
  const { input, tokenizer, lexicon } = options;
  const progress = new ProgressTracker('knowledge', options.onProgress, fileSize(input));
  const summary: KnowledgeTsvSummary = {
    rows: 0,
    withImage: 0,
    blank: 0,
    skipped: 0,
    skippedRows: [],
    entities: 0,
    longCaptions: 0,
  };
  const out = await AtomicFileStream.open(options.output);
  const countBlank = () => {
    summary.blank++;
  };
  const bad = (line: number, reason: string) => {
    if (onBadRow === 'error') throw new DataFormatError({ file: input, line }, reason);
    summary.skipped++;
    progress.skipped++;
    if (summary.skippedRows.length < 20) summary.skippedRows.push({ line, reason });
  };
  try {
    let batch = '';
    // Rows are matched in groups (one batched match each: the lexicon interleaves their walks).
    let pending: { idx: string; text: string; image: string | undefined }[] = [];
    const flush = async () => {
      const lattices = latticesOf(
        pending.map((r) => r.text),
        tokenizer,
        lexicon,
      );
      for (let k = 0; k < pending.length; k++) {
        const { idx, text, image } = pending[k]!;
        const lattice = options.neighbours
          ? expandLattice(lattices[k]!, options.neighbours)
          : lattices[k]!;
        batch += `${formatKnowledgeLine({ idx, text, lattice, imageBase64: image })}\n`;
        summary.rows++;
        summary.entities += lattice.lexIds.length;
        if (image !== undefined) summary.withImage++;
        if (lattice.seqLen > tokenizer.config.textLen) summary.longCaptions++;
        progress.rows++;
      }
      pending = [];
      if (batch.length >= 1 << 20) {
        await out.write(batch);
        batch = '';
      }
      progress.tick();
    };
    for await (const l of readLines(input, { onInvalidUtf8: 'yield' })) {
      progress.bytes = l.bytesRead;
      const fields = splitStrippedLine(l, countBlank, bad);
      if (!fields) continue;
      if (fields.length !== 2 && fields.length !== 3) {
        bad(
          l.line,
          `expected 2 (idx, text) or 3 (idx, text, imgbase64) columns, got ${fields.length}`,
        );
        continue;
      }
      const [idx, text, image] = fields as [string, string, string | undefined];
      pending.push({ idx, text, image });
      if (pending.length === KNOWLEDGE_BATCH_ROWS) await flush();
    }
    if (pending.length > 0) await flush();
    if (batch) await out.write(batch);
    await out.close();
  } catch (err) {
    await out.abort();
    throw err;
  }
  progress.finish();
  return summary;
}
