import fs from 'node:fs';
import path from 'node:path';
import { hashTree, SplitWriter } from '../src/output';
import { encodePng } from '../src/png';
import { readImageTsv, readMeta } from '../src/read';
import { tempDir } from './helpers';

const png = encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12).fill(9) });

describe('SplitWriter', () => {
  const dir = tempDir('out');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes EasyNLP rows with 0-based idx and a meta sidecar with a header', async () => {
    const w = new SplitWriter(dir, 'val', ['kind', 'n']);
    await w.write({ text: '一只卡拉', png, meta: { kind: 'one', n: 1 } });
    await w.write({ text: '两只卡拉', png, meta: { kind: 'two', n: 2 } });
    await w.close();
    expect(w.rows).toBe(2);
    const rows = readImageTsv(path.join(dir, 'val.tsv'));
    expect(rows.map((r) => [r.idx, r.text])).toEqual([
      ['0', '一只卡拉'],
      ['1', '两只卡拉'],
    ]);
    expect(Buffer.from(rows[0].images[0], 'base64')).toEqual(png);
    expect(fs.readFileSync(path.join(dir, 'val.meta.tsv'), 'utf8')).toBe(
      'idx\tkind\tn\n0\tone\t1\n1\ttwo\t2\n',
    );
    expect(readMeta(dir, 'val').get('1')).toEqual({ kind: 'two', n: '2' });
  });

  it('refuses captions and meta values that would break the TSV', async () => {
    const w = new SplitWriter(dir, 'test', ['kind']);
    await expect(w.write({ text: 'a\tb', png, meta: { kind: 'x' } })).rejects.toThrow(
      /test caption "a\\tb"/,
    );
    await expect(w.write({ text: 'ok', png, meta: {} })).rejects.toThrow(
      /meta column "kind" missing/,
    );
    await expect(w.write({ text: '', png, meta: { kind: 'x' } })).rejects.toThrow(/empty caption/);
    await w.close();
  });

  it('hashes every file with sorted relative paths', async () => {
    const sub = path.join(dir, 'tree');
    fs.mkdirSync(path.join(sub, 'kg'), { recursive: true });
    fs.writeFileSync(path.join(sub, 'b.txt'), 'abc');
    fs.writeFileSync(path.join(sub, 'kg', 'a.txt'), '');
    expect(await hashTree(sub)).toEqual({
      'b.txt': 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      'kg/a.txt': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    });
  });
});
