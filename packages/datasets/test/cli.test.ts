import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '../src/cli';
import { tempDir } from './helpers';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

describe('artist-datasets CLI', () => {
  const root = tempDir('cli');
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('lists the builders', async () => {
    const s = io();
    expect(await runCli(['list'], s.io)).toBe(0);
    expect(s.out.join('')).toMatch(/^emoji-zh\t64px/m);
    expect(s.out.join('')).toMatch(/^kg-shapes-zh\t32px/m);
  });

  it('builds (data build <name> --out <dir> --size <px>) and scores', async () => {
    const out = path.join(root, 'data');
    const s = io();
    const code = await runCli(
      [
        'build',
        'kg-shapes-zh',
        '--out',
        out,
        '--size',
        '32',
        '--seed',
        '9',
        '--config',
        '{"trainRows":20}',
      ],
      s.io,
    );
    expect(s.err.join('')).not.toMatch(/artist-datasets:/);
    expect(code).toBe(0);
    expect(s.out.join('')).toMatch(
      /train 20, val 80, test 96 rows at 32px; KG 84 entities, 4 relations, 256 triples/,
    );
    const t = io();
    expect(await runCli(['score', out, path.join(out, 'val.tsv'), '--split', 'val'], t.io)).toBe(0);
    const result = JSON.parse(t.out.join(''));
    expect(result.overall.habitatAccuracy).toBe(1);
    expect(Object.keys(result.byGroup).sort()).toEqual(['heldout-pair', 'seen-one']);
  });

  it('reports bad input with a message and a non-zero code', async () => {
    const s = io();
    expect(
      await runCli(['build', 'kg-shapes-zh', '--out', path.join(root, 'x'), '--size', 'big'], s.io),
    ).toBe(1);
    expect(s.err.join('')).toMatch(/--size must be an integer, got big/);
    const t = io();
    expect(await runCli(['frobnicate'], t.io)).toBe(2);
    expect(t.err.join('')).toMatch(/usage:/);
  });
});
