import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildCharVocabFromTsv,
  checkTsv,
  DataFormatError,
  detectTsvFormat,
  openInputTsv,
  type ProgressEvent,
  parseGeneratedImages,
  readLines,
  readTsv,
  TsvReader,
  TsvWriter,
  writeTsv,
} from '../src';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, content);
  return p;
}

const PNG64 = 'iVBORw0KGgo='; // PNG magic, standard alphabet
const URLSAFE64 = 'iVBORw0KGgo-_w'; // URL-safe alphabet, unpadded

describe('readLines', () => {
  it('splits on \\n, \\r\\n and \\r across any chunk boundary, dropping a BOM', async () => {
    const text = '\ufeffa\r\nbb\rccc\n\nd\r\n\r\ne';
    const want = ['a', 'bb', 'ccc', '', 'd', '', 'e'];
    const p = file('l.txt', text);
    for (const chunkBytes of [1, 2, 3, 5, 64]) {
      const got: string[] = [];
      for await (const l of readLines(p, { chunkBytes })) got.push(l.text!);
      expect(got).toEqual(want);
    }
  });

  it('reports invalid UTF-8 with the line and byte column', async () => {
    const p = file(
      'bad.txt',
      Buffer.concat([Buffer.from('ok\nab'), Buffer.from([0xe4, 0xb8]), Buffer.from('x\n')]),
    );
    const err = await (async () => {
      for await (const _ of readLines(p)) {
        /* consume */
      }
    })().catch((e) => e);
    expect(err).toBeInstanceOf(DataFormatError);
    expect(err.message).toBe(`${p}:2: invalid UTF-8 at byte 3 of the line`);
  });
});

describe('TSV readers', () => {
  it('reads text-image rows in both base64 alphabets', async () => {
    const p = file('t.tsv', `1\t红色\t${PNG64}\r\n2\t蓝天\t${URLSAFE64}\n`);
    const events: ProgressEvent[] = [];
    const { rows, summary } = await readTsv(p, 'text-image', { onProgress: (e) => events.push(e) });
    expect(rows).toEqual([
      { idx: '1', text: '红色', imageBase64: PNG64, line: 1 },
      { idx: '2', text: '蓝天', imageBase64: URLSAFE64, line: 2 },
    ]);
    expect(summary).toMatchObject({ rows: 2, skipped: 0, bytes: fs.statSync(p).size });
    expect(events.at(-1)).toMatchObject({ done: true, rows: 2, phase: 'read' });
  });

  it('names file, line and column for bad rows, or skips and counts them', async () => {
    const p = file(
      't.tsv',
      `1\t红色\t${PNG64}\n2\t只有两列\n3\t坏图\tno*base64\n4\t好\t${PNG64}\n`,
    );
    await expect(readTsv(p, 'text-image')).rejects.toThrow(
      `${p}:2:3 (imgbase64): expected 3 columns (idx, text, imgbase64), got 2`,
    );
    const reader = new TsvReader(p, 'text-image', { onBadRow: 'skip' });
    const idx: string[] = [];
    for await (const r of reader) idx.push(r.idx);
    expect(idx).toEqual(['1', '4']);
    expect(reader.summary.skipped).toBe(2);
    expect(reader.summary.skippedRows[1]).toEqual({
      line: 3,
      column: 3,
      field: 'imgbase64',
      reason: 'invalid base64 character "*" at offset 2',
    });
    const only3 = file('t3.tsv', `3\t坏图\tno*base64\n`);
    await expect(readTsv(only3, 'text-image')).rejects.toThrow(
      `${only3}:1:3 (imgbase64): invalid base64`,
    );
  });

  it('checks image magic bytes when asked', async () => {
    const p = file('t.tsv', `1\tx\t${Buffer.from('GIF89a-not-ours').toString('base64')}\n`);
    await expect(readTsv(p, 'text-image')).resolves.toBeDefined();
    await expect(readTsv(p, 'text-image', { validateImages: 'magic' })).rejects.toThrow(
      /:1:3 \(imgbase64\): not a PNG, JPEG or WebP/,
    );
  });

  it('skips invalid UTF-8 lines when asked', async () => {
    const p = file(
      't.tsv',
      Buffer.concat([Buffer.from('1\ta\n2\t'), Buffer.from([0xff]), Buffer.from('\n3\tc\n')]),
    );
    await expect(readTsv(p, 'text')).rejects.toThrow(`${p}:2: invalid UTF-8`);
    const { rows, summary } = await readTsv(p, 'text', { onBadRow: 'skip' });
    expect(rows.map((r) => r.idx)).toEqual(['1', '3']);
    expect(summary.skipped).toBe(1);
  });

  it('parses and checks knowledge rows', async () => {
    const good = '7\t红色连衣裙\t17 5\t0 1 2 3 4 0 2\t0 1 2 3 4 1 4\t5\n8\t无\t\t0\t0\t1\n';
    const { rows } = await readTsv(file('k.tsv', good), 'knowledge');
    expect(rows[0]).toEqual({
      idx: '7',
      text: '红色连衣裙',
      lexIds: ['17', '5'],
      posS: [0, 1, 2, 3, 4, 0, 2],
      posE: [0, 1, 2, 3, 4, 1, 4],
      seqLen: 5,
      line: 1,
    });
    expect(rows[1]).toMatchObject({ lexIds: [], posS: [0], seqLen: 1 });
    const short = file('k2.tsv', '7\tx\t17\t0 1\t0 1 1\t2\n');
    await expect(readTsv(short, 'knowledge')).rejects.toThrow(
      `${short}:1:4 (pos_s): has 2 items, expected seq_len + len(lex_ids) = 3`,
    );
    const span = file('k3.tsv', '7\tx\t17\t0 1 1\t0 1 2\t2\n');
    await expect(readTsv(span, 'knowledge')).rejects.toThrow(
      /:1:5 \(pos_e\): entity 1 span \[1, 2\] is outside \[0, 2\)/,
    );
    const nan = file('k4.tsv', '7\tx\t\t0 a\t0 1\t2\n');
    await expect(readTsv(nan, 'knowledge')).rejects.toThrow(
      /:1:4 \(pos_s\): item 2 is not an integer/,
    );
  });

  it("reads prediction rows, including EasyNLP's Python-list column", async () => {
    const p = file(
      'p.tsv',
      `1\t猫\t${PNG64}\n2\t狗\t['${PNG64}', '${URLSAFE64}']\n3\t鸟\t${PNG64}\t${PNG64}\n`,
    );
    const { rows } = await readTsv(p, 'prediction');
    expect(rows.map((r) => r.images.length)).toEqual([1, 2, 2]);
    expect(rows[1]!.images[1]).toBe(URLSAFE64);
    expect(parseGeneratedImages('[]')).toEqual([]);
    expect(() => parseGeneratedImages('[abc')).toThrow(/unterminated/);
  });
});

