/**
 * Entity lexicon and matcher with EasyNLP's `Trie.get_lexicon` semantics.
 *
 * Storage is a trie in flat typed arrays: every trie node is a slot of one open-addressing hash table
 * keyed by (parent node, character), so a node's id IS its slot and no child pointers are stored.
 * A slot costs 12 bytes (parent, label | word flag, value); at the default final load factor of 0.45
 * and ~2.6 nodes per 2-6 character name this is ~70 bytes per entry, against ~0.9 KB for a Python
 * dict trie. A transition is one linear-probing lookup (one cache miss), so matching costs
 * O(matched path length) per start position. The word flag sits beside the label, in the cache line
 * the probe already fetched, so matching never reads `values` (a second miss per found node in
 * 0.1.0); ids are read only to report matches. Most lookups fail (a walk ends on a miss), and a
 * failed lookup scans ½(1 + 1/(1−α)²) slots: 6.1 at α = 0.7 but 2.1 at α = 0.45, which is why the
 * default trades some memory for speed; `finalLoad` sets it. A prefix filter (a bitset over rolling hashes of every
 * trie path of 2+ characters) is checked before each probe and ends most failing walks without
 * touching the table.
 *
 * Matching enumerates every lexicon word `tokens[i..j]` for every start `i`, ordered by start then
 * end, keeping nested, overlapping and repeated matches: exactly EasyNLP's loop order. The trie is
 * keyed by characters and walked by tokens, so only single-character tokens can match (a WordPiece
 * token such as `iphone` or `##ab` never does), as in EasyNLP.
 */
import fs from 'node:fs';
import os from 'node:os';
import { AtomicFileStream } from './atomic_stream';
import { ConfigError, DataFormatError } from './errors';
import { codePointLength } from './text_utils';

const LEXICON_MAGIC = Buffer.from('ARTLEX01', 'ascii');
const LEXICON_FORMAT = 'artist-lattice-lexicon';
const EMPTY = 0;
/** Parent field of depth-1 nodes (the root has no slot). All table words stay in int32 (Smi) range. */
const ROOT_KEY = -1;
/** `values[node]` of a node that ends no word. */
const NO_WORD = -1;
/**
 * Set in a slot's label word when a name ends at that node, so that matching reads the word flag
 * from the cache line it already fetched for the probe instead of from `values`.
 */
const WORD_BIT = 1 << 29;
const LABEL_MASK = WORD_BIT - 1;
/** Format of {@link Lexicon.save}: v1 (0.1.0) had no word flag in the label words. */
const LEXICON_VERSION = 2;
const MAX_NUMERIC_ID = 0x7fffffff;
const CANONICAL_INT = /^(0|[1-9][0-9]{0,9})$/;

