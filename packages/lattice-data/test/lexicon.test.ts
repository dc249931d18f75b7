import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Rng } from '@artist-ts/core/rng';
import { type EntityMatches, Lexicon, LexiconBuilder, MatchBuffer, type MatcherKind } from '../src';

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
    ['with the prefix filter and a full pair table', 10, 8],
    ['with a 1-bit filter and a partial pair table', 1, 0.05],
    ['without the filter nor the pair table', 0, 0],
  ])(
    'agrees with a brute-force matcher on random data across table growths, %s',
    (_, bits, pairBytes) => {
      const rng = new Rng(`lexicon-test-${bits}`);
      const alphabet = Array.from({ length: 40 }, (_, i) => String.fromCodePoint(0x4e00 + i));
      alphabet.push('a', 'b', '\u{20000}', '\u{1F600}');
      const names = new Map<string, string>();
      const b = new LexiconBuilder({ filterBitsPerNode: bits, pairTableBytesPerEntry: pairBytes });
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
    },
  );

  it('reports word nodes from the label word and keeps earlier results intact', () => {
    const b = new LexiconBuilder();
    b.add('红色', '17');
    b.add('红色裙', '4');
    const lex = b.finish();
    const red = lex.child(-1, lex.label('红'.codePointAt(0)!));
    const redColor = lex.child(red, lex.label('色'.codePointAt(0)!));
    expect(lex.isWord(red)).toBe(false);
    expect(lex.isWord(redColor)).toBe(true);
    expect(lex.idOfNode(redColor)).toBe('17');
    // matchTokens reuses its scratch buffers: an earlier result must not change.
    const first = lex.matchTokens([...'红色裙']);
    lex.matchTokens([...'色红色红色']);
    expect(first).toEqual({ starts: [0, 0], ends: [1, 2], ids: ['17', '4'] });
    // Numeric ids given as numbers read back as their decimal strings.
    const c = new LexiconBuilder();
    c.add('夏季', 3);
    c.add('冬季', -1);
    c.add('春季', 2 ** 40);
    const lc = c.finish();
    expect([lc.get('夏季'), lc.get('冬季'), lc.get('春季')]).toEqual(['3', '-1', '1099511627776']);
  });

  it('rejects bad options', () => {
    expect(() => new LexiconBuilder({ finalLoad: 1 })).toThrow(/finalLoad/);
    expect(() => new LexiconBuilder({ pairTableBytesPerEntry: -1 })).toThrow(
      /pairTableBytesPerEntry/,
    );
    const b = new LexiconBuilder();
    b.finish();
    expect(() => b.add('ab', '1')).toThrow(/after finish/);
  });
});

