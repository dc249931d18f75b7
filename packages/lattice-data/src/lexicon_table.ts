/**
 * Storage of the entity lexicon: a character trie in flat typed arrays. Every trie node is a slot of
 * one open-addressing hash table keyed by (parent node, character), so a node's id IS its slot and
 * no child pointers are stored. A slot costs 12 bytes (parent, label word, value); at the default
 * final load factor of 0.45 and ~2.6 nodes per 2-6 character name this is ~70 bytes per entry,
 * against ~0.9 KB for a Python dict trie. A transition is one linear-probing lookup (one cache miss).
 *
 * The label word of a node packs its character label, its word flag and a child signature: a small
 * Bloom filter (2 bits per child label) of the labels of its children ({@link LabelLayout}). The
 * first step of a walk can go through a direct table of 2-character paths ({@link buildPairTable}).
 *
 * Internal to the package: {@link Lexicon} (lexicon_match.ts) matches over these arrays,
 * {@link LexiconBuilder} (lexicon_builder.ts) fills them, lexicon_file.ts stores them.
 */

export const EMPTY = 0;
/** Parent field of depth-1 nodes (the root has no slot). All table words stay in int32 (Smi) range. */
export const ROOT_KEY = -1;
/** `values[node]` of a node that ends no word. */
export const NO_WORD = -1;
/**
 * Label words in the builder and in files (format 2): the label in the low 29 bits, and this bit
 * when a name ends at the node. A {@link Lexicon} repacks them in memory (see {@link LabelLayout}).
 */
export const WORD_BIT = 1 << 29;
export const LABEL_MASK = WORD_BIT - 1;