function hash(parentKey: number, label: number): number {
  let h = Math.imul(parentKey, 0x9e3779b1) ^ Math.imul(label + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** Rolling hash of a label path (the prefix filter's key): depth 1 starts from `PREFIX_SEED`. */
const PREFIX_SEED = 0x1234567;
function prefixMix(h: number, label: number): number {
  h = Math.imul(h ^ label, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

/** Slot of `h` in a table of `cap` slots (multiply-high, works for any capacity). */
function slotOf(h: number, cap: number): number {
  return Math.floor((h * cap) / 4294967296);
}

/** Default budget of the direct 2-character table, bytes per entry. */
const DEFAULT_PAIR_BYTES = 4;
/** Pair-table entries: node id in the low 30 bits, word flag above. */
const PAIR_WORD = 1 << 30;
const PAIR_NODE = PAIR_WORD - 1;

/**
 * Fills the direct table of 2-character paths over labels below `side` (chosen from the budget),
 * from the depth-2 nodes of the trie. Returns [table, side]; side 0 means no table.
 */
function buildPairTable(
  table: Table,
  rootChild: Int32Array,
  entries: number,
  bytesPerEntry: number,
): [Int32Array, number] {
  const side = Math.min(
    rootChild.length,
    Math.floor(Math.sqrt((bytesPerEntry * Math.max(entries, 1)) / 4)),
  );
  if (side < 2 || table.cap > PAIR_NODE) return [new Int32Array(0), 0];
  const pairs = new Int32Array(side * side).fill(-1);
  const { keys, values, cap } = table;
  for (let s = 0; s < cap; s++) {
    const pk = keys[2 * s]!;
    if (pk <= 0 || keys[2 * (pk - 1)] !== ROOT_KEY) continue;
    const l0 = keys[2 * (pk - 1) + 1]! & LABEL_MASK;
    const l1 = keys[2 * s + 1]! & LABEL_MASK;
    if (l0 < side && l1 < side) pairs[l0 * side + l1] = values[s] === NO_WORD ? s : s | PAIR_WORD;
  }
  return [pairs, side];
}

/** Reusable output buffer for {@link Lexicon.matchLabels}: starts, ends and trie nodes of matches. */
export class MatchBuffer {
  starts: Int32Array;
  ends: Int32Array;
  nodes: Int32Array;
  count = 0;

  constructor(capacity = 64) {
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
    this.nodes = new Int32Array(capacity);
  }

  push(start: number, end: number, node: number): void {
    if (this.count === this.starts.length) {
      const n = this.starts.length * 2;
      const grow = (a: Int32Array) => {
        const b = new Int32Array(n);
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
      this.nodes = grow(this.nodes);
    }
    this.starts[this.count] = start;
    this.ends[this.count] = end;
    this.nodes[this.count] = node;
    this.count++;
  }
}

/** Matches of one token sequence, in EasyNLP order (by start, then end). */
export interface EntityMatches {
  /** 0-based start token index of each match. */
  starts: number[];
  /** 0-based end token index of each match (inclusive). */
  ends: number[];
  /** Entity id of each match, exactly as written in `entity2id.txt`. */
  ids: string[];
}

export interface LexiconStats {
  /** Distinct names stored. */
  entries: number;
  /** Trie nodes (= occupied hash slots). */
  nodes: number;
  /** Hash slots. */
  capacity: number;
  /** Distinct characters in the lexicon. */
  alphabet: number;
  /** Bytes held by the typed arrays of the structure. */
  bytes: number;
  bytesPerEntry: number;
}

interface Table {
  cap: number;
  /** [parent+1 or ROOT_KEY (0 = empty), label | WORD_BIT] per slot. */
  keys: Int32Array;
  values: Int32Array;
}

function newTable(cap: number): Table {
  return { cap, keys: new Int32Array(cap * 2), values: new Int32Array(cap).fill(NO_WORD) };
}

/**
 * A lexicon of entity names: a character trie in typed arrays. Build with {@link LexiconBuilder} or
 * {@link loadEntityLexicon}; match with {@link Lexicon.matchTokens}.
 */
export class Lexicon {
  /** @internal */
  constructor(
    private readonly table: Table,
    private readonly bmpLabel: Uint32Array,
    private readonly astralLabel: Map<number, number>,
    private readonly rootChild: Int32Array,
    private readonly stringIds: string[],
    readonly entries: number,
    readonly nodes: number,
    /** Bitset over the prefix hashes of every trie path of 2+ characters (no false negatives). */
    private readonly filter: Int32Array,
    pairTableBytesPerEntry = DEFAULT_PAIR_BYTES,
  ) {
    this.filterMask = filter.length * 32 - 1;
    [this.pairs, this.pairSide] = buildPairTable(table, rootChild, entries, pairTableBytesPerEntry);
    let single = false;
    for (let l = 1; l < rootChild.length && !single; l++) {
      const n = rootChild[l]!;
      if (n >= 0 && table.values[n] !== NO_WORD) single = true;
    }
    this.singleCharNames = single;
  }

  private readonly filterMask: number;
  /**
   * Direct table of the 2-character paths whose labels are both below `pairSide`:
   * `pairs[l0 * pairSide + l1]` is the depth-2 node (| PAIR_WORD when a name ends there) or -1.
   */
  private readonly pairs: Int32Array;
  private readonly pairSide: number;
  /** Some name has one character (only with `dropSingleChar: false`). */
  private readonly singleCharNames: boolean;
  /** Scratch of {@link matchTokens}. */
  private readonly tokenMatches = new MatchBuffer(16);
  private tokenLabels = new Int32Array(64);

  /** Dense label of a code point (0 when the character occurs in no name). */
  label(cp: number): number {
    if (cp < 0) return 0;
    return cp < 0x10000 ? this.bmpLabel[cp]! : (this.astralLabel.get(cp) ?? 0);
  }

  /** Child of `node` (or of the root when `node` < 0) by dense `label`, or -1. */
  child(node: number, label: number): number {
    if (label === 0) return -1;
    if (node < 0) return this.rootChild[label]!;
    const { keys, cap } = this.table;
    const key = node + 1;
    let s = slotOf(hash(key, label), cap);
    for (;;) {
      const k = keys[2 * s]!;
      if (k === EMPTY) return -1;
      if (k === key && (keys[2 * s + 1]! & LABEL_MASK) === label) return s;
      if (++s === cap) s = 0;
    }
  }

  /** The id of the word ending at `node`, or undefined if no word ends there. */
  idOfNode(node: number): string | undefined {
    const v = this.table.values[node]!;
    if (v === NO_WORD) return undefined;
    return v >= 0 ? String(v) : this.stringIds[-v - 2];
  }

  /** True if a word ends at `node`. */
  isWord(node: number): boolean {
    return (this.table.keys[2 * node + 1]! & WORD_BIT) !== 0;
  }

  /** The id of `name`, or undefined (single-character names are absent when dropped at build). */
  get(name: string): string | undefined {
    let node = -1;
    for (const ch of name) {
      node = this.child(node, this.label(ch.codePointAt(0)!));
      if (node < 0) return undefined;
    }
    return node < 0 ? undefined : this.idOfNode(node);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /**
   * Token sequence -> dense labels: a token that is one code point gets its label, any other token
   * (multi-character WordPiece, `[UNK]`, `##x`) gets 0 and can never match.
   */
  labelTokens(tokens: readonly string[], out = new Int32Array(tokens.length)): Int32Array {
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      let cp = -1;
      if (t.length === 1) cp = t.charCodeAt(0);
      else if (t.length === 2) {
        const c = t.codePointAt(0)!;
        if (c > 0xffff) cp = c;
      }
      out[i] = cp < 0 ? 0 : this.label(cp);
    }
    return out;
  }

  /**
   * Core matcher over dense labels (see {@link labelTokens}): appends every match of
   * `labels[0..length)` to `out` in (start, end) order. Returns the number of matches added.
   */
  matchLabels(labels: Int32Array, length: number, out: MatchBuffer): number {
    const before = out.count;
    const { keys, values, cap } = this.table;
    const rootChild = this.rootChild;
    const filter = this.filter;
    const useFilter = filter.length > 0;
    const fmask = this.filterMask;
    const single = this.singleCharNames;
    const pairs = this.pairs;
    const side = this.pairSide;
    for (let i = 0; i < length; i++) {
      const l0 = labels[i]!;
      if (l0 === 0) continue;
      let node = rootChild[l0]!;
      if (node < 0) continue;
      if (single && values[node] !== NO_WORD) out.push(i, i, node);
      let ph = prefixMix(PREFIX_SEED, l0);
      let j = i + 1;
      if (l0 < side && j < length) {
        // The first step of the walk in the direct pair table (one access into a much smaller
        // array than the hash table, with the word flag in it), instead of filter + probe.
        const l = labels[j]!;
        if (l === 0) continue;
        if (l < side) {
          const c = pairs[l0 * side + l]!;
          if (c < 0) continue;
          node = c & PAIR_NODE;
          if (c !== node) out.push(i, j, node);
          ph = prefixMix(ph, l);
          j++;
        }
      }
      for (; j < length; j++) {
        const l = labels[j]!;
        if (l === 0) break;
        if (useFilter) {
          // A clear bit proves that no name starts with labels[i..j]: skip the table probe (a cache
          // miss into a much larger array) and end this walk.
          ph = prefixMix(ph, l);
          const bit = ph & fmask;
          if ((filter[bit >>> 5]! & (1 << (bit & 31))) === 0) break;
        }
        const key = node + 1;
        let s = slotOf(hash(key, l), cap);
        let found = -1;
        let word = 0;
        for (;;) {
          const k = keys[2 * s]!;
          if (k === EMPTY) break;
          if (k === key) {
            const w = keys[2 * s + 1]!;
            if ((w & LABEL_MASK) === l) {
              found = s;
              word = w & WORD_BIT;
              break;
            }
          }
          if (++s === cap) s = 0;
        }
        if (found < 0) break;
        node = found;
        if (word !== 0) out.push(i, j, node);
      }
    }
    return out.count - before;
  }

  /**
   * Every lexicon word in `tokens` with EasyNLP's semantics: all substrings, ordered by start then
   * end; 0-based inclusive token positions. `maxMatches` keeps only the first N (EasyNLP keeps all
   * in the TSV and uses the first `entity_num` = 10 at training time).
   */
  matchTokens(tokens: readonly string[], maxMatches = Number.POSITIVE_INFINITY): EntityMatches {
    if (this.tokenLabels.length < tokens.length) {
      this.tokenLabels = new Int32Array(Math.max(tokens.length, 2 * this.tokenLabels.length));
    }
    const labels = this.labelTokens(tokens, this.tokenLabels);
    const buf = this.tokenMatches;
    buf.count = 0;
    this.matchLabels(labels, tokens.length, buf);
    const n = Math.min(buf.count, maxMatches);
    const res: EntityMatches = { starts: new Array(n), ends: new Array(n), ids: new Array(n) };
    for (let k = 0; k < n; k++) {
      res.starts[k] = buf.starts[k]!;
      res.ends[k] = buf.ends[k]!;
      res.ids[k] = this.idOfNode(buf.nodes[k]!)!;
    }
    return res;
  }

  /**
   * Saves the lexicon in a binary file (a JSON header, then the typed arrays), written atomically.
   * {@link Lexicon.load} maps it back in one read, much faster than re-reading `entity2id.txt`.
   */
  async save(file: string): Promise<void> {
    if (os.endianness() !== 'LE')
      throw new Error('Lexicon.save: only little-endian machines are supported');
    const sections: [string, ArrayBufferView][] = [
      ['keys', this.table.keys],
      ['values', this.table.values],
      ['bmpLabel', this.bmpLabel],
      ['rootChild', this.rootChild],
      ['filter', this.filter],
    ];
    const header = {
      format: LEXICON_FORMAT,
      version: LEXICON_VERSION,
      capacity: this.table.cap,
      entries: this.entries,
      nodes: this.nodes,
      astral: [...this.astralLabel],
      stringIds: this.stringIds,
      sections: sections.map(([name, a]) => ({ name, bytes: a.byteLength })),
    };
    let json = Buffer.from(JSON.stringify(header), 'utf8');
    // Pad the header so the arrays start 8-byte aligned.
    const pad = (8 - ((LEXICON_MAGIC.length + 4 + json.length) % 8)) % 8;
    json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(json.length);
    const out = await AtomicFileStream.open(file);
    try {
      await out.write(Buffer.concat([LEXICON_MAGIC, len, json]));
      for (const [, a] of sections) {
        const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
        for (let o = 0; o < bytes.length; o += 1 << 24)
          await out.write(bytes.subarray(o, o + (1 << 24)));
      }
      await out.close();
    } catch (err) {
      await out.abort();
      throw err;
    }
  }

  /**
   * Loads a file written by {@link Lexicon.save} (format 2, or 1 from 0.1.0). The direct pair table
   * is rebuilt (`pairTableBytesPerEntry`, default 4, as in {@link LexiconBuilderOptions}).
   */
  static async load(
    file: string,
    options: { pairTableBytesPerEntry?: number } = {},
  ): Promise<Lexicon> {
    if (os.endianness() !== 'LE')
      throw new Error('Lexicon.load: only little-endian machines are supported');
    const buf = await fs.promises.readFile(file);
    const bad = (reason: string) => new DataFormatError({ file, line: 1 }, reason);
    if (buf.length < 12 || !buf.subarray(0, 8).equals(LEXICON_MAGIC))
      throw bad('not a lexicon file (bad magic)');
    const hlen = buf.readUInt32LE(8);
    let header: {
      format: string;
      version: number;
      capacity: number;
      entries: number;
      nodes: number;
      astral: [number, number][];
      stringIds: string[];
      sections: { name: string; bytes: number }[];
    };
    try {
      header = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8'));
    } catch {
      throw bad('corrupt header');
    }
    if (header.format !== LEXICON_FORMAT || (header.version !== 1 && header.version !== 2))
      throw bad(`unsupported format ${header.format} v${header.version}`);
    let off = 12 + hlen;
    const arrays = new Map<string, ArrayBuffer>();
    for (const s of header.sections) {
      if (off + s.bytes > buf.length)
        throw bad(`truncated: section ${s.name} needs ${s.bytes} bytes`);
      // Copy each section into its own aligned buffer.
      arrays.set(
        s.name,
        buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + s.bytes) as ArrayBuffer,
      );
      off += s.bytes;
    }
    const need = (name: string) => {
      const a = arrays.get(name);
      if (!a) throw bad(`missing section ${name}`);
      return a;
    };
    const table: Table = {
      cap: header.capacity,
      keys: new Int32Array(need('keys')),
      values: new Int32Array(need('values')),
    };
    if (table.keys.length !== 2 * table.cap || table.values.length !== table.cap)
      throw bad('table size mismatch');
    if (header.version === 1) {
      // v1 kept the word flag only in `values`.
      for (let s = 0; s < table.cap; s++)
        if (table.values[s] !== NO_WORD) table.keys[2 * s + 1]! |= WORD_BIT;
    }
    return new Lexicon(
      table,
      new Uint32Array(need('bmpLabel')),
      new Map(header.astral),
      new Int32Array(need('rootChild')),
      header.stringIds,
      header.entries,
      header.nodes,
      arrays.has('filter') ? new Int32Array(need('filter')) : new Int32Array(0),
      options.pairTableBytesPerEntry ?? DEFAULT_PAIR_BYTES,
    );
  }

  stats(): LexiconStats {
    const bytes =
      this.table.keys.byteLength +
      this.table.values.byteLength +
      this.bmpLabel.byteLength +
      this.rootChild.byteLength +
      this.filter.byteLength +
      this.pairs.byteLength +
      this.astralLabel.size * 16 +
      this.stringIds.reduce((a, s) => a + 2 * s.length + 16, 0);
    return {
      entries: this.entries,
      nodes: this.nodes,
      capacity: this.table.cap,
      alphabet: this.rootChild.length - 1,
      bytes,
      bytesPerEntry: this.entries === 0 ? 0 : bytes / this.entries,
    };
  }
}

export interface LexiconBuilderOptions {
  /** Drop names of exactly one character, as EasyNLP does (`drop_characters=True`). Default true. */
  dropSingleChar?: boolean;
  /** Load factor of the final table (default 0.45; higher is smaller and slower). */
  finalLoad?: number;
  /** Expected number of names, to size the table once instead of growing it (optional). */
  expectedEntries?: number;
  /**
   * Bits per trie node of the prefix filter checked before each table probe (default 10, i.e.
   * ~1.2 bytes per node and ~8% false positives; 0 disables it). Most walks end on a miss, and
   * the filter answers most misses from a far smaller array.
   */
  filterBitsPerNode?: number;
  /**
   * Budget of the direct table of 2-character paths, in bytes per entry (default 4; 0 disables
   * it). It covers the first ⌊√(budget / 4)⌋ characters (in order of first appearance in the
   * lexicon, so mostly the frequent ones); the first step of a walk over two of them is one
   * lookup in it instead of a hash probe. At 10M names over 3000 characters it covers all of them
   * with 36 MB (3.6 bytes per entry).
   */
  pairTableBytesPerEntry?: number;
}

/**
 * Builds a {@link Lexicon} one name at a time. Later additions of the same name overwrite the id
 * (a Python dict's "last line wins").
 *
 * ```ts
 * const b = new LexiconBuilder();
 * b.add('红色', '17');
 * b.add('连衣裙', '5');
 * const lex = b.finish();
 * ```
 */
export class LexiconBuilder {
  private table: Table;
  private nodeCount = 0;
  private entryCount = 0;
  private readonly cpToLabel = new Map<number, number>();
  private readonly bmpLabel = new Uint32Array(0x10000);
  private readonly stringIds: string[] = [];
  private readonly stringIdIndex = new Map<string, number>();
  private rootChild = new Int32Array(1024).fill(-1);
  private readonly dropSingleChar: boolean;
  private readonly finalLoad: number;
  private readonly filterBitsPerNode: number;
  private readonly pairTableBytesPerEntry: number;
  private finished = false;
  private readonly path: number[] = [];

  constructor(options: LexiconBuilderOptions = {}) {
    this.dropSingleChar = options.dropSingleChar ?? true;
    this.finalLoad = options.finalLoad ?? 0.45;
    this.filterBitsPerNode = options.filterBitsPerNode ?? 10;
    this.pairTableBytesPerEntry = options.pairTableBytesPerEntry ?? DEFAULT_PAIR_BYTES;
    if (!(this.pairTableBytesPerEntry >= 0 && this.pairTableBytesPerEntry <= 1024)) {
      throw new ConfigError(
        'pairTableBytesPerEntry',
        `must be a number in [0, 1024], got ${this.pairTableBytesPerEntry}`,
      );
    }
    if (
      !Number.isInteger(this.filterBitsPerNode) ||
      this.filterBitsPerNode < 0 ||
      this.filterBitsPerNode > 64
    ) {
      throw new ConfigError(
        'filterBitsPerNode',
        `must be an integer in [0, 64], got ${this.filterBitsPerNode}`,
      );
    }
    if (!(this.finalLoad > 0.1 && this.finalLoad < 0.95)) {
      throw new ConfigError('finalLoad', `must be in (0.1, 0.95), got ${this.finalLoad}`);
    }
    const expected = options.expectedEntries ?? 0;
    if (!Number.isInteger(expected) || expected < 0) {
      throw new ConfigError('expectedEntries', `must be a non-negative integer, got ${expected}`);
    }
    // About 3 trie nodes per name, filled to 0.75 before the first growth.
    this.table = newTable(Math.max(1024, Math.ceil((expected * 3) / 0.75)));
  }

  /** Names added so far that were kept (duplicates count once). */
  get size(): number {
    return this.entryCount;
  }

  /**
   * Adds `name` with entity `id` (kept exactly as given; canonical non-negative integers are stored
   * as numbers). Returns false when the name was dropped (single character, or empty).
   */
  add(name: string, id: string | number): boolean {
    if (this.finished) throw new Error('LexiconBuilder: add() after finish()');
    const len = codePointLength(name);
    if (len === 0 || (this.dropSingleChar && len === 1)) return false;
    // Grow before walking: a rehash renumbers nodes, so it must not happen mid-name.
    if (this.nodeCount + len > this.table.cap * 0.8) {
      this.rehash(Math.ceil(Math.max(this.table.cap * 2, (this.nodeCount + len) / 0.5)));
    }
    let node = -1;
    for (const ch of name) {
      const label = this.labelFor(ch.codePointAt(0)!);
      node = this.childOrInsert(node, label);
    }
    const t = this.table;
    if (t.values[node] === NO_WORD) {
      this.entryCount++;
      t.keys[2 * node + 1]! |= WORD_BIT;
    }
    t.values[node] = typeof id === 'number' ? this.encodeNumber(id) : this.encodeId(id);
    return true;
  }

  /** Freezes the builder into a compact {@link Lexicon} (the table is resized to `finalLoad`). */
  finish(): Lexicon {
    if (this.finished) throw new Error('LexiconBuilder: finish() called twice');
    this.finished = true;
    const cap = Math.max(16, Math.ceil(this.nodeCount / this.finalLoad));
    if (Math.abs(cap - this.table.cap) > 0.05 * cap) this.rehash(cap);
    const alphabet = this.cpToLabel.size;
    const astral = new Map<number, number>();
    for (const [cp, l] of this.cpToLabel) if (cp >= 0x10000) astral.set(cp, l);
    return new Lexicon(
      this.table,
      this.bmpLabel,
      astral,
      this.rootChild.slice(0, alphabet + 1),
      this.stringIds,
      this.entryCount,
      this.nodeCount,
      this.buildFilter(),
      this.pairTableBytesPerEntry,
    );
  }

  /** Sets the filter bit of every node at depth >= 2 (prefix hashes follow the parent chain). */
  private buildFilter(): Int32Array {
    if (this.filterBitsPerNode === 0 || this.nodeCount === 0) return new Int32Array(0);
    const bits = 2 ** Math.max(10, Math.ceil(Math.log2(this.nodeCount * this.filterBitsPerNode)));
    const filter = new Int32Array(bits / 32);
    const mask = bits - 1;
    const { keys, cap } = this.table;
    const ph = new Int32Array(cap);
    const done = new Uint8Array(cap);
    const stack = this.path;
    for (let s0 = 0; s0 < cap; s0++) {
      if (keys[2 * s0] === EMPTY || done[s0] === 1) continue;
      stack.length = 0;
      let s = s0;
      for (;;) {
        stack.push(s);
        const pk = keys[2 * s]!;
        if (pk === ROOT_KEY || done[pk - 1] === 1) break;
        s = pk - 1;
      }
      while (stack.length > 0) {
        const o = stack.pop()!;
        const pk = keys[2 * o]!;
        const label = keys[2 * o + 1]! & LABEL_MASK;
        if (pk === ROOT_KEY) ph[o] = prefixMix(PREFIX_SEED, label);
        else {
          const h = prefixMix(ph[pk - 1]!, label);
          ph[o] = h;
          const bit = h & mask;
          filter[bit >>> 5]! |= 1 << (bit & 31);
        }
        done[o] = 1;
      }
    }
    return filter;
  }

  private encodeNumber(id: number): number {
    if (Number.isInteger(id) && id >= 0 && id <= MAX_NUMERIC_ID) return id;
    return this.encodeId(String(id));
  }

  private encodeId(id: string): number {
    if (CANONICAL_INT.test(id)) {
      const v = Number(id);
      if (v <= MAX_NUMERIC_ID) return v;
    }
    let k = this.stringIdIndex.get(id);
    if (k === undefined) {
      k = this.stringIds.length;
      this.stringIds.push(id);
      this.stringIdIndex.set(id, k);
    }
    return -k - 2;
  }

  private labelFor(cp: number): number {
    let l = cp < 0x10000 ? this.bmpLabel[cp]! : (this.cpToLabel.get(cp) ?? 0);
    if (l === 0) {
      l = this.cpToLabel.size + 1;
      this.cpToLabel.set(cp, l);
      if (cp < 0x10000) this.bmpLabel[cp] = l;
      if (l >= this.rootChild.length) {
        const r = new Int32Array(this.rootChild.length * 2).fill(-1);
        r.set(this.rootChild);
        this.rootChild = r;
      }
    }
    return l;
  }

  private childOrInsert(node: number, label: number): number {
    if (node < 0) {
      const c = this.rootChild[label]!;
      if (c >= 0) return c;
    }
    const { keys, cap } = this.table;
    const key = node < 0 ? ROOT_KEY : node + 1;
    let s = slotOf(hash(key, label), cap);
    for (;;) {
      const k = keys[2 * s]!;
      if (k === EMPTY) break;
      if (k === key && (keys[2 * s + 1]! & LABEL_MASK) === label) return s;
      if (++s === cap) s = 0;
    }
    keys[2 * s] = key;
    keys[2 * s + 1] = label;
    this.nodeCount++;
    if (node < 0) this.rootChild[label] = s;
    return s;
  }

  /** Moves every node into a table of `cap` slots; node ids change, parents are remapped. */
  private rehash(cap: number): void {
    const old = this.table;
    const next = newTable(cap);
    const map = new Int32Array(old.cap).fill(-1);
    const stack = this.path;
    for (let s0 = 0; s0 < old.cap; s0++) {
      if (old.keys[2 * s0] === EMPTY || map[s0] !== -1) continue;
      // Walk up to the first mapped ancestor (or the root), then insert downwards.
      stack.length = 0;
      let s = s0;
      for (;;) {
        stack.push(s);
        const pk = old.keys[2 * s]!;
        if (pk === ROOT_KEY) break;
        const p = pk - 1;
        if (map[p] !== -1) break;
        s = p;
      }
      while (stack.length > 0) {
        const o = stack.pop()!;
        const pk = old.keys[2 * o]!;
        const key = pk === ROOT_KEY ? ROOT_KEY : map[pk - 1]! + 1;
        const labelWord = old.keys[2 * o + 1]!;
        const label = labelWord & LABEL_MASK;
        let t = slotOf(hash(key, label), cap);
        while (next.keys[2 * t] !== EMPTY) if (++t === cap) t = 0;
        next.keys[2 * t] = key;
        next.keys[2 * t + 1] = labelWord;
        next.values[t] = old.values[o]!;
        map[o] = t;
        if (key === ROOT_KEY) this.rootChild[label] = t;
      }
    }
    this.table = next;
  }
}
