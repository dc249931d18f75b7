/**
 * The lexicon file written by {@link Lexicon.save} and read by {@link Lexicon.load}: the magic
 * `ARTLEX01`, a uint32 LE header length, a JSON header (padded so that the arrays start 8-byte
 * aligned), then the typed arrays of the table as little-endian sections in the header's order.
 *
 * Format version 2 (0.1.1 and later): the label words of `keys` carry the word flag
 * ({@link WORD_BIT}); the child signatures are not stored (they are rebuilt at load). Version 1
 * (0.1.0, pre-release) is no longer read: such a file raises an error saying to rebuild it.
 *
 * Errors name the file and a byte offset (it is a binary file: there are no lines).
 */
import fs from 'node:fs';
import os from 'node:os';
import { AtomicFileStream } from './atomic_stream';
import { DataFormatError } from './errors';
import { fileLabelWord, type LabelLayout, type LexiconParts, type Table } from './lexicon_table';

const LEXICON_MAGIC = Buffer.from('ARTLEX01', 'ascii');
const LEXICON_FORMAT = 'artist-lattice-lexicon';
const LEXICON_VERSION = 2;
/** Magic and header length. */
const PREAMBLE_BYTES = 12;

interface LexiconHeader {
  format: string;
  version: number;
  capacity: number;
  entries: number;
  nodes: number;
  astral: [number, number][];
  stringIds: string[];
  sections: { name: string; bytes: number }[];
}

function checkLittleEndian(what: string): void {
  if (os.endianness() !== 'LE')
    throw new Error(`${what}: only little-endian machines are supported`);
}

/**
 * Writes `parts` to `file` atomically. `layout` is the in-memory label-word layout: label words go
 * back to the file layout (no signatures).
 */
export async function writeLexiconFile(
  file: string,
  parts: LexiconParts,
  layout: LabelLayout,
): Promise<void> {
  checkLittleEndian('Lexicon.save');
  const { table } = parts;
  const sections: [string, Int32Array | Uint32Array][] = [
    ['keys', table.keys],
    ['values', table.values],
    ['bmpLabel', parts.bmpLabel],
    ['rootChild', parts.rootChild],
    ['filter', parts.filter],
  ];
  const header: LexiconHeader = {
    format: LEXICON_FORMAT,
    version: LEXICON_VERSION,
    capacity: table.cap,
    entries: parts.entries,
    nodes: parts.nodes,
    astral: [...parts.astralLabel],
    stringIds: parts.stringIds,
    sections: sections.map(([name, a]) => ({ name, bytes: a.byteLength })),
  };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad the header so the arrays start 8-byte aligned.
  const pad = (8 - ((PREAMBLE_BYTES + json.length) % 8)) % 8;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  const out = await AtomicFileStream.open(file);
  try {
    await out.write(Buffer.concat([LEXICON_MAGIC, len, json]));
    // 16 MB at a time; the keys' label words go back to the file layout (no signatures).
    const step = 1 << 22;
    for (const [name, a] of sections) {
      for (let o = 0; o < a.length; o += step) {
        const part = a.subarray(o, o + step);
        let view: Int32Array | Uint32Array = part;
        if (name === 'keys') {
          // A fresh buffer: the stream may still hold the previous one.
          view = new Int32Array(part.length);
          // Label words are at odd indices of keys; `o` and `step` are even.
          for (let k = 0; k < part.length; k += 2) {
            view[k] = part[k]!;
            view[k + 1] = fileLabelWord(part[k + 1]!, layout);
          }
        }
        await out.write(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      }
    }
    await out.close();
  } catch (err) {
    await out.abort();
    throw err;
  }
}

/** Reads a file written by {@link writeLexiconFile} (format 2) in one read. */
export async function readLexiconFile(file: string): Promise<LexiconParts> {
  checkLittleEndian('Lexicon.load');
  const buf = await fs.promises.readFile(file);
  const bad = (offset: number, reason: string, field?: string) =>
    new DataFormatError({ file, offset, ...(field ? { field } : {}) }, reason);
  if (buf.length < PREAMBLE_BYTES || !buf.subarray(0, 8).equals(LEXICON_MAGIC))
    throw bad(0, 'not a lexicon file (bad magic)');
  const hlen = buf.readUInt32LE(8);
  if (PREAMBLE_BYTES + hlen > buf.length)
    throw bad(8, `truncated: the header needs ${hlen} bytes, the file has ${buf.length}`);
  let header: LexiconHeader;
  try {
    header = JSON.parse(buf.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + hlen).toString('utf8'));
  } catch (err) {
    throw bad(PREAMBLE_BYTES, `corrupt header (${(err as Error).message})`);
  }
  if (header.format !== LEXICON_FORMAT)
    throw bad(PREAMBLE_BYTES, `unsupported format ${JSON.stringify(header.format)}`, 'format');
  if (header.version === 1) {
    throw bad(
      PREAMBLE_BYTES,
      'format version 1 (written by the pre-release @artist-ts/lattice-data 0.1.0) is no longer ' +
        'read: rebuild the file from entity2id.txt (loadEntityLexicon, then lexicon.save)',
      'version',
    );
  }
  if (header.version !== LEXICON_VERSION) {
    throw bad(
      PREAMBLE_BYTES,
      `unsupported version ${header.version} (this reader knows ${LEXICON_VERSION})`,
      'version',
    );
  }
  let off = PREAMBLE_BYTES + hlen;
  const arrays = new Map<string, ArrayBuffer>();
  for (const s of header.sections) {
    if (off + s.bytes > buf.length) {
      throw bad(
        off,
        `truncated: section ${s.name} needs ${s.bytes} bytes, ${buf.length - off} left`,
        s.name,
      );
    }
    // Copy each section into its own aligned buffer.
    arrays.set(
      s.name,
      buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + s.bytes) as ArrayBuffer,
    );
    off += s.bytes;
  }
  const need = (name: string) => {
    const a = arrays.get(name);
    if (!a) throw bad(PREAMBLE_BYTES, `missing section ${name}`, 'sections');
    return a;
  };
  const table: Table = {
    cap: header.capacity,
    keys: new Int32Array(need('keys')),
    values: new Int32Array(need('values')),
  };
  if (table.keys.length !== 2 * table.cap || table.values.length !== table.cap) {
    throw bad(
      PREAMBLE_BYTES,
      `table size mismatch: capacity ${table.cap}, ${table.keys.length / 2} keys, ${table.values.length} values`,
      'capacity',
    );
  }
  return {
    table,
    bmpLabel: new Uint32Array(need('bmpLabel')),
    astralLabel: new Map(header.astral),
    rootChild: new Int32Array(need('rootChild')),
    stringIds: header.stringIds,
    entries: header.entries,
    nodes: header.nodes,
    filter: arrays.has('filter') ? new Int32Array(need('filter')) : new Int32Array(0),
  };
}
