import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BertTokenizer,
  DataFormatError,
  expandLattice,
  formatNeighbourTable,
  type LatticeColumns,
  latticeOf,
  loadEntityLexicon,
  matchedEntries,
  neighbourTable,
  readNeighbourTable,
  readTsv,
  writeKnowledgeTsv,
  writeNeighbourTable,
} from '../src';

const FIX = path.join(__dirname, 'fixtures', 'knowledge');
let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neighbours-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Triples [h, r, t]: entity 1 has facts to 5, 7, 5 (again, other relation), 9 and itself.
const TRIPLES = Int32Array.from([1, 0, 5, 1, 1, 7, 2, 0, 5, 1, 2, 5, 1, 3, 9, 1, 4, 1]);

describe('one-hop knowledge expansion', () => {
  it('keeps the first distinct tails of each head, in triple order, without self-loops', () => {
    const t = neighbourTable(TRIPLES, 6, 3);
    expect([...t.entries()]).toEqual([
      ['1', ['5', '7', '9']],
      ['2', ['5']],
    ]);
    expect(neighbourTable(TRIPLES, 6, 1).get('1')).toEqual(['5']);
    expect(neighbourTable(TRIPLES, 6, 0).size).toBe(0);
    expect(() => neighbourTable(TRIPLES, 6, -1)).toThrow(/perEntity must be an integer >= 0/);
    expect(() => neighbourTable(TRIPLES, 7, 2)).toThrow(/7 triples need 21 ids, got 18/);
  });

  it('appends neighbours over their entity span after every match, without repeats', () => {
    const lattice: LatticeColumns = {
      seqLen: 5,
      lexIds: ['1', '2', '5'],
      posS: [0, 1, 2, 3, 4, 0, 3, 0],
      posE: [0, 1, 2, 3, 4, 1, 4, 1],
    };
    const table = new Map([
      ['1', ['5', '7']], // 5 over [0, 1] is already a match there
      ['2', ['5', '8']],
    ]);
    const out = expandLattice(lattice, table);
    expect(out.lexIds).toEqual(['1', '2', '5', '7', '5', '8']);
    expect(out.posS).toEqual([0, 1, 2, 3, 4, 0, 3, 0, 0, 3, 3]);
    expect(out.posE).toEqual([0, 1, 2, 3, 4, 1, 4, 1, 1, 4, 4]);
    expect(out.seqLen).toBe(5);
    // The input is left as it was.
    expect(lattice.lexIds).toEqual(['1', '2', '5']);
    expect(expandLattice(lattice, new Map())).toEqual(lattice);
    // The matched entries are recovered from the expanded lattice and the table.
    // (match 5 over [0, 1] is also 1's neighbour there: the smallest prefix, 2, expands to it)
    expect(matchedEntries(out, table)).toBe(2);
    expect(matchedEntries(lattice, table)).toBe(3);
    expect(matchedEntries(out, new Map())).toBe(6);
    const one = expandLattice(
      { ...lattice, lexIds: ['1'], posS: [0, 1, 2, 3, 4, 0], posE: [0, 1, 2, 3, 4, 1] },
      table,
    );
    expect(one.lexIds).toEqual(['1', '5', '7']);
    expect(matchedEntries(one, table)).toBe(1);
    expect(
      matchedEntries(
        { ...lattice, lexIds: [], posS: [0, 1, 2, 3, 4], posE: [0, 1, 2, 3, 4] },
        table,
      ),
    ).toBe(0);
  });

  it('round-trips neighbours.tsv and names the bad line', async () => {
    const table = neighbourTable(TRIPLES, 6, 4);
    const file = path.join(tmp, 'neighbours.tsv');
    await writeNeighbourTable(file, table);
    expect(fs.readFileSync(file, 'utf8')).toBe('1\t5 7 9\n2\t5\n');
    expect(formatNeighbourTable(await readNeighbourTable(file))).toBe('1\t5 7 9\n2\t5\n');
    fs.writeFileSync(file, '1\t5 7\n2\tx\n');
    await expect(readNeighbourTable(file)).rejects.toThrow(DataFormatError);
    await expect(readNeighbourTable(file)).rejects.toThrow(/neighbours\.tsv:2/);
    fs.writeFileSync(file, '1\t5\n1\t7\n');
    await expect(readNeighbourTable(file)).rejects.toThrow(/entity 1 is listed twice/);
  });

  it('expands every row of a knowledge TSV as the lattice of its caption', async () => {
    const tokenizer = BertTokenizer.fromVocabFile(path.join(FIX, 'vocab.txt'));
    const { lexicon } = await loadEntityLexicon(path.join(FIX, 'entity2id.txt'));
    const input = path.join(tmp, 'in.tsv');
    fs.writeFileSync(input, '0\t红色连衣裙女夏季\n');
    const plain = latticeOf('红色连衣裙女夏季', tokenizer, lexicon);
    const table = new Map([[plain.lexIds[0]!, ['2', '4']]]);
    const output = path.join(tmp, 'out.tsv');
    const s = await writeKnowledgeTsv({ input, output, tokenizer, lexicon, neighbours: table });
    expect(s.rows).toBe(1);
    const [row] = (await readTsv(output, 'knowledge')).rows;
    const want = expandLattice(plain, table);
    expect(row!.lexIds).toEqual(want.lexIds);
    expect(row!.posS).toEqual(want.posS);
    expect(row!.lexIds.length).toBe(plain.lexIds.length + 2);
  });
});
