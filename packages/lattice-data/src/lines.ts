/**
 * Streaming line reader with bounded memory. Lines end at `\n`, `\r\n` or a lone `\r` (Python's
 * universal newlines, which is how EasyNLP's scripts read their files). Each line is decoded as strict
 * UTF-8; invalid bytes raise a {@link DataFormatError} naming the file, the line and the byte column.
 */
import fs from 'node:fs';
import { DataFormatError } from './errors';
import { pyStrip } from './text_utils';

export interface RawLine {
  /** 1-based line number. */
  line: number;
  /** Decoded text without its terminator. */
  text: string;
  /** Bytes consumed up to the end of this line's terminator. */
  bytesRead: number;
}

export interface ReadLinesOptions {
  /** Longest accepted line in bytes (default 256 MiB); longer raises (a file with no newlines). */
  maxLineBytes?: number;
  /** Read chunk size in bytes (default 1 MiB). */
  chunkBytes?: number;
  /**
   * What to do with a line that is not valid UTF-8: 'error' throws (default); 'yield' hands it on
   * with `text` undefined and `invalidUtf8` set, so the caller can count and skip it.
   */
  onInvalidUtf8?: 'error' | 'yield';
}

export interface LineOrInvalid extends Omit<RawLine, 'text'> {
  text: string | undefined;
  /** Set when the line was not valid UTF-8: the 1-based byte column of the first bad byte. */
  invalidUtf8?: { byteColumn: number; message: string };
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** 0-based offset of the first byte that does not start a valid UTF-8 sequence, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need > n - 1) return i;
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

function decodeLine(bytes: Uint8Array): string | { byteColumn: number; message: string } {
  try {
    return decoder.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const byteColumn = Math.max(at, 0) + 1;
    return { byteColumn, message: `invalid UTF-8 at byte ${byteColumn} of the line` };
  }
}

/**
 * Yields the lines of `file` one at a time. A UTF-8 byte-order mark at the start is dropped. The
 * last line may lack a terminator; an empty file yields nothing, a file ending in a newline does not
 * yield a final empty line.
 */
export async function* readLines(
  file: string,
  options: ReadLinesOptions = {},
): AsyncGenerator<LineOrInvalid> {
  const maxLineBytes = options.maxLineBytes ?? 256 * 1024 * 1024;
  const onInvalid = options.onInvalidUtf8 ?? 'error';
  const stream = fs.createReadStream(file, { highWaterMark: options.chunkBytes ?? 1 << 20 });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNo = 0;
  let consumed = 0;
  let lastWasCR = false;

  const emit = (bytes: Buffer): LineOrInvalid => {
    lineNo++;
    if (
      lineNo === 1 &&
      bytes.length >= 3 &&
      bytes[0] === 0xef &&
      bytes[1] === 0xbb &&
      bytes[2] === 0xbf
    ) {
      bytes = bytes.subarray(3);
    }
    const text = decodeLine(bytes);
    if (typeof text === 'string') return { line: lineNo, text, bytesRead: consumed };
    if (onInvalid === 'error') throw new DataFormatError({ file, line: lineNo }, text.message);
    return { line: lineNo, text: undefined, invalidUtf8: text, bytesRead: consumed };
  };

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== 0x0a && b !== 0x0d) continue;
      if (b === 0x0a && lastWasCR && i === start && pendingBytes === 0) {
        // The \n of a \r\n pair split across the previous terminator.
        lastWasCR = false;
        start = i + 1;
        consumed += 1;
        continue;
      }
      const part = chunk.subarray(start, i);
      let bytes: Buffer;
      if (pendingBytes > 0) {
        pending.push(part);
        bytes = Buffer.concat(pending, pendingBytes + part.length);
        pending = [];
        pendingBytes = 0;
      } else bytes = part;
      if (bytes.length > maxLineBytes) {
        throw new DataFormatError(
          { file, line: lineNo + 1 },
          `line longer than maxLineBytes=${maxLineBytes}`,
        );
      }
      consumed += bytes.length + 1;
      lastWasCR = b === 0x0d;
      start = i + 1;
      yield emit(bytes);
    }
    if (start < chunk.length) {
      // A \n right after a \r that ended the previous chunk belongs to that terminator.
      const rest = chunk.subarray(start);
      pending.push(rest);
      pendingBytes += rest.length;
      if (pendingBytes > maxLineBytes) {
        throw new DataFormatError(
          { file, line: lineNo + 1 },
          `line longer than maxLineBytes=${maxLineBytes}`,
        );
      }
      lastWasCR = false;
    }
  }
  if (pendingBytes > 0) {
    const bytes = Buffer.concat(pending, pendingBytes);
    consumed += bytes.length;
    yield emit(bytes);
  }
}

/** Size of a file in bytes (for progress totals). */
export function fileSize(file: string): number {
  return fs.statSync(file).size;
}

/**
 * EasyNLP's reading of one line of a tab-separated file: Python `line.strip().split('\t')`.
 * Returns the fields; a line that strips to nothing goes to `onBlank`, and a line that was not valid
 * UTF-8 (read with `onInvalidUtf8: 'yield'`) to `onInvalid` with the reason; both return undefined.
 */
export function splitStrippedLine(
  l: LineOrInvalid,
  onBlank: () => void,
  onInvalid: (line: number, reason: string) => void,
): string[] | undefined {
  if (l.text === undefined) {
    onInvalid(l.line, l.invalidUtf8?.message ?? 'invalid UTF-8');
    return undefined;
  }
  const stripped = pyStrip(l.text);
  if (stripped !== '') return stripped.split('\t');
  onBlank();
  return undefined;
}