export function hash(parentKey: number, label: number): number {
  let h = Math.imul(parentKey, 0x9e3779b1) ^ Math.imul(label + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** Rolling hash of a label path (the prefix filter's key): depth 1 starts from `PREFIX_SEED`. */
export const PREFIX_SEED = 0x1234567;
export function prefixMix(h: number, label: number): number {
  h = Math.imul(h ^ label, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

/** Slot of `h` in a table of `cap` slots (multiply-high, works for any capacity). */
export function slotOf(h: number, cap: number): number {
  return Math.floor((h * cap) / 4294967296);
}

/** Default budget of the direct 2-character table, bytes per entry. */
export const DEFAULT_PAIR_BYTES = 8;
/** Bytes of one pair-table entry: the depth-2 node and a copy of its label word. */
export const PAIR_ENTRY_BYTES = 8;

/**
 * In-memory layout of a node's label word: `[signature | word flag | label]`, with `labelBits`
 * just wide enough for the alphabet and the rest of the 31 non-sign bits for the signature.
 */
export interface LabelLayout {
  labelBits: number;
  labelMask: number;
  wordBit: number;
  /** `sigMask[label]`: the signature bits of a child with this label (already shifted). */
  sigMask: Int32Array;
}

export function labelLayout(alphabet: number): LabelLayout {
  const labelBits = Math.max(1, 32 - Math.clz32(alphabet));
  const sigShift = labelBits + 1;
  const sigBits = 30 - labelBits;
  const sigMask = new Int32Array(alphabet + 1);
  for (let l = 1; l <= alphabet; l++) {
    const b1 = (Math.imul(l, 0x9e3779b1) >>> 0) % sigBits;
    // Two bits per label when there is room: most nodes have 0-2 children, where a 2-bit
    // signature has fewer false positives than a 1-bit one.
    const b2 = sigBits >= 12 ? (Math.imul(l, 0x85ebca6b) >>> 0) % sigBits : b1;
    sigMask[l] = ((1 << b1) | (1 << b2)) << sigShift;
  }
  return { labelBits, labelMask: (1 << labelBits) - 1, wordBit: 1 << labelBits, sigMask };
}

/**
 * Repacks the label words of `keys` from the file layout into `layout` and ORs the signature of
 * every child into its parent's word.
 */
export function packLabelWords(keys: Int32Array, cap: number, layout: LabelLayout): void {
  const { wordBit, labelMask, sigMask } = layout;
  for (let s = 0; s < cap; s++) {
    if (keys[2 * s] === EMPTY) continue;
    const w = keys[2 * s + 1]!;
    keys[2 * s + 1] = (w & LABEL_MASK) | ((w & WORD_BIT) !== 0 ? wordBit : 0);
  }
  for (let s = 0; s < cap; s++) {
    const pk = keys[2 * s]!;
    if (pk > 0) keys[2 * (pk - 1) + 1]! |= sigMask[keys[2 * s + 1]! & labelMask]!;
  }
}

/** The file-layout label word of an in-memory one. */
export function fileLabelWord(w: number, layout: LabelLayout): number {
  return (w & layout.labelMask) | ((w & layout.wordBit) !== 0 ? WORD_BIT : 0);
}

/**
 * Fills the direct table of 2-character paths over labels below `side` (chosen from the budget),
 * from the depth-2 nodes of the trie: `pairs[2p]` is the node (-1 if none), `pairs[2p + 1]` a
 * copy of its label word. Returns [table, side]; side 0 means no table.
 */
export function buildPairTable(
  table: Table,
  rootChild: Int32Array,
  entries: number,
  bytesPerEntry: number,
  labelMask: number,
): [Int32Array, number] {
  const side = Math.min(
    rootChild.length,
    Math.floor(Math.sqrt((bytesPerEntry * Math.max(entries, 1)) / PAIR_ENTRY_BYTES)),
  );
  if (side < 2) return [new Int32Array(0), 0];
  const pairs = new Int32Array(2 * side * side).fill(-1);
  const { keys, cap } = table;
  for (let s = 0; s < cap; s++) {
    const pk = keys[2 * s]!;
    if (pk <= 0 || keys[2 * (pk - 1)] !== ROOT_KEY) continue;
    const l0 = keys[2 * (pk - 1) + 1]! & labelMask;
    const w = keys[2 * s + 1]!;
    const l1 = w & labelMask;
    if (l0 < side && l1 < side) {
      pairs[2 * (l0 * side + l1)] = s;
      pairs[2 * (l0 * side + l1) + 1] = w;
    }
  }
  return [pairs, side];
}

/**
 * A bitset over hashes of the 2-character paths (depth-2 nodes), 16 bits per path (about 6% false
 * positives): walks over characters the pair table does not cover check it before probing the
 * table for their second character. Empty when the pair table covers the whole alphabet.
 */
export function buildPairFilter(table: Table, labelMask: number): Int32Array {
  const { keys, cap } = table;
  let depth2 = 0;
  for (let s = 0; s < cap; s++) {
    const pk = keys[2 * s]!;
    if (pk > 0 && keys[2 * (pk - 1)] === ROOT_KEY) depth2++;
  }
  const bits = 2 ** Math.max(10, Math.ceil(Math.log2(16 * depth2)));
  const filter = new Int32Array(bits / 32);
  const mask = bits - 1;
  for (let s = 0; s < cap; s++) {
    const pk = keys[2 * s]!;
    if (pk <= 0 || keys[2 * (pk - 1)] !== ROOT_KEY) continue;
    const bit = pairHash(keys[2 * (pk - 1) + 1]! & labelMask, keys[2 * s + 1]! & labelMask) & mask;
    filter[bit >>> 5]! |= 1 << (bit & 31);
  }
  return filter;
}

export function pairHash(l0: number, l1: number): number {
  return prefixMix(prefixMix(PREFIX_SEED, l0), l1);
}

export function growInt32(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

export interface Table {
  cap: number;
  /** [parent+1 or ROOT_KEY (0 = empty), label word] per slot. */
  keys: Int32Array;
  values: Int32Array;
}

export function newTable(cap: number): Table {
  return { cap, keys: new Int32Array(cap * 2), values: new Int32Array(cap).fill(NO_WORD) };
}

/** The arrays a {@link Lexicon} is made of: what the builder produces and the lexicon file stores. */
export interface LexiconParts {
  table: Table;
  /** Dense label (1 … alphabet) of each BMP code point, 0 for characters in no name. */
  bmpLabel: Uint32Array;
  /** Dense label of each astral code point that occurs in a name. */
  astralLabel: Map<number, number>;
  /** Depth-1 node of each label (-1 if none); index 0 unused. */
  rootChild: Int32Array;
  /** Ids that are not canonical int32s, referenced from `values` as `-k - 2`. */
  stringIds: string[];
  /** Distinct names stored. */
  entries: number;
  /** Trie nodes (= occupied slots). */
  nodes: number;
  /**
   * Bitset over the prefix hashes of every trie path of 2+ characters (no false negatives), only
   * kept in files for readers of 0.1.x; matching uses the per-node child signatures instead.
   */
  filter: Int32Array;
}
