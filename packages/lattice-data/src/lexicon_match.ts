/**
 * {@link Lexicon}: the entity lexicon's lookups and matcher, with EasyNLP's `Trie.get_lexicon`
 * semantics, over the hash-table trie of lexicon_table.ts (each lookup reads a node's label word,
 * word flag and child signature from the one cache line its probe fetched, so it never reads
 * `values` except to report a match, and the signature ends most walks without another probe).
 *
 * At millions of names nearly every probe misses the cache and the TLB, and each step of one walk
 * needs the previous step's result. So the matcher does not walk depth first: it advances every
 * walk of the input (every start position of every sentence of a batch) by one character per
 * round, and each round first gathers the home slots of all its probes in a loop with no
 * data-dependent branch, so that the CPU keeps many independent misses in flight ("interleaved
 * probing"), then resolves them from the cache. The matches are put back into EasyNLP's order (by
 * start, then end) with a counting sort.
 *
 * Matching enumerates every lexicon word `tokens[i..j]` for every start `i`, ordered by start then
 * end, keeping nested, overlapping and repeated matches: exactly EasyNLP's loop order. The trie is
 * keyed by characters and walked by tokens, so only single-character tokens can match (a WordPiece
 * token such as `iphone` or `##ab` never does), as in EasyNLP.
 */
import { ConfigError } from './errors';
import { readLexiconFile, writeLexiconFile } from './lexicon_file';
import * as trie from './lexicon_table';
import {
  buildPairFilter,
  buildPairTable,
  DEFAULT_PAIR_BYTES,
  growInt32,
  type LabelLayout,
  type LexiconParts,
  labelLayout,
  packLabelWords,
  type Table,
} from './lexicon_table';

// Module-level bindings of the table's primitives used in hot loops. A named import compiles to a
// property load on lexicon_table's exports object at every use, and its constants start out as
// `void 0` there, so V8 cannot fold them: local consts keep these loops as fast as when the table
// code lived in this file (in-process A/B of `pnpm bench`'s workload).
const { EMPTY, NO_WORD, hash, pairHash, slotOf } = trie;

/**
 * Positions of one interleaved matching pass. Longer inputs (big batches) run in chunks of about
 * this many characters, so that the lines a round gathers are still in the cache when it resolves
 * them.
 */
const CHUNK_CHARS = 1024;
/**
 * `matcher: 'auto'` interleaves the walks when the hash table is at least this big: below it the
 * table mostly stays in the CPU caches, where the simpler depth-first walk is faster.
 */
const INTERLEAVE_MIN_TABLE_BYTES = 16 << 20;

/**
 * How {@link Lexicon} walks the trie (results are identical): `'interleaved'` advances all the
 * walks of a sentence (or of a batch) in lockstep so that their cache misses overlap, best for
 * lexicons far bigger than the CPU caches; `'depth-first'` walks one start position at a time,
 * best when the lexicon fits in the caches; `'auto'` (default) picks by the table's size.
 */
export type MatcherKind = 'auto' | 'interleaved' | 'depth-first';
const MATCHER_KINDS: readonly MatcherKind[] = ['auto', 'interleaved', 'depth-first'];

