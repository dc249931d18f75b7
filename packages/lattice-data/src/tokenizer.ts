/**
 * BERT WordPiece tokenization for Chinese, as EasyNLP's ARTIST uses it: the HuggingFace/Google BERT
 * basic tokenizer (text cleaning, a space around every CJK character, lower-casing, accent
 * stripping, punctuation split) followed by greedy longest-match-first WordPiece with `##`
 * continuations. ARTIST adds no `[CLS]`/`[SEP]`; ids are truncated and right-padded with `[PAD]` to
 * `textLen` (32).
 */
import fs from 'node:fs';
import { atomicWriteFile } from '@artist-ts/core/files';
import { ConfigError, DataFormatError } from './errors';
import { firstInvalidUtf8 } from './lines';
import { pySplitWhitespace } from './text_utils';

/** The special tokens of a BERT vocabulary. */
export const SPECIAL_TOKENS = {
  pad: '[PAD]',
  unk: '[UNK]',
  cls: '[CLS]',
  sep: '[SEP]',
  mask: '[MASK]',
} as const;

/** A BERT `vocab.txt`: one token per line, the line number (0-based) is the id. */
export class Vocab {
  private readonly ids = new Map<string, number>();

  /** `tokens[id]`; a duplicated token maps to its last line, as HuggingFace's `load_vocab` does. */
  constructor(readonly tokens: readonly string[]) {
    for (let i = 0; i < tokens.length; i++) this.ids.set(tokens[i]!, i);
  }

  /** Parses the text of a `vocab.txt` (lines end in `\n`; a trailing `\r` is dropped too). */
  static fromText(text: string): Vocab {
    const lines = text.split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return new Vocab(lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)));
  }

  static fromFile(file: string): Vocab {
    const bytes = fs.readFileSync(file);
    const bad = firstInvalidUtf8(bytes);
    if (bad >= 0) {
      // The line of the first bad byte (vocab.txt is a text file: lines, not byte offsets).
      let line = 1;
      for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
      throw new DataFormatError({ file, line }, `invalid UTF-8 byte 0x${bytes[bad]!.toString(16)}`);
    }
    return Vocab.fromText(bytes.toString('utf8'));
  }

  get size(): number {
    return this.tokens.length;
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  /** The id of `token`, or undefined. */
  id(token: string): number | undefined {
    return this.ids.get(token);
  }

  token(id: number): string {
    const t = this.tokens[id];
    if (t === undefined) throw new RangeError(`vocab: id ${id} out of range [0, ${this.size})`);
    return t;
  }

  /** The `vocab.txt` text (one token per line, `\n` after each). */
  toText(): string {
    return this.tokens.length === 0 ? '' : `${this.tokens.join('\n')}\n`;
  }

  /** Writes `vocab.txt` atomically. */
  async save(file: string): Promise<void> {
    await atomicWriteFile(file, this.toText());
  }
}

export interface TokenizerConfig {
  /** Lower-case (and, unless `stripAccents` is false, strip accents). Default true (ARTIST). */
  doLowerCase: boolean;
  /** Strip accents; undefined follows `doLowerCase`, as in HuggingFace. */
  stripAccents?: boolean;
  /** Put every CJK ideograph in its own token. Default true. */
  tokenizeChineseChars: boolean;
  /** Words longer than this (in code points) become `[UNK]`. Default 100. */
  maxInputCharsPerWord: number;
  /** Length of the id sequence after truncation/padding (ARTIST `text_len`). Default 32. */
  textLen: number;
  unkToken: string;
  padToken: string;
  /** Tokens split out of the text verbatim before basic tokenization (default: the five specials). */
  specialTokens: string[];
}

export const DEFAULT_TOKENIZER_CONFIG: Readonly<TokenizerConfig> = Object.freeze({
  doLowerCase: true,
  tokenizeChineseChars: true,
  maxInputCharsPerWord: 100,
  textLen: 32,
  unkToken: SPECIAL_TOKENS.unk,
  padToken: SPECIAL_TOKENS.pad,
  specialTokens: Object.values(SPECIAL_TOKENS),
});

