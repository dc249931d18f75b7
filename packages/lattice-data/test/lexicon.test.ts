import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '@artist-ts/runtime/rng';
import { Lexicon, LexiconBuilder, MatchBuffer } from '../src';

/** Independent reference: every substring tokens[i..j] that is a name, by start then end. */
function bruteForce(tokens: string[], names: Map<string, string>, minLen = 2) {
  const out: [number, number, string][] = [];
  for (let i = 0; i < tokens.length; i++) {
    for (let j = i; j < tokens.length; j++) {
      const parts = tokens.slice(i, j + 1);
      if (parts.some((t) => [...t].length !== 1)) break;
      const w = parts.join('');
      if ([...w].length >= minLen && names.has(w)) out.push([i, j, names.get(w)!]);
    }
  }
  return out;
}

describe('Lexicon', () => {
  it('enumerates all (nested, overlapping, repeated) matches in EasyNLP order', () => {
    const b = new LexiconBuilder();
    for (const [n, id] of [
      ['红色', '17'],
      ['连衣裙', '5'],
      ['衣裙', '9'],
      ['夏季', '3'],
      ['红', '1'],
    ] as const) {
      b.add(n, id);
    }
    const lex = b.finish();
    const m = lex.matchTokens([...'红色连衣裙女夏季红色']);
    expect(m.starts).toEqual([0, 2, 3, 6, 8]);
    expect(m.ends).toEqual([1, 4, 4, 7, 9]);
    expect(m.ids).toEqual(['17', '5', '9', '3', '17']);
    expect(lex.matchTokens([...'红色连衣裙女夏季红色'], 2).ids).toEqual(['17', '5']);
    expect(lex.get('红')).toBeUndefined();
  });

  it('keeps single characters when asked, and never matches multi-character tokens', () => {
    const b = new LexiconBuilder({ dropSingleChar: false });
    b.add('红', '1');
    b.add('ab', '2');
    b.add('😀笑', 'x');
    const lex = b.finish();
    expect(lex.matchTokens(['红', 'a', 'b', 'ab', '##b', '😀', '笑'])).toEqual({
      starts: [0, 1, 5],
      ends: [0, 2, 6],
      ids: ['1', '2', 'x'],
    });
  });

  it.each([
    ['with the prefix filter', 10],
    ['with a 1-bit filter', 1],
    ['without the filter', 0],
  ])('agrees with a brute-force matcher on random data across table growths, %s', (_, bits) => {
    const rng = new Rng(`lexicon-test-${bits}`);
    const alphabet = Array.from({ length: 40 }, (_, i) => String.fromCodePoint(0x4e00 + i));
    alphabet.push('a', 'b', '\u{20000}', '\u{1F600}');
    const names = new Map<string, string>();
    const b = new LexiconBuilder({ filterBitsPerNode: bits });
    for (let k = 0; k < 5000; k++) {
      const len = 1 + rng.int(6);
      let w = '';
      for (let c = 0; c < len; c++) w += alphabet[rng.int(alphabet.length)];
      const id = rng.uniform() < 0.1 ? `Q${k}` : String(k);
      b.add(w, id);
      if ([...w].length >= 2) names.set(w, id);
    }
    const lex = b.finish();
    expect(lex.entries).toBe(names.size);
    const st = lex.stats();
    expect(st.nodes).toBeGreaterThan(names.size);
    expect(st.nodes / st.capacity).toBeGreaterThan(0.4);
    expect(st.nodes / st.capacity).toBeLessThan(0.5);
    for (const [n, id] of names) if (rng.uniform() < 0.05) expect(lex.get(n)).toBe(id);
    const buf = new MatchBuffer(2);
    for (let s = 0; s < 200; s++) {
      const len = rng.int(40);
      const tokens: string[] = [];
      for (let c = 0; c < len; c++)
        tokens.push(rng.uniform() < 0.05 ? '[UNK]' : alphabet[rng.int(alphabet.length)]!);
      const want = bruteForce(tokens, names);
      const got = lex.matchTokens(tokens);
      expect(got.starts.map((st, k) => [st, got.ends[k], got.ids[k]])).toEqual(want);
      buf.count = 0;
      expect(lex.matchLabels(lex.labelTokens(tokens), tokens.length, buf)).toBe(want.length);
    }
  });

  it('rejects bad options', () => {
    expect(() => new LexiconBuilder({ finalLoad: 1 })).toThrow(/finalLoad/);
    const b = new LexiconBuilder();
    b.finish();
    expect(() => b.add('ab', '1')).toThrow(/after finish/);
  });
});

describe('Lexicon files', () => {
  it('saves and loads a binary lexicon with identical matches', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lex-'));
    const b = new LexiconBuilder();
    b.add('红色', '17');
    b.add('连衣裙', 'Q5');
    b.add('😀笑', '3');
    const lex = b.finish();
    const file = path.join(dir, 'lexicon.bin');
    await lex.save(file);
    const back = await Lexicon.load(file);
    const toks = [...'红色连衣裙😀笑'];
    expect(back.matchTokens(toks)).toEqual(lex.matchTokens(toks));
    expect(back.stats()).toEqual(lex.stats());
    fs.writeFileSync(file, 'garbage');
    await expect(Lexicon.load(file)).rejects.toThrow(/lexicon\.bin:1: not a lexicon file/);
    fs.rmSync(dir, { recursive: true });
  });
});
