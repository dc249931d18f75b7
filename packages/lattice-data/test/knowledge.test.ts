import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BertTokenizer,
  DataFormatError,
  entitySpans,
  formatKnowledgeLine,
  latticeOf,
  latticesOf,
  loadEntityLexicon,
  type ProgressEvent,
  readTsv,
  wordsMatrix,
  writeKnowledgeTsv,
} from '../src';

const FIX = path.join(__dirname, 'fixtures', 'knowledge');
let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'knowl-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function setup() {
  const tokenizer = BertTokenizer.fromVocabFile(path.join(FIX, 'vocab.txt'));
  const { lexicon, summary } = await loadEntityLexicon(path.join(FIX, 'entity2id.txt'));
  return { tokenizer, lexicon, summary };
}

describe('EasyNLP knowledge TSV', () => {
  it('reproduces the reference worked example', async () => {
    const { tokenizer, lexicon } = await setup();
    const l = latticeOf('红色连衣裙女夏季', tokenizer, lexicon);
    expect(l.lexIds).toEqual(['17', '5', '9', '3']);
    expect(l.posS).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0, 2, 3, 6]);
    expect(l.posE).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 1, 4, 4, 7]);
    expect(l.seqLen).toBe(8);
    expect(entitySpans(l)).toEqual({ starts: [0, 2, 3, 6], ends: [1, 4, 4, 7] });
    // The batched form gives the same lattices, in order.
    lexicon.matcher = 'interleaved';
    const texts = ['红色连衣裙女夏季', '', '夏季红色', '红色连衣裙女夏季'];
    expect(latticesOf(texts, tokenizer, lexicon)).toEqual(
      texts.map((t) => latticeOf(t, tokenizer, lexicon)),
    );
    expect(latticesOf(texts, tokenizer, lexicon)[0]).toEqual(l);
    expect(formatKnowledgeLine({ idx: 'a', text: '红色连衣裙女夏季', lattice: l })).toBe(
      'a\t红色连衣裙女夏季\t17 5 9 3\t0 1 2 3 4 5 6 7 0 2 3 6\t0 1 2 3 4 5 6 7 1 4 4 7\t8',
    );
  });

  it('reads entity2id.txt as EasyNLP does (header skipped, strip, last wins, 1-char dropped)', async () => {
    const { lexicon, summary } = await setup();
    expect(summary.declaredCount).toBe(20);
    expect(summary.lines).toBe(20);
    expect(summary.droppedSingleChar).toBe(2);
    expect(lexicon.get('白色')).toBe('41');
    expect(lexicon.get('夏季')).toBe('3');
    expect(lexicon.get('女装')).toBe('Q7');
    expect(lexicon.get('粉色')).toBe('23');
    expect(lexicon.get('花')).toBeUndefined();
    expect(lexicon.get('蓝天')).toBeUndefined();
    expect(lexicon.get('蓝天 ')).toBe('22');
    expect(lexicon.get('色\u{1F339}')).toBe('90');
    expect(lexicon.entries).toBe(17);
  });

  it.each(['auto', 'interleaved', 'depth-first'] as const)(
    'matches the hand-written expected output byte for byte (matcher %s)',
    async (matcher) => {
      const { tokenizer, lexicon } = await setup();
      lexicon.matcher = matcher;
      const out = path.join(tmp, 'out.knowl.tsv');
      const events: ProgressEvent[] = [];
      const summary = await writeKnowledgeTsv({
        input: path.join(FIX, 'input.tsv'),
        output: out,
        tokenizer,
        lexicon,
        onBadRow: 'skip',
        onProgress: (e) => events.push(e),
      });
      expect(fs.readFileSync(out)).toEqual(fs.readFileSync(path.join(FIX, 'expected.knowl.tsv')));
      expect(summary).toMatchObject({
        rows: 17,
        withImage: 1,
        blank: 1,
        skipped: 2,
        longCaptions: 1,
      });
      expect(summary.skippedRows.map((r) => r.line)).toEqual([17, 18]);
      const last = events[events.length - 1]!;
      expect(last.done).toBe(true);
      expect(last.rows).toBe(17);
      expect(last.bytes).toBe(fs.statSync(path.join(FIX, 'input.tsv')).size);
      // Our reader parses what we wrote, and checks the lattice columns.
      const { rows } = await readTsv(out, 'knowledge');
      expect(rows[0]!.imageBase64).toBe('iVBORw0KGgoAAAANSUhEUg==');
      expect(rows[2]).toMatchObject({ idx: '3', lexIds: ['3', '30', '3'], seqLen: 4 });
    },
  );

  it('writes many rows (several match batches) exactly as one row at a time', async () => {
    const { tokenizer, lexicon } = await setup();
    const parts = ['红色', '连衣裙', '女', '夏季', '白色', '粉色', 'T恤', '，', '裙'];
    const lines: string[] = [];
    for (let r = 0; r < 150; r++) {
      let text = '';
      for (let k = 0; k < (r * 7) % 13; k++) text += parts[(r * 5 + k * 3) % parts.length];
      lines.push(`${r}\t${text || '空'}`);
    }
    const input = path.join(tmp, 'many.tsv');
    fs.writeFileSync(input, `${lines.join('\n')}\n`);
    lexicon.matcher = 'depth-first';
    const want = lines.map((line) => {
      const [idx, text] = line.split('\t') as [string, string];
      return `${formatKnowledgeLine({ idx, text, lattice: latticeOf(text, tokenizer, lexicon) })}\n`;
    });
    lexicon.matcher = 'interleaved';
    const out = path.join(tmp, 'many.knowl.tsv');
    const summary = await writeKnowledgeTsv({ input, output: out, tokenizer, lexicon });
    expect(fs.readFileSync(out, 'utf8')).toBe(want.join(''));
    expect(summary.rows).toBe(150);
    expect(summary.entities).toBeGreaterThan(150);
  });

  it('raises on a bad row by default, naming the file and line, and leaves no output', async () => {
    const { tokenizer, lexicon } = await setup();
    const out = path.join(tmp, 'out.tsv');
    const input = path.join(FIX, 'input.tsv');
    const err = await writeKnowledgeTsv({ input, output: out, tokenizer, lexicon }).catch((e) => e);
    expect(err).toBeInstanceOf(DataFormatError);
    expect(err.message).toMatch(/input\.tsv:17: expected 2 \(idx, text\) or 3/);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('builds EasyNLP words_mat: first 10 entities, spans clipped at text_len', () => {
    const m = wordsMatrix([7, 9], [0, 30], [1, 40], { entityNum: 3, textLen: 32 });
    expect(m.length).toBe(3 * 32);
    expect(Array.from(m.slice(0, 3))).toEqual([7, 7, 0]);
    expect(Array.from(m.slice(32 + 29, 64))).toEqual([0, 9, 9]);
    expect(Array.from(m.slice(64))).toEqual(new Array(32).fill(0));
    const many = wordsMatrix(
      Array.from({ length: 12 }, (_, i) => i + 1),
      new Array(12).fill(0),
      new Array(12).fill(0),
    );
    expect(many.length).toBe(320);
    expect(many[9 * 32]).toBe(10);
  });
});

describe('entity2id.txt errors', () => {
  it('names the line without a tab, or skips it; ignores blank lines', async () => {
    const file = path.join(tmp, 'entity2id.txt');
    fs.writeFileSync(file, '3\n红色\t1\n没有制表符\n\n夏季\t2\n');
    await expect(loadEntityLexicon(file)).rejects.toThrow(
      `${file}:3: expected \`name<TAB>id\`, found no tab`,
    );
    const { lexicon, summary } = await loadEntityLexicon(file, { onBadRow: 'skip' });
    expect(summary).toMatchObject({ declaredCount: 3, skipped: 1, blank: 1, entries: 2 });
    expect(lexicon.get('夏季')).toBe('2');
  });
});
