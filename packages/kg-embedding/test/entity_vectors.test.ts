import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WritableTensor, writeTorchFile } from '@artist-ts/torch-files';
import { loadEntityVectorFile, readEntityVectors } from '../src/entity_vectors';
import { writeEmbeddings } from '../src/export';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-vectors-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const names = ['北京', 'China', 'New York'];
const entity = Float32Array.from([0.1, -2.5, 1e-8, 3, 0, -0.333333343, 7, 8, 9]);
const emb = {
  dim: 3,
  entities: names,
  relations: ['capital'],
  entity,
  relation: Float32Array.from([1, 2, 3]),
};

describe('readEntityVectors', () => {
  it('reads our .bin, .npy, entity2vec.pt and both text layouts into the same table', async () => {
    const out = path.join(dir, 'kg');
    await writeEmbeddings(out, emb, { npy: true, torch: true });
    // OpenKE's entity2vec.vec: numbers only, TAB separated, row i = id i.
    fs.writeFileSync(
      path.join(out, 'entity2vec.vec'),
      '0.1\t-2.5\t1e-8\n3\t0\t-0.333333343\n7\t8\t9\n',
    );
    for (const [file, format] of [
      ['entity_vectors.bin', 'artist'],
      ['entity_vectors.npy', 'npy'],
      ['entity2vec.pt', 'torch'],
      ['entity2vec.vec', 'text'],
      ['entity_vectors.txt', 'text'],
    ] as const) {
      const t = await readEntityVectors(path.join(out, file));
      expect([file, t.format, t.rows, t.dim]).toEqual([file, format, 3, 3]);
      expect(Array.from(t.vectors)).toEqual(Array.from(entity));
      expect(t.names).toEqual(names);
    }
    const v = await loadEntityVectorFile(path.join(out, 'entity2vec.pt'));
    expect(v.ids.get('New York')).toBe(2);
  });

  it('reads numpy float64 files written by numpy.save', async () => {
    // np.save(f, np.array([[0.5, -1.25], [3, 1e-300]], dtype='<f8'))
    const hex =
      '934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73' +
      '652c20277368617065273a2028322c2032292c207d202020202020202020202020202020202020202020202020202020' +
      '202020202020202020202020202020202020202020202020202020202020200a000000000000e03f000000000000f4bf' +
      '000000000000084059f3f8c21f6ea501';
    const f = path.join(dir, 'v.npy');
    fs.writeFileSync(f, Buffer.from(hex, 'hex'));
    const t = await readEntityVectors(f, { entity2id: false });
    expect([t.rows, t.dim]).toEqual([2, 2]);
    expect(Array.from(t.vectors)).toEqual([0.5, -1.25, 3, Math.fround(1e-300)]);
  });

  it("reads an nn.Embedding state dict {'weight': tensor}", async () => {
    const f = path.join(dir, 'emb.pt');
    const w = new WritableTensor({ dtype: 'float32', shape: [3, 3], data: entity });
    await writeTorchFile(f, new Map([['weight', w]]));
    const t = await readEntityVectors(f, { entity2id: false });
    expect(Array.from(t.vectors)).toEqual(Array.from(entity));
    const other = path.join(dir, 'other.pt');
    await writeTorchFile(other, { bias: w });
    await expect(readEntityVectors(other, { entity2id: false })).rejects.toThrow(
      /expected a tensor or an nn.Embedding state dict with 'weight'; found keys bias/,
    );
  });

  it('checks the row count against entity2id.txt, naming both files', async () => {
    fs.writeFileSync(path.join(dir, 'entity2id.txt'), '2\na\t0\nb\t1\n');
    const f = path.join(dir, 'entity2vec.vec');
    fs.writeFileSync(f, '1 2\n3 4\n5 6\n');
    await expect(readEntityVectors(f)).rejects.toThrow(
      `${f}: 3 entity vectors, but ${path.join(dir, 'entity2id.txt')} lists 2 entities`,
    );
    fs.writeFileSync(f, '1 2\n3\n');
    await expect(readEntityVectors(f)).rejects.toThrow(`${f}:2: 1 values, expected 2`);
    await expect(readEntityVectors(path.join(dir, 'none.pt'))).rejects.toThrow(/none\.pt: missing/);
    fs.rmSync(path.join(dir, 'entity2id.txt'));
    await expect(readEntityVectors(f)).rejects.toThrow(/entity2id\.txt: missing \(the id map of/);
  });
});