describe("EasyNLP's input TSVs in both schemas", () => {
  // Raw: idx, text, imgbase64 (train/val) or idx, text (test). Knowledge (preprocess_data_knowl.py):
  // idx, text, lex_id, pos_s, pos_e, token_len[, imgbase64]. 红色连衣裙 with 红色 = 17, 连衣裙 = 5.
  const K = '红色连衣裙\t17 5\t0 1 2 3 4 0 2\t0 1 2 3 4 1 4\t5';

  it('detects the schema from the column count', async () => {
    expect([2, 3, 6, 7, 4].map(detectTsvFormat)).toEqual([
      'text',
      'text-image',
      'knowledge',
      'knowledge',
      undefined,
    ]);
    const cases: [string, string, string, boolean][] = [
      ['raw-train.tsv', `1\t红色\t${PNG64}\n\n2\t蓝天\t${URLSAFE64}\n`, 'text-image', true],
      ['raw-test.tsv', '1\t红色\n2\t蓝天\n', 'text', false],
      ['k-train.tsv', `1\t${K}\t${PNG64}\n2\t${K}\t${PNG64}\n`, 'knowledge', true],
      ['k-test.tsv', `1\t${K}\n2\t${K}\n`, 'knowledge', false],
    ];
    for (const [name, content, format, images] of cases) {
      const check = await checkTsv(file(name, content), { entityCount: 18 });
      expect([check.format, check.images, check.rows]).toEqual([format, images, 2]);
    }
    const { check, reader } = await openInputTsv(file('k.tsv', `7\t${K}\t${PNG64}\n`));
    expect(check.format).toBe('knowledge');
    const rows = [];
    for await (const r of reader) rows.push(r);
    expect(rows).toEqual([
      {
        idx: '7',
        text: '红色连衣裙',
        lexIds: ['17', '5'],
        posS: [0, 1, 2, 3, 4, 0, 2],
        posE: [0, 1, 2, 3, 4, 1, 4],
        seqLen: 5,
        imageBase64: PNG64,
        line: 1,
      },
    ]);
  });

  it('names file:line:column of the first bad row before anything is read', async () => {
    const bad: [string, string, RegExp | string][] = [
      // wrong column count against the first row's schema
      ['count.tsv', `1\t红色\t${PNG64}\n2\t蓝天\n`, ':2:3 (imgbase64): expected 3 columns'],
      ['unknown.tsv', '1\t红色\ta\tb\n', ':1: expected 2 (idx, text), or 3'],
      // bad base64
      ['b64.tsv', `1\t${K}\t${PNG64}\n2\t${K}\tiVBO*\n`, ':2:7 (imgbase64): invalid base64'],
      // pos_s / pos_e not integers, or out of the caption
      [
        'int.tsv',
        `1\t红色连衣裙\t17\t0 1 2 3 4 x\t0 1 2 3 4 1\t5\n`,
        ':1:4 (pos_s): item 6 is not an integer',
      ],
      [
        'end.tsv',
        `1\t红色连衣裙\t17\t0 1 2 3 4 3\t0 1 2 3 4 5\t5\n`,
        ':1:5 (pos_e): entity 1 span [3, 5] is outside [0, 5)',
      ],
      [
        'start.tsv',
        `1\t红色连衣裙\t17\t0 1 2 3 4 -1\t0 1 2 3 4 1\t5\n`,
        ':1:4 (pos_s): entity 1 span [-1, 1]',
      ],
      // lex_id beyond the entity table (18 rows) or not an entity row
      [
        'lex.tsv',
        `1\t红色连衣裙\t17 18\t0 1 2 3 4 0 2\t0 1 2 3 4 1 4\t5\n`,
        ':1:3 (lex_ids): item 2: entity 18 is beyond the entity table (18 rows)',
      ],
      [
        'lexq.tsv',
        `1\t红色连衣裙\tQ5\t0 1 2 3 4 2\t0 1 2 3 4 4\t5\n`,
        ':1:3 (lex_ids): item 1 is not an entity row: "Q5"',
      ],
      // knowledge rows with and without images mixed
      [
        'mixed.tsv',
        `1\t${K}\t${PNG64}\n2\t${K}\n`,
        ':2:7 (imgbase64): no imgbase64 column, but line 1 has one',
      ],
    ];
    for (const [name, content, want] of bad) {
      const p = file(name, content);
      await expect(checkTsv(p, { entityCount: 18 })).rejects.toThrow(`${p}${want}`);
    }
    const test = file('test.tsv', '1\t红色\n');
    await expect(checkTsv(test, { requireImages: true })).rejects.toThrow(
      `${test}:1: no imgbase64 column (2 columns)`,
    );
    await expect(checkTsv(test, { formats: ['knowledge'] })).rejects.toThrow(
      `${test}:1: expected 6 or 7 (idx, text, lex_ids, pos_s, pos_e, seq_len[, imgbase64]) columns, got 2`,
    );
    await expect(checkTsv(file('empty.tsv', '\n'))).rejects.toThrow(
      /empty\.tsv:1: the file has no rows/,
    );
    await expect(checkTsv(test, { entityCount: -1 })).rejects.toThrow(/entityCount/);
    // onBadRow: 'skip' counts the bad rows instead (the first 20 with their place).
    const mixed = file('mixed2.tsv', `1\t${K}\t${PNG64}\n2\t${K}\n3\t${K}\t${PNG64}\n`);
    const skipped = await checkTsv(mixed, { onBadRow: 'skip' });
    expect([skipped.rows, skipped.summary.skipped]).toEqual([2, 1]);
    expect(skipped.summary.skippedRows[0]).toMatchObject({
      line: 2,
      column: 7,
      field: 'imgbase64',
    });
  });
});

