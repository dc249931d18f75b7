import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BertTokenizer,
  buildCharVocab,
  ConfigError,
  reservedTokens,
  Vocab,
  validateTokenizerConfig,
} from '../src';

// A small vocabulary in the Chinese BERT layout; expected tokens below are derived by hand from the
// BERT basic + WordPiece rules.
const WORDS = [
  'hello',
  ',',
  '世',
  '界',
  '!',
  '红',
  '色',
  '连',
  '衣',
  '裙',
  '2022',
  '年',
  'iphone',
  '12',
  'pro',
  '##s',
  'max',
  'a',
  '##b',
  'nandu',
  '，',
  '！',
  '（',
  '）',
  'ok',
  '中',
  '国',
  'カタカナ',
  'cafe',
  '##fe',
  'ca',
  '.',
  '5',
  '##0',
  '%',
];
const vocab = new Vocab([...reservedTokens(), ...WORDS]);
const tok = new BertTokenizer(vocab);

describe('BertTokenizer', () => {
  it('splits CJK per character, lower-cases and splits punctuation', () => {
    expect(tok.tokenize('Hello, 世界!')).toEqual(['hello', ',', '世', '界', '!']);
    expect(tok.tokenize('红色连衣裙')).toEqual(['红', '色', '连', '衣', '裙']);
    expect(tok.tokenize('2022年iPhone 12 Pros MAX')).toEqual([
      '2022',
      '年',
      'iphone',
      '12',
      'pro',
      '##s',
      'max',
    ]);
  });

  it('handles full-width punctuation, accents, control and zero-width characters', () => {
    expect(tok.tokenize('中国（OK）！')).toEqual(['中', '国', '（', 'ok', '）', '！']);
    expect(tok.tokenize('Ñandú')).toEqual(['nandu']);
    // U+200B is format (Cf) and removed; U+3000 is a space separator; \t is whitespace.
    expect(tok.tokenize('a\u200bb\u3000中\t国')).toEqual(['a', '##b', '中', '国']);
    // NUL and U+FFFD are dropped.
    expect(tok.tokenize('\u0000中\ufffd国')).toEqual(['中', '国']);
  });

  it('gives [UNK] for unknown words and emoji, whole-word', () => {
    expect(tok.tokenize('红😀色')).toEqual(['红', '[UNK]', '色']);
    expect(tok.tokenize('a😀b')).toEqual(['[UNK]']);
    // Full-width letters/digits are not folded by NFD: an unknown word.
    expect(tok.tokenize('ＡＢＣ１２３')).toEqual(['[UNK]']);
    // Kana are not "Chinese characters": the run stays one word.
    expect(tok.tokenize('カタカナ')).toEqual(['カタカナ']);
    expect(tok.tokenize('x'.repeat(101))).toEqual(['[UNK]']);
  });

  it('uses greedy longest-match-first WordPiece', () => {
    expect(tok.tokenize('cafe')).toEqual(['cafe']);
    expect(tok.tokenize('café')).toEqual(['cafe']);
    expect(tok.tokenize('5.0%')).toEqual(['5', '.', '[UNK]', '%']);
    expect(tok.tokenize('50%')).toEqual(['5', '##0', '%']);
  });

  it('keeps special tokens verbatim', () => {
    expect(tok.tokenize('红[MASK]色')).toEqual(['红', '[MASK]', '色']);
    expect(tok.tokenize('[mask]')).toEqual(['[UNK]', '[UNK]', '[UNK]']);
  });

  it('encodes without [CLS]/[SEP], truncating and right-padding with [PAD] to textLen', () => {
    const { ids, seqLen, tokens } = tok.encode('红色连衣裙');
    expect(seqLen).toBe(5);
    expect(tokens).toEqual(['红', '色', '连', '衣', '裙']);
    expect(ids.length).toBe(32);
    expect(Array.from(ids.slice(0, 6))).toEqual([
      vocab.id('红'),
      vocab.id('色'),
      vocab.id('连'),
      vocab.id('衣'),
      vocab.id('裙'),
      0,
    ]);
    expect(ids[31]).toBe(0);
    const long = tok.encode('红'.repeat(40), 32);
    expect(long.seqLen).toBe(40);
    expect(long.ids.length).toBe(32);
    expect(Array.from(new Set(long.ids))).toEqual([vocab.id('红')]);
    expect(tok.decode(tok.encode('世界').ids)).toEqual(['世', '界']);
    expect(tok.padId).toBe(0);
    expect(tok.unkId).toBe(100);
  });

  it('validates its config and vocab', () => {
    expect(() => validateTokenizerConfig({ textLen: 0 })).toThrow(/textLen/);
    expect(() => new BertTokenizer(new Vocab(['a']))).toThrow(ConfigError);
    const cased = new BertTokenizer(vocab, { doLowerCase: false });
    expect(cased.tokenize('OK ok')).toEqual(['[UNK]', 'ok']);
  });
});

describe('Vocab files and buildCharVocab', () => {
  it('reads vocab.txt with the last duplicate winning and round-trips', async () => {
    const v = Vocab.fromText('[PAD]\r\na\nb\na\n');
    expect(v.size).toBe(4);
    expect(v.id('[PAD]')).toBe(0);
    expect(v.id('a')).toBe(3);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-'));
    const file = path.join(dir, 'vocab.txt');
    await vocab.save(file);
    expect(Vocab.fromFile(file).tokens).toEqual(vocab.tokens);
    // Invalid UTF-8 names the line it is on (a text file).
    fs.writeFileSync(file, Buffer.from([0x61, 0x0a, 0x62, 0x0a, 0x63, 0xff, 0x0a]));
    expect(() => Vocab.fromFile(file)).toThrow(/vocab\.txt:3: invalid UTF-8 byte 0xff/);
    fs.rmSync(dir, { recursive: true });
  });

  it('builds a character vocabulary with the BERT special layout', () => {
    const v = buildCharVocab(['红色连衣裙', '红色T恤 iPhone', '夏季！'], { includeAscii: false });
    expect(v.tokens.slice(0, 5)).toEqual([
      '[PAD]',
      '[unused1]',
      '[unused2]',
      '[unused3]',
      '[unused4]',
    ]);
    expect(v.id('[UNK]')).toBe(100);
    expect(v.id('[CLS]')).toBe(101);
    expect(v.id('[SEP]')).toBe(102);
    expect(v.id('[MASK]')).toBe(103);
    // Every seen character as a single token in code-point order, then `##` continuations.
    const rest = v.tokens.slice(104);
    expect(rest).toEqual([
      'e',
      'h',
      'i',
      'n',
      'o',
      'p',
      't',
      '夏',
      '季',
      '恤',
      '红',
      '色',
      '衣',
      '裙',
      '连',
      '！',
      '##e',
      '##h',
      '##n',
      '##o',
      '##p',
    ]);
    const t = new BertTokenizer(v);
    expect(t.tokenize('红色iPhone')).toEqual(['红', '色', 'i', '##p', '##h', '##o', '##n', '##e']);
  });

  it('caps the size by frequency and includes ASCII by default', () => {
    const v = buildCharVocab(['甲甲甲乙乙丙'], { includeAscii: false, maxSize: 106 });
    expect(v.tokens.slice(104)).toEqual(['乙', '甲']);
    const a = buildCharVocab([]);
    expect(a.has('a')).toBe(true);
    expect(a.has('##a')).toBe(true);
    expect(a.has('A')).toBe(false);
    expect(a.has('!')).toBe(true);
    expect(() => buildCharVocab([], { maxSize: 10 })).toThrow(/maxSize/);
  });
});