describe('interleaved and batched matching', () => {
  const MATCHERS: MatcherKind[] = ['depth-first', 'interleaved', 'auto'];
  const triples = (m: EntityMatches) => m.starts.map((st, k) => [st, m.ends[k], m.ids[k]]);

  function randomCase(seed: string, options: ConstructorParameters<typeof LexiconBuilder>[0]) {
    const rng = new Rng(seed);
    const alphabet = Array.from({ length: 24 }, (_, i) => String.fromCodePoint(0x4e00 + i));
    alphabet.push('a', '\u{20000}', '\u{1F600}');
    const names = new Map<string, string>();
    const minLen = options?.dropSingleChar === false ? 1 : 2;
    const b = new LexiconBuilder(options);
    for (let k = 0; k < 3000; k++) {
      const len = 1 + rng.int(7);
      let w = '';
      for (let c = 0; c < len; c++) w += alphabet[rng.int(alphabet.length)];
      b.add(w, String(k));
      if ([...w].length >= minLen) names.set(w, String(k));
    }
    const token = () => {
      const u = rng.uniform();
      // Characters outside the lexicon's alphabet and multi-character tokens end walks.
      if (u < 0.03) return '[UNK]';
      if (u < 0.06) return '丁';
      return alphabet[rng.int(alphabet.length)]!;
    };
    const texts: string[][] = [[], ['一'], ['一', '丁']];
    for (let s = 0; s < 150; s++) texts.push(Array.from({ length: rng.int(48) }, token));
    // Longer than the interleaved matcher's chunk of start positions (1024).
    texts.push(Array.from({ length: 2600 }, token));
    for (let s = 0; s < 20; s++) texts.push([]);
    rng.shuffle(texts);
    return { rng, lexicon: b.finish(), names, texts, minLen };
  }

  it.each([
    ['full pair table', { pairTableBytesPerEntry: 64 }],
    [
      'partial pair table, single-character names',
      { pairTableBytesPerEntry: 0.2, dropSingleChar: false },
    ],
    ['no pair table', { pairTableBytesPerEntry: 0 }],
  ] as const)(
    'every matcher and batch size gives the single-sentence results (%s)',
    (_, options) => {
      const { rng, lexicon, names, texts, minLen } = randomCase(
        `batch-${JSON.stringify(options)}`,
        options,
      );
      lexicon.matcher = 'depth-first';
      const single = texts.map((t) => lexicon.matchTokens(t));
      // The depth-first walk against the independent brute force (short texts).
      for (let s = 0; s < texts.length; s++) {
        if (texts[s]!.length <= 48)
          expect(triples(single[s]!)).toEqual(bruteForce(texts[s]!, names, minLen));
      }
      expect(single.some((m) => m.starts.length > 10)).toBe(true);
      for (const matcher of MATCHERS) {
        lexicon.matcher = matcher;
        expect(lexicon.matcher).toBe(matcher);
        // One at a time.
        expect(texts.map((t) => lexicon.matchTokens(t))).toEqual(single);
        // All at once, and in batches of random sizes (including batches shorter than a chunk and
        // batches of empty texts).
        expect(lexicon.matchTokensBatch(texts)).toEqual(single);
        for (let b0 = 0; b0 < texts.length; ) {
          const b1 = Math.min(texts.length, b0 + 1 + rng.int(12));
          expect(lexicon.matchTokensBatch(texts.slice(b0, b1))).toEqual(single.slice(b0, b1));
          b0 = b1;
        }
        // EasyNLP's entity_num cap keeps the first 10 of each text.
        const capped = single.map((m) => ({
          starts: m.starts.slice(0, 10),
          ends: m.ends.slice(0, 10),
          ids: m.ids.slice(0, 10),
        }));
        expect(lexicon.matchTokensBatch(texts, 10)).toEqual(capped);
        expect(texts.map((t) => lexicon.matchTokens(t, 10))).toEqual(capped);
        // The label-level batch API appends to a buffer that already holds matches.
        const out = new MatchBuffer(1);
        out.push(-7, -7, -7);
        const seqs = texts.map((t) => lexicon.labelTokens(t));
        const counts = lexicon.matchLabelsBatch(seqs, out);
        expect(Array.from(counts)).toEqual(single.map((m) => m.starts.length));
        expect([out.starts[0], out.count]).toEqual([
          -7,
          1 + single.reduce((a, m) => a + m.starts.length, 0),
        ]);
        let k = 1;
        for (let s = 0; s < texts.length; s++) {
          for (let q = 0; q < single[s]!.starts.length; q++, k++) {
            expect([out.starts[k], out.ends[k], lexicon.idOfNode(out.nodes[k]!)]).toEqual([
              single[s]!.starts[q],
              single[s]!.ends[q],
              single[s]!.ids[q],
            ]);
          }
        }
      }
      expect(lexicon.matchTokensBatch([])).toEqual([]);
      expect(() =>
        lexicon.matchLabelsBatch([new Int32Array(2)], new MatchBuffer(), new Int32Array(0)),
      ).toThrow(/counts has 0 entries for 1 sequences/);
    },
  );

  it('validates the matcher option', () => {
    expect(() => new LexiconBuilder({ matcher: 'fast' as MatcherKind })).toThrow(
      /matcher: must be one of auto, interleaved, depth-first, got fast/,
    );
    const lex = new LexiconBuilder({ matcher: 'interleaved' }).finish();
    expect(lex.matcher).toBe('interleaved');
    expect(() => {
      lex.matcher = 'x' as MatcherKind;
    }).toThrow(/matcher/);
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
    const inter = await Lexicon.load(file, { matcher: 'interleaved' });
    expect(inter.strategy).toBe('interleaved');
    expect(inter.matchTokens(toks)).toEqual(lex.matchTokens(toks));
    await expect(Lexicon.load(file, { matcher: 'quick' as MatcherKind })).rejects.toThrow(
      /matcher/,
    );
    // A second save/load round trip gives the same bytes.
    await back.save(path.join(dir, 'again.bin'));
    expect(fs.readFileSync(path.join(dir, 'again.bin'))).toEqual(fs.readFileSync(file));
    fs.writeFileSync(file, 'garbage');
    await expect(Lexicon.load(file)).rejects.toThrow(
      /lexicon\.bin: byte 0: not a lexicon file \(bad magic\)$/,
    );
    // A truncated file names the section and the byte offset where it is cut (never a line).
    const good = fs.readFileSync(path.join(dir, 'again.bin'));
    fs.writeFileSync(file, good.subarray(0, good.length - 3));
    await expect(Lexicon.load(file)).rejects.toThrow(
      /lexicon\.bin: byte \d+ \((rootChild|filter|bmpLabel)\): truncated: section \w+ needs/,
    );
    fs.rmSync(dir, { recursive: true });
  });

  it('rejects a format-v1 file (pre-release 0.1.0) with an error saying to rebuild it', async () => {
    // test/fixtures/lexicon/v1.lexicon.bin.gz: saved by @artist-ts/lattice-data 0.1.0.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lex-v1-'));
    const file = path.join(dir, 'v1.bin');
    const gz = fs.readFileSync(path.join(__dirname, 'fixtures', 'lexicon', 'v1.lexicon.bin.gz'));
    fs.writeFileSync(file, zlib.gunzipSync(gz));
    await expect(Lexicon.load(file)).rejects.toThrow(
      /v1\.bin: byte 12 \(version\): format version 1 .* rebuild the file from entity2id\.txt/,
    );
    fs.rmSync(dir, { recursive: true });
  });
});