describe('TSV writers', () => {
  it('writes atomically and round-trips every format', async () => {
    const p = path.join(tmp, 'out', 'train.tsv');
    const rows = [
      { idx: '1', text: '红色 T恤', imageBase64: PNG64 },
      { idx: '2', text: '', imageBase64: URLSAFE64 },
    ];
    expect(await writeTsv(p, 'text-image', rows)).toBe(2);
    expect(fs.readFileSync(p, 'utf8')).toBe(`1\t红色 T恤\t${PNG64}\n2\t\t${URLSAFE64}\n`);
    expect((await readTsv(p, 'text-image')).rows.map(({ line: _, ...r }) => r)).toEqual(rows);
    const k = path.join(tmp, 'k.tsv');
    await writeTsv(k, 'knowledge', [
      { idx: '1', text: '红色', lexIds: ['17'], posS: [0, 1, 0], posE: [0, 1, 1], seqLen: 2 },
    ]);
    expect(fs.readFileSync(k, 'utf8')).toBe('1\t红色\t17\t0 1 0\t0 1 1\t2\n');
    // Predictions: EasyNLP's schema (idx, text, gen_imgbase64), one line per image.
    const pr = path.join(tmp, 'pred.tsv');
    const two = [{ idx: '1', text: '猫', images: [PNG64, URLSAFE64] }];
    expect(await writeTsv(pr, 'prediction', two)).toBe(2);
    expect(fs.readFileSync(pr, 'utf8')).toBe(`1\t猫\t${PNG64}\n1\t猫\t${URLSAFE64}\n`);
    expect((await readTsv(pr, 'prediction')).rows.map((r) => r.images)).toEqual([
      [PNG64],
      [URLSAFE64],
    ]);
  });

  it('rejects cells with tabs or newlines and leaves no file behind on abort', async () => {
    const p = path.join(tmp, 'x.tsv');
    await expect(writeTsv(p, 'text', [{ idx: '1', text: 'a\tb' }])).rejects.toThrow(
      /text: contains a tab/,
    );
    const w = await TsvWriter.open(p, 'text');
    await w.write({ idx: '1', text: 'ok' });
    await w.abort();
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});

describe('buildCharVocabFromTsv', () => {
  it('collects the text column of several files', async () => {
    const a = file('a.tsv', `1\t红色\t${PNG64}\n`);
    const b = file('b.tsv', '2\t蓝天\n');
    const { vocab, rows } = await buildCharVocabFromTsv(
      [
        { file: a, format: 'text-image' },
        { file: b, format: 'text' },
      ],
      { includeAscii: false },
    );
    expect(rows).toBe(2);
    expect(vocab.tokens.slice(104)).toEqual(['天', '红', '色', '蓝']);
  });
});