export function checkMatcher(kind: unknown): MatcherKind {
  if (!MATCHER_KINDS.includes(kind as MatcherKind)) {
    throw new ConfigError(
      'matcher',
      `must be one of ${MATCHER_KINDS.join(', ')}, got ${String(kind)}`,
    );
  }
  return kind as MatcherKind;
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

  /** Makes room for `extra` more matches. */
  reserve(extra: number): void {
    const need = this.count + extra;
    if (need <= this.starts.length) return;
    const n = Math.max(need, this.starts.length * 2);
    this.starts = growInt32(this.starts, n);
    this.ends = growInt32(this.ends, n);
    this.nodes = growInt32(this.nodes, n);
  }

  push(start: number, end: number, node: number): void {
    if (this.count === this.starts.length) this.reserve(1);
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

/**
 * Scratch of the interleaved matcher: the active walks (start, node, node's label word, home slot
 * of the next probe, the gathered first key of that slot), the round-0 candidates, and the
 * matches before sorting.
 */
class WalkScratch {
  size = 0;
  start = new Int32Array(0);
  node = new Int32Array(0);
  word = new Int32Array(0);
  slot = new Int32Array(0);
  gathered = new Int32Array(0);
  /** Round 0: start and pair-table index of the walks that begin in the pair table. */
  pairStart = new Int32Array(0);
  pairIndex = new Int32Array(0);
  /** Matches found so far in the current pass (the length of mStart/mEnd/mNode in use). */
  matches = 0;
  /** Matches (start, end, node), and a second set that the counting sort writes into. */
  mStart: Int32Array = new Int32Array(64);
  mEnd: Int32Array = new Int32Array(64);
  mNode: Int32Array = new Int32Array(64);
  sStart: Int32Array = new Int32Array(64);
  sEnd: Int32Array = new Int32Array(64);
  sNode: Int32Array = new Int32Array(64);
  /** Matches per start (counting sort). */
  count = new Int32Array(0);
  /** Concatenated labels of a batch. */
  concat = new Int32Array(0);

  ensure(n: number): void {
    if (this.size >= n) return;
    const c = Math.max(n, 2 * this.size, 64);
    this.size = c;
    this.start = new Int32Array(c);
    this.node = new Int32Array(c);
    this.word = new Int32Array(c);
    this.slot = new Int32Array(c);
    this.gathered = new Int32Array(c);
    this.pairStart = new Int32Array(c);
    this.pairIndex = new Int32Array(c);
    this.count = new Int32Array(c + 1);
  }

  growMatches(): void {
    const n = this.mStart.length * 2;
    this.mStart = growInt32(this.mStart, n);
    this.mEnd = growInt32(this.mEnd, n);
    this.mNode = growInt32(this.mNode, n);
    this.sStart = new Int32Array(n);
    this.sEnd = new Int32Array(n);
    this.sNode = new Int32Array(n);
  }

  /** Stable counting sort of the first `nm` matches by start (starts in from … from + span − 1). */
  sortByStart(nm: number, from: number, span: number): void {
    const { mStart, mEnd, mNode, sStart, sEnd, sNode } = this;
    if (nm <= 48) {
      // Few matches: insertion sort by (start, end) in place.
      for (let k = 1; k < nm; k++) {
        const a = mStart[k]!;
        const b = mEnd[k]!;
        const c = mNode[k]!;
        let q = k - 1;
        while (q >= 0 && (mStart[q]! > a || (mStart[q] === a && mEnd[q]! > b))) {
          mStart[q + 1] = mStart[q]!;
          mEnd[q + 1] = mEnd[q]!;
          mNode[q + 1] = mNode[q]!;
          q--;
        }
        mStart[q + 1] = a;
        mEnd[q + 1] = b;
        mNode[q + 1] = c;
      }
      return;
    }
    const cnt = this.count;
    cnt.fill(0, 0, span + 1);
    for (let k = 0; k < nm; k++) cnt[mStart[k]! - from + 1]!++;
    for (let i = 0; i < span; i++) cnt[i + 1]! += cnt[i]!;
    for (let k = 0; k < nm; k++) {
      const p = cnt[mStart[k]! - from]!++;
      sStart[p] = mStart[k]!;
      sEnd[p] = mEnd[k]!;
      sNode[p] = mNode[k]!;
    }
    this.mStart = sStart;
    this.mEnd = sEnd;
    this.mNode = sNode;
    this.sStart = mStart;
    this.sEnd = mEnd;
    this.sNode = mNode;
  }
}

/**
 * A lexicon of entity names: a character trie in typed arrays. Build with {@link LexiconBuilder} or
 * {@link loadEntityLexicon}; match with {@link Lexicon.matchTokens} (one sentence) or
 * {@link Lexicon.matchTokensBatch} (many, faster on big lexicons).
 */
export class Lexicon {
  private readonly table: Table;
  private readonly bmpLabel: Uint32Array;
  private readonly astralLabel: Map<number, number>;
  private readonly rootChild: Int32Array;
  private readonly stringIds: string[];
  /** Distinct names stored. */
  readonly entries: number;
  /** Trie nodes (= occupied hash slots). */
  readonly nodes: number;
  /** See {@link LexiconParts.filter}. */
  private readonly filter: Int32Array;

  /** @internal Built by {@link LexiconBuilder.finish} and {@link Lexicon.load}. */
  constructor(parts: LexiconParts, pairTableBytesPerEntry = DEFAULT_PAIR_BYTES) {
    const { table, rootChild, entries } = parts;
    this.table = table;
    this.bmpLabel = parts.bmpLabel;
    this.astralLabel = parts.astralLabel;
    this.rootChild = rootChild;
    this.stringIds = parts.stringIds;
    this.entries = entries;
    this.nodes = parts.nodes;
    this.filter = parts.filter;
    this.alphabet = rootChild.length - 1;
    this.layout = labelLayout(this.alphabet);
    packLabelWords(table.keys, table.cap, this.layout);
    [this.pairs, this.pairSide] = buildPairTable(
      table,
      rootChild,
      entries,
      pairTableBytesPerEntry,
      this.layout.labelMask,
    );
    this.pairFilter =
      this.pairSide > this.alphabet
        ? new Int32Array(0)
        : buildPairFilter(table, this.layout.labelMask);
    this.rootWord = new Int32Array(rootChild.length);
    let single = false;
    for (let l = 1; l < rootChild.length; l++) {
      const n = rootChild[l]!;
      if (n < 0) continue;
      this.rootWord[l] = table.keys[2 * n + 1]!;
      if (table.values[n] !== NO_WORD) single = true;
    }
    this.singleCharNames = single;
    this.matcher = 'auto';
  }

  /** The matching strategy (see {@link MatcherKind}); results never depend on it. */
  get matcher(): MatcherKind {
    return this.matcherKind;
  }

  /** What {@link matcher} resolves to for this lexicon (`'auto'` decides by the table's size). */
  get strategy(): 'interleaved' | 'depth-first' {
    return this.interleave ? 'interleaved' : 'depth-first';
  }

  set matcher(kind: MatcherKind) {
    this.matcherKind = checkMatcher(kind);
    this.interleave =
      kind === 'interleaved' ||
      (kind === 'auto' && this.table.keys.byteLength >= INTERLEAVE_MIN_TABLE_BYTES);
  }

  /** Number of distinct characters: labels are 1 … alphabet. */
  private readonly alphabet: number;
  private readonly layout: LabelLayout;
  /** Label word of each depth-1 node (by label), so that walks start without a table access. */
  private readonly rootWord: Int32Array;
  /**
   * Direct table of the 2-character paths whose labels are both below `pairSide`:
   * `pairs[2 (l0 * pairSide + l1)]` is the depth-2 node or -1, the next entry its label word.
   */
  private readonly pairs: Int32Array;
  private readonly pairSide: number;
  /** See {@link buildPairFilter}. */
  private readonly pairFilter: Int32Array;
  /** Some name has one character (only with `dropSingleChar: false`). */
  private readonly singleCharNames: boolean;
  private matcherKind: MatcherKind = 'auto';
  private interleave = false;
  /** Scratch of the matcher and of {@link matchTokens}. */
  private readonly scratch = new WalkScratch();
  private readonly tokenMatches = new MatchBuffer(16);
  private tokenLabels = new Int32Array(64);
  private idScratch = new Int32Array(64);

  /** Dense label of a code point (0 when the character occurs in no name). */
  label(cp: number): number {
    if (cp < 0) return 0;
    return cp < 0x10000 ? this.bmpLabel[cp]! : (this.astralLabel.get(cp) ?? 0);
  }

  /** Child of `node` (or of the root when `node` < 0) by dense `label`, or -1. */
  child(node: number, label: number): number {
    if (!(label >= 1 && label <= this.alphabet)) return -1;
    if (node < 0) return this.rootChild[label]!;
    const { keys, cap } = this.table;
    const mask = this.layout.labelMask;
    const key = node + 1;
    let s = slotOf(hash(key, label), cap);
    for (;;) {
      const k = keys[2 * s]!;
      if (k === EMPTY) return -1;
      if (k === key && (keys[2 * s + 1]! & mask) === label) return s;
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
    return (this.table.keys[2 * node + 1]! & this.layout.wordBit) !== 0;
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
   * A label outside 1 … alphabet (0 for a token that cannot match) ends every walk that reaches it.
   */
  matchLabels(labels: Int32Array, length: number, out: MatchBuffer): number {
    const n = Math.min(length, labels.length);
    const before = out.count;
    if (!this.interleave) {
      this.walkDepthFirst(labels, n, 0, n, out, 0);
      return out.count - before;
    }
    // Long inputs in chunks of starts (the walks may read past the chunk), so that the scratch and
    // the lines each round gathers stay small.
    for (let from = 0; from < n; from += CHUNK_CHARS) {
      const m = this.walkAll(labels, n, from, Math.min(n, from + CHUNK_CHARS));
      this.copySorted(out, 0, m, 0);
    }
    return out.count - before;
  }

  /**
   * {@link matchLabels} over many sequences at once, with the walks of all of them interleaved
   * (much faster than one at a time on lexicons that do not fit in the CPU caches). Appends the
   * matches of `sequences[0]`, then of `sequences[1]` … to `out`, positions relative to their own
   * sequence, and writes how many each sequence got to `counts[b]` (returned).
   */
  matchLabelsBatch(
    sequences: readonly Int32Array[],
    out: MatchBuffer,
    counts = new Int32Array(sequences.length),
  ): Int32Array {
    if (counts.length < sequences.length) {
      throw new RangeError(
        `matchLabelsBatch: counts has ${counts.length} entries for ${sequences.length} sequences`,
      );
    }
    const sc = this.scratch;
    if (!this.interleave) {
      for (let b = 0; b < sequences.length; b++)
        counts[b] = this.matchLabels(sequences[b]!, sequences[b]!.length, out);
      return counts;
    }
    let b0 = 0;
    while (b0 < sequences.length) {
      // A group of sequences of about CHUNK_CHARS labels, separated by a 0 label.
      let total = 0;
      let b1 = b0;
      while (b1 < sequences.length && (b1 === b0 || total + sequences[b1]!.length < CHUNK_CHARS)) {
        total += sequences[b1]!.length + 1;
        b1++;
      }
      if (b1 === b0 + 1) {
        counts[b0] = this.matchLabels(sequences[b0]!, sequences[b0]!.length, out);
        b0 = b1;
        continue;
      }
      if (sc.concat.length < total)
        sc.concat = new Int32Array(Math.max(total, 2 * sc.concat.length));
      const cat = sc.concat;
      let o = 0;
      for (let b = b0; b < b1; b++) {
        const s = sequences[b]!;
        cat.set(s, o);
        o += s.length;
        cat[o++] = 0;
      }
      const m = this.walkAll(cat, o, 0, o);
      // Matches are sorted by start: split them by sequence.
      let k = 0;
      o = 0;
      for (let b = b0; b < b1; b++) {
        const end = o + sequences[b]!.length;
        let k1 = k;
        while (k1 < m && sc.mStart[k1]! < end) k1++;
        this.copySorted(out, k, k1, o);
        counts[b] = k1 - k;
        k = k1;
        o = end + 1;
      }
      b0 = b1;
    }
    return counts;
  }

  /** Appends sorted matches `from..to` of the scratch to `out`, positions minus `offset`. */
  private copySorted(out: MatchBuffer, from: number, to: number, offset: number): void {
    const sc = this.scratch;
    out.reserve(to - from);
    let c = out.count;
    for (let k = from; k < to; k++, c++) {
      out.starts[c] = sc.mStart[k]! - offset;
      out.ends[c] = sc.mEnd[k]! - offset;
      out.nodes[c] = sc.mNode[k]!;
    }
    out.count = c;
  }

  /**
   * The depth-first matcher (one walk at a time): same results as {@link walkAll}, already in
   * order, appended to `out` (positions minus `offset`). Faster when the table fits in the caches.
   */
  private walkDepthFirst(
    labels: Int32Array,
    n: number,
    from: number,
    to: number,
    out: MatchBuffer,
    offset: number,
  ): void {
    const { keys, cap } = this.table;
    const { wordBit, labelMask, sigMask } = this.layout;
    const alpha = this.alphabet;
    const rootChild = this.rootChild;
    const rootWord = this.rootWord;
    const single = this.singleCharNames;
    const pairs = this.pairs;
    const side = this.pairSide;
    const pairFilter = this.pairFilter;
    const pfMask = pairFilter.length * 32 - 1;
    for (let i = from; i < to; i++) {
      const l0 = labels[i]!;
      if ((l0 - 1) >>> 0 >= alpha) continue;
      let node = rootChild[l0]!;
      if (node < 0) continue;
      let w = rootWord[l0]!;
      if (single && (w & wordBit) !== 0) out.push(i - offset, i - offset, node);
      let j = i + 1;
      if (j >= n) continue;
      const l1 = labels[j]!;
      if ((l1 - 1) >>> 0 >= alpha) continue;
      if (l0 < side && l1 < side) {
        const p = 2 * (l0 * side + l1);
        node = pairs[p]!;
        if (node < 0) continue;
        w = pairs[p + 1]!;
        if ((w & wordBit) !== 0) out.push(i - offset, j - offset, node);
        j++;
      } else if (pfMask > 0) {
        const bit = pairHash(l0, l1) & pfMask;
        if ((pairFilter[bit >>> 5]! & (1 << (bit & 31))) === 0) continue;
      }
      for (; j < n; j++) {
        const l = labels[j]!;
        if ((l - 1) >>> 0 >= alpha) break;
        const sm = sigMask[l]!;
        if ((w & sm) !== sm) break;
        const key = node + 1;
        let s = slotOf(hash(key, l), cap);
        let kk = keys[2 * s]!;
        for (;;) {
          if (kk === EMPTY) break;
          if (kk === key) {
            w = keys[2 * s + 1]!;
            if ((w & labelMask) === l) break;
          }
          if (++s === cap) s = 0;
          kk = keys[2 * s]!;
        }
        if (kk === EMPTY) break;
        node = s;
        if ((w & wordBit) !== 0) out.push(i - offset, j - offset, node);
      }
    }
  }

  /**
   * The interleaved matcher: every match of `labels[0..n)` that starts in `from … to − 1`, sorted
   * by (start, end), into the scratch's match arrays (positions in `labels`). Returns the count.
   */
  private walkAll(labels: Int32Array, n: number, from: number, to: number): number {
    const sc = this.scratch;
    sc.ensure(to - from + 1);
    const { keys, cap } = this.table;
    const { wordBit, sigMask } = this.layout;
    const alpha = this.alphabet;
    const rootChild = this.rootChild;
    const rootWord = this.rootWord;
    const single = this.singleCharNames;
    const pairs = this.pairs;
    const side = this.pairSide;
    const pairFilter = this.pairFilter;
    const pfMask = pairFilter.length * 32 - 1;
    const wStart = sc.start;
    const wNode = sc.node;
    const wWord = sc.word;
    const wSlot = sc.slot;
    const gathered = sc.gathered;
    const pStart = sc.pairStart;
    const pIdx = sc.pairIndex;
    let mStart = sc.mStart;
    let mEnd = sc.mEnd;
    let mNode = sc.mNode;
    let nm = 0;

    // Round 0: the first two characters of every walk. Over two labels below `side` it is one
    // access to the pair table (pStart/pIdx); otherwise a probe for the second character from the
    // depth-1 node (wStart, wNode, wSlot), which the pair filter and the signature mostly avoid.
    let np = 0;
    let ng = 0;
    for (let i = from; i < to; i++) {
      const l0 = labels[i]!;
      if ((l0 - 1) >>> 0 >= alpha) continue;
      const r = rootChild[l0]!;
      if (r < 0) continue;
      if (single && (rootWord[l0]! & wordBit) !== 0) {
        if (nm === mStart.length) {
          sc.growMatches();
          mStart = sc.mStart;
          mEnd = sc.mEnd;
          mNode = sc.mNode;
        }
        mStart[nm] = i;
        mEnd[nm] = i;
        mNode[nm++] = r;
      }
      if (i + 1 >= n) continue;
      const l1 = labels[i + 1]!;
      if ((l1 - 1) >>> 0 >= alpha) continue;
      if (l0 < side && l1 < side) {
        pStart[np] = i;
        pIdx[np++] = 2 * (l0 * side + l1);
        continue;
      }
      if (pfMask > 0) {
        const bit = pairHash(l0, l1) & pfMask;
        if ((pairFilter[bit >>> 5]! & (1 << (bit & 31))) === 0) continue;
      }
      const sm = sigMask[l1]!;
      if ((rootWord[l0]! & sm) !== sm) continue;
      wStart[ng] = i;
      wNode[ng] = r;
      wSlot[ng++] = slotOf(hash(r + 1, l1), cap);
    }
    // Gather (independent loads, no branch on their values), then resolve from the cache.
    for (let k = 0; k < ng; k++) gathered[k] = keys[2 * wSlot[k]!]!;
    sc.matches = nm;
    let na = this.resolveProbes(labels, 1, ng);
    nm = sc.matches;
    mStart = sc.mStart;
    mEnd = sc.mEnd;
    mNode = sc.mNode;
    // Gather the pair entries in a loop of its own: a short loop body keeps many misses in flight.
    for (let k = 0; k < np; k++) gathered[k] = pairs[pIdx[k]!]!;
    for (let k = 0; k < np; k++) {
      const node = gathered[k]!;
      if (node < 0) continue;
      const i = pStart[k]!;
      const w = pairs[pIdx[k]! + 1]!;
      if ((w & wordBit) !== 0) {
        if (nm === mStart.length) {
          sc.growMatches();
          mStart = sc.mStart;
          mEnd = sc.mEnd;
          mNode = sc.mNode;
        }
        mStart[nm] = i;
        mEnd[nm] = i + 1;
        mNode[nm++] = node;
      }
      wStart[na] = i;
      wNode[na] = node;
      wWord[na++] = w;
    }

    // Round d >= 2: every walk (at depth d) advances by the character at start + d.
    sc.matches = nm;
    for (let d = 2; na > 0; d++) {
      // The next label of each walk, checked against its node's child signature; the survivors
      // get the home slot of their probe.
      let m = 0;
      for (let k = 0; k < na; k++) {
        const start = wStart[k]!;
        const j = start + d;
        if (j >= n) continue;
        const l = labels[j]!;
        if ((l - 1) >>> 0 >= alpha) continue;
        const sm = sigMask[l]!;
        if ((wWord[k]! & sm) !== sm) continue;
        const node = wNode[k]!;
        wStart[m] = start;
        wNode[m] = node;
        wSlot[m++] = slotOf(hash(node + 1, l), cap);
      }
      na = m;
      // Gather: one independent load per walk, in a loop short enough that the CPU keeps dozens
      // of them in flight (their cache and TLB misses overlap).
      for (let k = 0; k < na; k++) gathered[k] = keys[2 * wSlot[k]!]!;
      // Resolve the probes (their first lines are in the cache now).
      na = this.resolveProbes(labels, d, na);
    }
    nm = sc.matches;

    // Counting sort by start. Each start has one walk, which found its matches by increasing end,
    // so a stable sort by start gives EasyNLP's (start, end) order.
    if (nm > 1) sc.sortByStart(nm, from, to - from);
    return nm;
  }

  /**
   * Resolves the `na` probes of one round of {@link walkAll}: walk k (start `wStart[k]`, at node
   * `wNode[k]`) looks for the child labelled `labels[start + d]` from home slot `wSlot[k]`, whose
   * first key is `gathered[k]`. The walks that find it move to it (compacted in place, with its
   * label word in `wWord`) and record a match (start, start + d) where a name ends there (from
   * `sc.matches` on). Returns the walks left.
   */
  private resolveProbes(labels: Int32Array, d: number, na: number): number {
    const sc = this.scratch;
    const { keys, cap } = this.table;
    const { wordBit, labelMask } = this.layout;
    const wStart = sc.start;
    const wNode = sc.node;
    const wWord = sc.word;
    const wSlot = sc.slot;
    const gathered = sc.gathered;
    let mStart = sc.mStart;
    let mEnd = sc.mEnd;
    let mNode = sc.mNode;
    let nm = sc.matches;
    let m = 0;
    for (let k = 0; k < na; k++) {
      const key = wNode[k]! + 1;
      const start = wStart[k]!;
      const l = labels[start + d]!;
      let s = wSlot[k]!;
      let kk = gathered[k]!;
      let w = 0;
      for (;;) {
        if (kk === EMPTY) break;
        if (kk === key) {
          w = keys[2 * s + 1]!;
          if ((w & labelMask) === l) break;
        }
        if (++s === cap) s = 0;
        kk = keys[2 * s]!;
      }
      if (kk === EMPTY) continue;
      if ((w & wordBit) !== 0) {
        if (nm === mStart.length) {
          sc.growMatches();
          mStart = sc.mStart;
          mEnd = sc.mEnd;
          mNode = sc.mNode;
        }
        mStart[nm] = start;
        mEnd[nm] = start + d;
        mNode[nm++] = s;
      }
      // m <= k: the walk arrays are compacted in place.
      wStart[m] = start;
      wNode[m] = s;
      wWord[m++] = w;
    }
    sc.matches = nm;
    return m;
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
    return this.entityMatches(buf, 0, Math.min(buf.count, maxMatches));
  }

  /**
   * {@link matchTokens} of many token sequences at once (the same results, in input order). The
   * walks of all sequences are interleaved, which is much faster on big lexicons: use it wherever
   * sentences come in batches.
   */
  matchTokensBatch(
    tokenLists: readonly (readonly string[])[],
    maxMatches = Number.POSITIVE_INFINITY,
  ): EntityMatches[] {
    if (!this.interleave) return tokenLists.map((t) => this.matchTokens(t, maxMatches));
    // All labels in one array (views per sequence).
    let total = 0;
    for (const t of tokenLists) total += t.length;
    if (this.tokenLabels.length < total) {
      this.tokenLabels = new Int32Array(Math.max(total, 2 * this.tokenLabels.length));
    }
    const seqs: Int32Array[] = new Array(tokenLists.length);
    let o = 0;
    for (let b = 0; b < tokenLists.length; b++) {
      const t = tokenLists[b]!;
      seqs[b] = this.labelTokens(t, this.tokenLabels.subarray(o, o + t.length));
      o += t.length;
    }
    const buf = this.tokenMatches;
    buf.count = 0;
    const counts = this.matchLabelsBatch(seqs, buf);
    const res: EntityMatches[] = new Array(tokenLists.length);
    let k = 0;
    for (let b = 0; b < tokenLists.length; b++) {
      res[b] = this.entityMatches(buf, k, k + Math.min(counts[b]!, maxMatches));
      k += counts[b]!;
    }
    return res;
  }

  private entityMatches(buf: MatchBuffer, from: number, to: number): EntityMatches {
    const n = Math.max(0, to - from);
    const res: EntityMatches = { starts: new Array(n), ends: new Array(n), ids: new Array(n) };
    // Gather the ids first (independent loads into a big array), then format them.
    const values = this.table.values;
    const nodes = buf.nodes;
    if (this.idScratch.length < n)
      this.idScratch = new Int32Array(Math.max(n, 2 * this.idScratch.length));
    const ids = this.idScratch;
    for (let k = 0; k < n; k++) ids[k] = values[nodes[from + k]!]!;
    for (let k = 0; k < n; k++) {
      res.starts[k] = buf.starts[from + k]!;
      res.ends[k] = buf.ends[from + k]!;
      const v = ids[k]!;
      res.ids[k] = v >= 0 ? String(v) : this.stringIds[-v - 2]!;
    }
    return res;
  }

  /**
   * Saves the lexicon in a binary file (a JSON header, then the typed arrays), written atomically.
   * {@link Lexicon.load} maps it back in one read, much faster than re-reading `entity2id.txt`.
   */
  async save(file: string): Promise<void> {
    const { table, bmpLabel, astralLabel, rootChild, stringIds, entries, nodes, filter } = this;
    await writeLexiconFile(
      file,
      { table, bmpLabel, astralLabel, rootChild, stringIds, entries, nodes, filter },
      this.layout,
    );
  }

  /**
   * Loads a file written by {@link Lexicon.save} (format 2; a format-1 file from 0.1.0 raises an
   * error saying to rebuild it). The direct pair table is rebuilt (`pairTableBytesPerEntry`,
   * default 8, as in {@link LexiconBuilderOptions}).
   */
  static async load(
    file: string,
    options: { pairTableBytesPerEntry?: number; matcher?: MatcherKind } = {},
  ): Promise<Lexicon> {
    checkMatcher(options.matcher ?? 'auto');
    const lexicon = new Lexicon(
      await readLexiconFile(file),
      options.pairTableBytesPerEntry ?? DEFAULT_PAIR_BYTES,
    );
    lexicon.matcher = options.matcher ?? 'auto';
    return lexicon;
  }

  stats(): LexiconStats {
    const bytes =
      this.table.keys.byteLength +
      this.table.values.byteLength +
      this.bmpLabel.byteLength +
      this.rootChild.byteLength +
      this.filter.byteLength +
      this.pairs.byteLength +
      this.pairFilter.byteLength +
      this.rootWord.byteLength +
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