/** Copies `config`, fills defaults and checks every field; throws a {@link ConfigError}. */
export function validateTokenizerConfig(config: Partial<TokenizerConfig> = {}): TokenizerConfig {
  const c: TokenizerConfig = {
    ...DEFAULT_TOKENIZER_CONFIG,
    specialTokens: [...DEFAULT_TOKENIZER_CONFIG.specialTokens],
    ...config,
  };
  for (const k of ['doLowerCase', 'tokenizeChineseChars'] as const) {
    if (typeof c[k] !== 'boolean') throw new ConfigError(k, `must be a boolean, got ${c[k]}`);
  }
  if (c.stripAccents !== undefined && typeof c.stripAccents !== 'boolean') {
    throw new ConfigError('stripAccents', 'must be a boolean or undefined');
  }
  for (const k of ['maxInputCharsPerWord', 'textLen'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) {
      throw new ConfigError(k, `must be a positive integer, got ${c[k]}`);
    }
  }
  for (const k of ['unkToken', 'padToken'] as const) {
    if (typeof c[k] !== 'string' || c[k] === '')
      throw new ConfigError(k, 'must be a non-empty string');
  }
  if (!Array.isArray(c.specialTokens) || c.specialTokens.some((t) => typeof t !== 'string' || !t)) {
    throw new ConfigError('specialTokens', 'must be an array of non-empty strings');
  }
  return c;
}

/** True for code points in BERT's "CJK character" blocks (ideographs, not kana/hangul). */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

const RE_CONTROL = /^\p{C}$/u;
const RE_ZS = /^\p{Zs}$/u;
const RE_PUNCT = /^\p{P}$/u;
const RE_MN = /\p{Mn}/gu;

/** BERT `_is_punctuation`: ASCII non-alphanumerics count, plus every Unicode `P*` character. */
export function isPunctuation(ch: string, cp: number): boolean {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96)) return true;
  if (cp >= 123 && cp <= 126) return true;
  return cp >= 128 && !isChineseChar(cp) && RE_PUNCT.test(ch);
}

function isWhitespaceChar(ch: string, cp: number): boolean {
  return cp === 0x20 || cp === 0x09 || cp === 0x0a || cp === 0x0d || (cp >= 0x80 && RE_ZS.test(ch));
}

function isControlChar(ch: string, cp: number): boolean {
  if (cp === 0x09 || cp === 0x0a || cp === 0x0d) return false;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return true;
  return cp >= 0xa0 && RE_CONTROL.test(ch);
}

/**
 * BERT tokenizer: `tokenize(text)` gives WordPiece tokens, `encode(text)` the padded ids.
 *
 * ```ts
 * const tok = new BertTokenizer(Vocab.fromFile('vocab.txt'));
 * tok.tokenize('红色iPhone 12!'); // ['红', '色', 'iphone', '12', '!'] (depending on the vocab)
 * tok.encode('红色连衣裙').ids;   // Int32Array(32) padded with the [PAD] id
 * ```
 */
export class BertTokenizer {
  readonly config: TokenizerConfig;
  readonly padId: number;
  readonly unkId: number;
  private readonly stripAccents: boolean;
  private readonly specials: string[];
  private readonly specialSet: Set<string>;

  constructor(
    readonly vocab: Vocab,
    config: Partial<TokenizerConfig> = {},
  ) {
    this.config = validateTokenizerConfig(config);
    const pad = vocab.id(this.config.padToken);
    const unk = vocab.id(this.config.unkToken);
    if (pad === undefined)
      throw new ConfigError('padToken', `${this.config.padToken} is not in the vocab`);
    if (unk === undefined)
      throw new ConfigError('unkToken', `${this.config.unkToken} is not in the vocab`);
    this.padId = pad;
    this.unkId = unk;
    this.stripAccents = this.config.stripAccents ?? this.config.doLowerCase;
    // Longest first so that a special token containing another one wins.
    this.specials = [...new Set(this.config.specialTokens)].sort((a, b) => b.length - a.length);
    this.specialSet = new Set(this.specials);
  }

  static fromVocabFile(file: string, config: Partial<TokenizerConfig> = {}): BertTokenizer {
    return new BertTokenizer(Vocab.fromFile(file), config);
  }

