import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BertTokenizer,
  ConfigError,
  DataFormatError,
  type EncodedExample,
  exampleFromKnowledgeRow,
  exampleFromLattice,
  LexiconBuilder,
  latticeOf,
  reservedTokens,
  ShardDataset,
  ShardWriter,
  Vocab,
  writeShards,
} from '../src';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shards-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function example(i: number): EncodedExample {
  const ex: EncodedExample = {
    idx: `ex-${i}`,
    text: `第${i}个`,
    textIds: Int32Array.from({ length: 8 }, (_, k) => (k < 3 ? 100 + i + k : 0)),
    seqLen: 3,
    lexIds: Int32Array.from({ length: i % 3 }, (_, k) => i * 10 + k),
    lexStart: Int32Array.from({ length: i % 3 }, (_, k) => k),
    lexEnd: Int32Array.from({ length: i % 3 }, (_, k) => k + 1),
  };
  if (i % 2 === 0) {
    ex.image = {
      kind: 'pixels',
      height: 4,
      width: 5,
      channels: 3,
      data: Uint8Array.from({ length: 60 }, (_, k) => (k * 7 + i) % 256),
    };
  } else {
    ex.image = {
      kind: 'codes',
      height: 2,
      width: 3,
      codebookSize: 16384,
      codes: Int32Array.from({ length: 6 }, (_, k) => 16383 - k - i),
    };
  }
  return ex;
}

const N = 23;
const all = Array.from({ length: N }, (_, i) => example(i));

