/**
 * {@link LexiconBuilder}: fills the lexicon's hash-table trie (lexicon_table.ts) one name at a time,
 * growing and finally resizing the table, and freezes it into a {@link Lexicon}.
 */
import { ConfigError } from './errors';
import { checkMatcher, Lexicon, type MatcherKind } from './lexicon_match';
import * as trie from './lexicon_table';
import { DEFAULT_PAIR_BYTES, newTable, type Table } from './lexicon_table';
import { codePointLength } from './text_utils';

// Module-level bindings of the table's primitives used in hot loops. A named import compiles to a
// property load on lexicon_table's exports object at every use, and its constants start out as
// `void 0` there, so V8 cannot fold them: local consts keep these loops as fast as when the table
// code lived in this file (the build time of `pnpm bench`).
const { EMPTY, LABEL_MASK, NO_WORD, PREFIX_SEED, ROOT_KEY, WORD_BIT, hash, prefixMix, slotOf } =
  trie;

const MAX_NUMERIC_ID = 0x7fffffff;
const CANONICAL_INT = /^(0|[1-9][0-9]{0,9})$/;

export interface LexiconBuilderOptions {
  /** Drop names of exactly one character, as EasyNLP does (`drop_characters=True`). Default true. */
  dropSingleChar?: boolean;
  /** Load factor of the final table (default 0.45; higher is smaller and slower). */
  finalLoad?: number;
  /** Expected number of names, to size the table once instead of growing it (optional). */
  expectedEntries?: number;
  /**
   * Bits per trie node of a prefix filter (a bitset over rolling hashes of every path of 2+
   * characters) stored in saved files. Default 0 (none). Matching no longer reads it: the child
   * signature in each node's label word does its job without an extra cache miss. Set it only
   * for files that @artist-ts/lattice-data 0.1.x must read fast (it checks the filter).
   */
  filterBitsPerNode?: number;
  /**
   * Budget of the direct table of 2-character paths, in bytes per entry (default 8; 0 disables
   * it). Each entry is 8 bytes (the node and its label word), so it covers the first
   * ⌊√(budget · entries / 8)⌋ characters (in order of first appearance in the lexicon, so mostly
   * the frequent ones); the first step of a walk over two of them is one lookup in it instead of
   * a hash probe. At 10M names over 3000 characters it covers all of them with 72 MB (7.2 bytes
   * per entry).
   */
  pairTableBytesPerEntry?: number;
  /** Matching strategy of the lexicon (default `'auto'`; see {@link MatcherKind}). */
  matcher?: MatcherKind;
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
  private readonly matcher: MatcherKind;
  private finished = false;
  private readonly path: number[] = [];

  constructor(options: LexiconBuilderOptions = {}) {
    this.dropSingleChar = options.dropSingleChar ?? true;
    this.finalLoad = options.finalLoad ?? 0.45;
    this.filterBitsPerNode = options.filterBitsPerNode ?? 0;
    this.pairTableBytesPerEntry = options.pairTableBytesPerEntry ?? DEFAULT_PAIR_BYTES;
    this.matcher = checkMatcher(options.matcher ?? 'auto');
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
    const lexicon = new Lexicon(
      {
        table: this.table,
        bmpLabel: this.bmpLabel,
        astralLabel: astral,
        rootChild: this.rootChild.slice(0, alphabet + 1),
        stringIds: this.stringIds,
        entries: this.entryCount,
        nodes: this.nodeCount,
        filter: this.buildFilter(),
      },
      this.pairTableBytesPerEntry,
    );
    lexicon.matcher = this.matcher;
    return lexicon;
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