  /** WordPiece tokens of `text` (no special tokens added, no truncation). */
  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const piece of this.splitOnSpecials(text)) {
      if (this.specialSet.has(piece)) {
        out.push(piece);
        continue;
      }
      for (const word of this.basicTokenize(piece)) this.wordPiece(word, out);
    }
    return out;
  }

  /**
   * Token ids truncated/padded to `textLen`, plus the token count of the full text (`seqLen`, which
   * EasyNLP stores as `seq_len`) and the tokens themselves.
   */
  encode(
    text: string,
    textLen = this.config.textLen,
  ): { ids: Int32Array; tokens: string[]; seqLen: number } {
    const tokens = this.tokenize(text);
    return { ids: this.tokensToIds(tokens, textLen), tokens, seqLen: tokens.length };
  }

  /** Ids of `tokens` (unknown tokens map to `[UNK]`), truncated and right-padded to `textLen`. */
  tokensToIds(tokens: readonly string[], textLen = this.config.textLen): Int32Array {
    const ids = new Int32Array(textLen).fill(this.padId);
    const n = Math.min(textLen, tokens.length);
    for (let i = 0; i < n; i++) ids[i] = this.vocab.id(tokens[i]!) ?? this.unkId;
    return ids;
  }

  /** Tokens of `ids`, dropping `[PAD]`. */
  decode(ids: ArrayLike<number>, { keepPad = false } = {}): string[] {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === this.padId && !keepPad) continue;
      out.push(this.vocab.token(id));
    }
    return out;
  }

  /** The basic tokenizer alone (cleaning, CJK split, lower-case, accents, punctuation). */
  basicTokenize(text: string): string[] {
    const cleaned = this.clean(text);
    const out: string[] = [];
    for (let token of pySplitWhitespace(cleaned)) {
      if (this.specialSet.has(token)) {
        out.push(token);
        continue;
      }
      if (this.config.doLowerCase) token = token.toLowerCase();
      if (this.stripAccents) token = token.normalize('NFD').replace(RE_MN, '');
      splitOnPunctuation(token, out);
    }
    // BERT re-splits the joined result on whitespace; accent stripping can leave empty tokens.
    return out.filter((t) => t.length > 0);
  }

  private clean(text: string): string {
    let out = '';
    const cjk = this.config.tokenizeChineseChars;
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      // Fast path first: an ideograph is never a control or whitespace character.
      if (isChineseChar(cp)) out += cjk ? ` ${ch} ` : ch;
      else if (cp === 0 || cp === 0xfffd || isControlChar(ch, cp)) continue;
      else if (isWhitespaceChar(ch, cp)) out += ' ';
      else out += ch;
    }
    return out;
  }

  private splitOnSpecials(text: string): string[] {
    if (this.specials.length === 0) return [text];
    let pieces = [text];
    for (const sp of this.specials) {
      const next: string[] = [];
      for (const p of pieces) {
        if (this.specialSet.has(p) || !p.includes(sp)) {
          next.push(p);
          continue;
        }
        const parts = p.split(sp);
        parts.forEach((part, i) => {
          if (i > 0) next.push(sp);
          if (part) next.push(part);
        });
      }
      pieces = next;
    }
    return pieces;
  }

  private wordPiece(word: string, out: string[]): void {
    const chars = Array.from(word);
    if (chars.length > this.config.maxInputCharsPerWord) {
      out.push(this.config.unkToken);
      return;
    }
    if (this.vocab.has(word)) {
      out.push(word);
      return;
    }
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | undefined;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        if (this.vocab.has(sub)) {
          found = sub;
          break;
        }
        end--;
      }
      if (found === undefined) {
        out.push(this.config.unkToken);
        return;
      }
      pieces.push(found);
      start = end;
    }
    for (const p of pieces) out.push(p);
  }
}

