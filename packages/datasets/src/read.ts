/**
 * Reading built datasets back: EasyNLP TSV rows (`idx\ttext\timgbase64`), the meta sidecar, and
 * prediction TSVs (`idx\ttext\tgen_imgbase64`, where EasyNLP writes a Python-list repr of images).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseImageColumn } from '@artist-ts/lattice-data';
import type { SplitName } from './output';

export interface TsvRow {
  idx: string;
  text: string;
  /** Every image of the row (one for data TSVs; one or more for prediction TSVs). */
  images: string[];
  /** 1-based line number in the file. */
  line: number;
}

/**
 * Parses column 3 with lattice-data's EasyNLP image-column parser: plain base64, or a Python/JSON
 * list of base64 strings. Errors start with `where` (`file:line`).
 */
export function parseImageCell(cell: string, where: string): string[] {
  try {
    return parseImageColumn(cell.trim());
  } catch (err) {
    throw new Error(`${where}: image column: ${(err as Error).message}`);
  }
}

/** Reads an EasyNLP TSV with images (`idx\ttext\timgbase64` or a prediction file). */
export function readImageTsv(file: string): TsvRow[] {
  const text = fs.readFileSync(file, 'utf8');
  const rows: TsvRow[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length === 0) return;
    const cols = line.split('\t');
    if (cols.length < 3) {
      throw new Error(
        `${file}:${i + 1}: expected 3 tab-separated columns (idx, text, image), got ${cols.length}`,
      );
    }
    rows.push({
      idx: cols[0],
      text: cols[1],
      images: parseImageCell(cols[2], `${file}:${i + 1}:3`),
      line: i + 1,
    });
  });
  return rows;
}

/** Reads `<split>.meta.tsv` into idx -> {column: value}. */
export function readMeta(dir: string, split: SplitName): Map<string, Record<string, string>> {
  const file = path.join(dir, `${split}.meta.tsv`);
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  if (lines.length === 0) throw new Error(`${file}:1: missing header line`);
  const header = lines[0].split('\t');
  if (header[0] !== 'idx')
    throw new Error(`${file}:1: first column must be "idx", got "${header[0]}"`);
  const out = new Map<string, Record<string, string>>();
  lines.slice(1).forEach((l, i) => {
    const cols = l.split('\t');
    if (cols.length !== header.length) {
      throw new Error(`${file}:${i + 2}: expected ${header.length} columns, got ${cols.length}`);
    }
    const rec: Record<string, string> = {};
    header.forEach((h, k) => {
      if (k > 0) rec[h] = cols[k];
    });
    out.set(cols[0], rec);
  });
  return out;
}
