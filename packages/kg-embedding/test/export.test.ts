import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  encodeVectorFile,
  formatFloat32,
  loadEntityVectors,
  loadEntityVectorsSync,
  loadRelationVectors,
  readVectorFile,
  writeEmbeddings,
} from '../src/export';
import { readOpenKEFolder } from '../src/kg_data';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-export-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const emb = {
  dim: 3,
  distance: 'L1',
  entities: ['北京', 'China', 'New York'],
  relations: ['capital'],
  entity: Float32Array.from([0.1, -2.5, 1e-8, 3, 0, -0.333333343, 7, 8, 9]),
  relation: Float32Array.from([0.5, 0.25, -0.125]),
};

describe('writeEmbeddings / loadEntityVectors', () => {
  it('round-trips names, ids and exact float32 values', async () => {
    const out = path.join(dir, 'kg');
    await writeEmbeddings(out, emb, { metadata: { metrics: { mrr: 0.5 } } });
    expect(fs.readdirSync(out).sort()).toEqual([
      'entity2id.txt',
      'entity_vectors.bin',
      'entity_vectors.txt',
      'metadata.json',
      'relation2id.txt',
      'relation_vectors.bin',
      'relation_vectors.txt',
    ]);
    expect(fs.readFileSync(path.join(out, 'entity2id.txt'), 'utf8')).toBe(
      '3\n北京\t0\nChina\t1\nNew York\t2\n',
    );
    const v = await loadEntityVectors(out);
    expect(v.names).toEqual(emb.entities);
    expect(v.ids.get('China')).toBe(1);
    expect(v.ids.get('北京')).toBe(0); // id 0 is a real entity
    expect(v.dim).toBe(3);
    expect(Array.from(v.vectors)).toEqual(Array.from(emb.entity));
    const sync = loadEntityVectorsSync(out);
    expect(sync.names).toEqual(v.names);
    expect(Array.from(sync.vectors)).toEqual(Array.from(v.vectors));
    const r = await loadRelationVectors(out);
    expect(Array.from(r.vectors)).toEqual([0.5, 0.25, -0.125]);
    const meta = JSON.parse(fs.readFileSync(path.join(out, 'metadata.json'), 'utf8'));
    expect(meta).toMatchObject({
      dim: 3,
      entities: 3,
      relations: 1,
      idBase: 0,
      metrics: { mrr: 0.5 },
    });
    // The text file reads back to the same float32 values.
    const lines = fs.readFileSync(path.join(out, 'entity_vectors.txt'), 'utf8').trim().split('\n');
    expect(lines[0].split('\t')[0]).toBe('北京');
    const parsed = lines.flatMap((l) =>
      l
        .split('\t')[1]
        .split(' ')
        .map((s) => Math.fround(Number(s))),
    );
    expect(parsed).toEqual(Array.from(emb.entity));
    // The id maps are OpenKE files: our own reader accepts them.
    fs.writeFileSync(path.join(out, 'train2id.txt'), '1\n0 1 0\n');
    const ds = await readOpenKEFolder(out);
    expect(ds.entities).toEqual(emb.entities);
  });

  it('writes a header numpy can use (magic, length, JSON, 64-byte aligned data)', () => {
    const bytes = encodeVectorFile('entity', 3, 3, emb.entity, { distance: 'L1' });
    const buf = Buffer.from(bytes);
    expect(buf.toString('ascii', 0, 8)).toBe('ARTKGVEC');
    const len = buf.readUInt32LE(8);
    const header = JSON.parse(buf.toString('utf8', 12, 12 + len));
    expect(header).toMatchObject({
      rows: 3,
      dim: 3,
      dtype: 'float32',
      byteOrder: 'little',
      kind: 'entity',
    });
    expect(header.dataOffset % 64).toBe(0);
    expect(header.dataOffset).toBe(12 + len);
    expect(buf.readFloatLE(header.dataOffset + 4)).toBe(Math.fround(-2.5));
    expect(buf.length).toBe(header.dataOffset + 9 * 4);
  });

  it('reports corrupt files by name and field', async () => {
    const out = path.join(dir, 'kg');
    await writeEmbeddings(out, emb, { text: false });
    expect(fs.existsSync(path.join(out, 'entity_vectors.txt'))).toBe(false);
    const bin = path.join(out, 'entity_vectors.bin');
    const good = fs.readFileSync(bin);
    fs.writeFileSync(bin, good.subarray(0, good.length - 4));
    await expect(readVectorFile(bin)).rejects.toThrow(
      `${bin}: ${good.length - 4} bytes, expected ${good.length}`,
    );
    fs.writeFileSync(bin, Buffer.concat([Buffer.from('NOTMAGIC'), good.subarray(8)]));
    await expect(readVectorFile(bin)).rejects.toThrow(/magic 'ARTKGVEC' missing/);
    fs.writeFileSync(bin, encodeVectorFile('entity', 2, 3, emb.entity.subarray(0, 6)));
    await expect(loadEntityVectors(out)).rejects.toThrow(
      /header field 'rows' is 2 but .*entity2id\.txt lists 3 names/,
    );
    expect(() => loadEntityVectorsSync(out)).toThrow(/header field 'rows' is 2/);
    fs.writeFileSync(bin, encodeVectorFile('relation', 3, 3, emb.entity));
    await expect(loadEntityVectors(out)).rejects.toThrow(/header field 'kind' is 'relation'/);
  });

  it('refuses names that would break entity2id.txt', async () => {
    await expect(
      writeEmbeddings(path.join(dir, 'x'), { ...emb, entities: ['a\tb', 'c', 'd'] }),
    ).rejects.toThrow(/entity2id\.txt: name of id 0 .* contains a TAB or newline/);
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
  });

  it('formats float32 values with the shortest round-tripping text', () => {
    for (const v of [0.1, -0.333333343, 1e-8, 123456.789, 3, 0]) {
      const f = Math.fround(v);
      const s = formatFloat32(f);
      expect(Math.fround(Number(s))).toBe(f);
      expect(s.length).toBeLessThanOrEqual(f.toString().length);
    }
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
  });
});

describe('streamed export formats', () => {
  it('writes .npy files byte-identical to numpy.save', async () => {
    const out = path.join(dir, 'kg');
    await writeEmbeddings(out, emb, { npy: true, text: false });
    // np.save(f, np.array(emb.entity, dtype='<f4').reshape(3, 3)) with numpy 1.26
    const numpy =
      '934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73' +
      '652c20277368617065273a2028332c2033292c207d202020202020202020202020202020202020202020202020202020' +
      '202020202020202020202020202020202020202020202020202020202020200acdcccc3d000020c077cc2b3200004040' +
      '00000000abaaaabe0000e0400000004100001041';
    expect(fs.readFileSync(path.join(out, 'entity_vectors.npy')).toString('hex')).toBe(numpy);
    expect(fs.existsSync(path.join(out, 'relation_vectors.npy'))).toBe(true);
  });

  it('names the bad entity name of a streamed id map', async () => {
    await expect(
      writeEmbeddings(path.join(dir, 'bad'), { ...emb, entities: ['a', 'b\tc', 'd'] }),
    ).rejects.toThrow(/entity2id\.txt: name of id 1 \("b\\tc"\) is empty or contains a TAB/);
  });
});