describe('dataset shards', () => {
  it('writes shards with an index and reads them back sequentially', async () => {
    const dir = path.join(tmp, 'train');
    const index = await writeShards(dir, all, { maxRecordsPerShard: 5, meta: { textLen: 8 } });
    expect(index.records).toBe(N);
    expect(index.shards.map((s) => s.records)).toEqual([5, 5, 5, 5, 3]);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'index.json',
      ...[0, 1, 2, 3, 4].flatMap((k) => [`shard-0000${k}.idx`, `shard-0000${k}.pb`]),
    ]);
    expect(fs.readdirSync(tmp)).toEqual(['train']);
    const ds = await ShardDataset.open(dir);
    expect(ds.size).toBe(N);
    expect(ds.meta).toEqual({ textLen: 8 });
    const got: EncodedExample[] = [];
    for await (const ex of ds.iterate()) got.push(ex);
    expect(got).toEqual(all);
    // Arrays are owned copies, not views into a pooled buffer.
    const px = got[22]!.image!;
    expect(
      px.kind === 'pixels' && px.data.byteOffset === 0 && px.data.buffer.byteLength === 60,
    ).toBe(true);
    expect(await ds.get(17)).toEqual(all[17]);
    const tail: string[] = [];
    for await (const ex of ds.iterate({ start: 20 })) tail.push(ex.idx);
    expect(tail).toEqual(['ex-20', 'ex-21', 'ex-22']);
  });

  it('shuffles with a seed: a permutation, reproducible, different per epoch, resumable', async () => {
    const dir = path.join(tmp, 's');
    await writeShards(dir, all, { maxRecordsPerShard: 4 });
    for (const cacheBytes of [1 << 20, 0]) {
      const ds = await ShardDataset.open(dir, { cacheBytes });
      const read = async (opts: Parameters<typeof ds.iterate>[0]) => {
        const ids: string[] = [];
        for await (const ex of ds.iterate(opts)) ids.push(ex.idx);
        return ids;
      };
      const e0 = await read({ shuffle: { seed: 42, epoch: 0 } });
      expect([...e0].sort()).toEqual(all.map((e) => e.idx).sort());
      expect(e0).not.toEqual(all.map((e) => e.idx));
      expect(await read({ shuffle: { seed: 42, epoch: 0 } })).toEqual(e0);
      expect(await read({ shuffle: { seed: 42, epoch: 1 } })).not.toEqual(e0);
      expect(await read({ shuffle: { seed: 42, epoch: 0 }, start: 10 })).toEqual(e0.slice(10));
      expect(Array.from(ds.order({ seed: 42 })).map((i) => `ex-${i}`)).toEqual(e0);
      await ds.close();
    }
  });

  it('detects corruption and incomplete or conflicting folders', async () => {
    const dir = path.join(tmp, 'c');
    await writeShards(dir, all.slice(0, 6), { maxRecordsPerShard: 3 });
    const shard = path.join(dir, 'shard-00001.pb');
    const bytes = fs.readFileSync(shard);
    bytes[10] = (bytes[10]! ^ 0x55) & 0xff;
    fs.writeFileSync(shard, bytes);
    const ds = await ShardDataset.open(dir);
    const err = await (async () => {
      for await (const _ of ds.iterate()) {
        /* consume */
      }
    })().catch((e) => e);
    expect(err).toBeInstanceOf(DataFormatError);
    // Binary files: the file (and a record / byte offset where there is one), never a line.
    expect(err.message).toMatch(/shard-00001\.pb: CRC-32 mismatch/);
    // A record that does not decode: its index and byte offset.
    const first = path.join(dir, 'shard-00000.pb');
    const offs = fs.readFileSync(path.join(dir, 'shard-00000.idx'));
    const b0 = fs.readFileSync(first);
    b0.fill(0xff, offs.readUInt32LE(4), offs.readUInt32LE(8));
    fs.writeFileSync(first, b0);
    const unverified = await ShardDataset.open(dir, { verify: false });
    await expect(unverified.get(1)).rejects.toThrow(
      new RegExp(`shard-00000\\.pb: record 1, byte ${offs.readUInt32LE(4)}: corrupt record`),
    );
    await unverified.close();
    // A short offset table: the byte where it ends.
    const idx = path.join(dir, 'shard-00001.idx');
    const idxBytes = fs.readFileSync(idx);
    fs.writeFileSync(idx, idxBytes.subarray(0, 8));
    await expect(ShardDataset.open(dir)).rejects.toThrow(
      /shard-00001\.idx: byte 8: ends at byte 8: expected 4 uint32 offsets/,
    );
    fs.writeFileSync(idx, idxBytes);
    // index.json is text: line and column of the JSON error.
    const indexFile = path.join(dir, 'index.json');
    const indexText = fs.readFileSync(indexFile, 'utf8');
    fs.writeFileSync(indexFile, '{\n  "format": 1,\n}');
    await expect(ShardDataset.open(dir)).rejects.toThrow(/index\.json:3:1: unreadable index/);
    fs.writeFileSync(indexFile, indexText);
    await expect(ShardDataset.open(path.join(tmp, 'nope'))).rejects.toThrow(/no index\.json/);
    await expect(ShardWriter.create(dir)).rejects.toThrow(ConfigError);
    const w = await ShardWriter.create(dir, { overwrite: true });
    await w.add(all[0]!);
    await w.abort();
    expect(fs.readdirSync(tmp)).toEqual(['c']);
    const w2 = await ShardWriter.create(dir, { overwrite: true });
    await w2.add(all[1]!);
    await w2.finish();
    const again = await ShardDataset.open(dir);
    expect(again.size).toBe(1);
    expect(await again.get(0)).toEqual(all[1]);
  });

  it('validates examples and config', async () => {
    await expect(
      ShardWriter.create(path.join(tmp, 'x'), { maxRecordsPerShard: 0 }),
    ).rejects.toThrow(/maxRecordsPerShard/);
    const w = await ShardWriter.create(path.join(tmp, 'y'));
    const bad = { ...all[0]!, lexStart: new Int32Array(5) };
    await expect(w.add(bad)).rejects.toThrow(/lexIds, lexStart and lexEnd lengths differ/);
    await w.abort();
  });

  it('builds examples from a lattice', () => {
    const vocab = new Vocab([...reservedTokens(), '红', '色', '裙']);
    const tok = new BertTokenizer(vocab, { textLen: 4 });
    const b = new LexiconBuilder();
    b.add('红色', '17');
    b.add('色裙', 'Q1');
    const lex = b.finish();
    const ex = exampleFromLattice(
      { idx: '1', text: '红色', lattice: latticeOf('红色', tok, lex) },
      tok,
    );
    expect(Array.from(ex.textIds)).toEqual([104, 105, 0, 0]);
    expect(Array.from(ex.lexIds)).toEqual([17]);
    expect(Array.from(ex.lexStart)).toEqual([0]);
    expect(Array.from(ex.lexEnd)).toEqual([1]);
    expect(() =>
      exampleFromLattice({ idx: '2', text: '色裙', lattice: latticeOf('色裙', tok, lex) }, tok),
    ).toThrow(/"Q1" of row 2 is not an int32/);
    const fromRow = exampleFromKnowledgeRow(
      { idx: '1', text: '红色', lexIds: ['17'], posS: [0, 1, 0], posE: [0, 1, 1], seqLen: 2 },
      tok,
    );
    expect(fromRow).toEqual(ex);
    expect(() =>
      exampleFromKnowledgeRow(
        { idx: '9', text: '红色', lexIds: [], posS: [0], posE: [0], seqLen: 1 },
        tok,
      ),
    ).toThrow(/row 9: the tokenizer gives 2 tokens but seq_len is 1/);
  });
});