function splitOnPunctuation(token: string, out: string[]): void {
  let cur = '';
  for (const ch of token) {
    if (isPunctuation(ch, ch.codePointAt(0)!)) {
      if (cur) out.push(cur);
      out.push(ch);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
}

export interface CharVocabOptions {
  /** Keep characters seen at least this often (default 1). */
  minFreq?: number;
  /** Cap on the vocabulary size including the 104 reserved entries (default: no cap). */
  maxSize?: number;
  /** Always include printable ASCII (lower-cased when the tokenizer lower-cases). Default true. */
  includeAscii?: boolean;
  /** Extra characters to include regardless of frequency (e.g. a GB2312 list). */
  extraChars?: Iterable<string>;
  /**
   * Also add `##c` for every non-CJK character seen inside a longer word, so WordPiece can spell
   * Latin words and numbers character by character instead of giving `[UNK]`. Default true.
   */
  continuations?: boolean;
  /** Normalization the vocabulary is built for (lower-casing etc.); defaults as the tokenizer. */
  tokenizer?: Partial<TokenizerConfig>;
}

/** The reserved layout of Chinese BERT vocabularies: `[PAD]`=0, `[unused1..99]`, `[UNK]`=100 ... */
export function reservedTokens(): string[] {
  const out: string[] = [SPECIAL_TOKENS.pad];
  for (let i = 1; i <= 99; i++) out.push(`[unused${i}]`);
  out.push(SPECIAL_TOKENS.unk, SPECIAL_TOKENS.cls, SPECIAL_TOKENS.sep, SPECIAL_TOKENS.mask);
  return out;
}

/**
 * Builds a character vocabulary from a corpus with the Chinese BERT special-token layout
 * (`[PAD]`=0, `[unused1..99]`, `[UNK]`=100, `[CLS]`=101, `[SEP]`=102, `[MASK]`=103), then single
 * characters in code-point order, then `##` continuation characters. Texts are normalized exactly
 * as the tokenizer will normalize them, so every character of the corpus encodes to a known id.
 * When `maxSize` caps the vocabulary, the most frequent characters are kept (ties by code point).
 */
export function buildCharVocab(texts: Iterable<string>, options: CharVocabOptions = {}): Vocab {
  const minFreq = options.minFreq ?? 1;
  if (!Number.isInteger(minFreq) || minFreq < 1)
    throw new ConfigError('minFreq', 'must be an integer >= 1');
  const reserved = reservedTokens();
  if (
    options.maxSize !== undefined &&
    (!Number.isInteger(options.maxSize) || options.maxSize < reserved.length)
  ) {
    throw new ConfigError('maxSize', `must be an integer >= ${reserved.length}`);
  }
  // A throwaway tokenizer over the reserved tokens gives us the exact normalization.
  const norm = new BertTokenizer(new Vocab(reserved), options.tokenizer ?? {});
  const single = new Map<string, number>();
  const cont = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string, by: number) => m.set(k, (m.get(k) ?? 0) + by);
  for (const text of texts) {
    for (const word of norm.basicTokenize(text)) {
      if (norm.vocab.has(word)) continue;
      let first = true;
      for (const ch of word) {
        if (first) bump(single, ch, 1);
        else if (isChineseChar(ch.codePointAt(0)!)) bump(single, ch, 1);
        else {
          bump(cont, ch, 1);
          bump(single, ch, 0);
        }
        first = false;
      }
    }
  }
  const forced = new Set<string>();
  if (options.includeAscii ?? true) {
    for (let cp = 33; cp <= 126; cp++) {
      for (const w of norm.basicTokenize(String.fromCharCode(cp))) forced.add(w);
    }
  }
  for (const extra of options.extraChars ?? []) {
    for (const w of norm.basicTokenize(extra)) for (const ch of w) forced.add(ch);
  }
  const useCont = options.continuations ?? true;
  type Cand = { token: string; freq: number; cp: number };
  const cands: Cand[] = [];
  for (const [ch, f] of single) {
    if (forced.has(ch)) continue;
    const total = f + (cont.get(ch) ?? 0);
    if (total >= minFreq) cands.push({ token: ch, freq: total, cp: ch.codePointAt(0)! });
  }
  for (const ch of forced)
    cands.push({ token: ch, freq: Number.POSITIVE_INFINITY, cp: ch.codePointAt(0)! });
  if (useCont) {
    for (const [ch, f] of cont) {
      if (f >= minFreq || forced.has(ch))
        cands.push({ token: `##${ch}`, freq: f, cp: ch.codePointAt(0)! + 0x110000 });
    }
    if (options.includeAscii ?? true) {
      for (const ch of forced) {
        if (/^[a-z0-9]$/i.test(ch) && !cont.has(ch)) {
          cands.push({ token: `##${ch}`, freq: 0, cp: ch.codePointAt(0)! + 0x110000 });
        }
      }
    }
  }
  cands.sort((a, b) => b.freq - a.freq || a.cp - b.cp);
  const room = options.maxSize === undefined ? cands.length : options.maxSize - reserved.length;
  const kept = cands.slice(0, room).sort((a, b) => a.cp - b.cp);
  return new Vocab([...reserved, ...kept.map((c) => c.token)]);
}
