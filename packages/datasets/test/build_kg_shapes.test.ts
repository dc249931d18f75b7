import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildDataset, readDatasetManifest } from '../src/build';
import { readOpenKe } from '../src/kg';
import { loadKgShapesWorld, scoreKgShapesTsv } from '../src/kg_shapes';
import { decodePngBase64 } from '../src/png';
import { readImageTsv, readMeta } from '../src/read';
import type { BuildProgress } from '../src/types';
import { expectSameTree, tempDir } from './helpers';

describe('buildDataset("kg-shapes-zh")', () => {
  const root = tempDir('kgs');
  const out = path.join(root, 'a');
  const progress: BuildProgress[] = [];
  const config = { trainRows: 300 };

  beforeAll(async () => {
    await buildDataset('kg-shapes-zh', {
      out,
      size: 32,
      seed: 5,
      config,
      onProgress: (p) => progress.push(p),
    });
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('writes the data-stage layout with the expected counts', () => {
    for (const f of [
      'train.tsv',
      'val.tsv',
      'test.tsv',
      'train.meta.tsv',
      'NOTICE',
      'dataset.json',
      'world.json',
    ]) {
      expect(fs.existsSync(path.join(out, f))).toBe(true);
    }
    for (const f of ['entity2id.txt', 'relation2id.txt', 'train2id.txt', 'triples.tsv']) {
      expect(fs.existsSync(path.join(out, 'kg', f))).toBe(true);
    }
    const m = readDatasetManifest(out);
    // val: 48 seen singles + 32 held-out pairs; test: 16 + 16 + 32 unseen + 32 held-out pairs.
    expect(m.counts).toEqual({ train: 300, val: 80, test: 96 });
    expect(m.kg).toMatchObject({ entities: 84, relations: 4, triples: 256 });
    expect(readImageTsv(path.join(out, 'train.tsv'))).toHaveLength(300);
    expect(m.stats).toMatchObject({ creatures: 64, seen: 48, unseen: 16 });
    expect(progress[progress.length - 1].stage).toBe('done');
  });

  it('has EasyNLP rows whose images all decode at the requested size', () => {
    for (const split of ['train', 'val', 'test'] as const) {
      const lines = fs
        .readFileSync(path.join(out, `${split}.tsv`), 'utf8')
        .trimEnd()
        .split('\n');
      lines.forEach((line, i) => {
        const cols = line.split('\t');
        expect(cols).toHaveLength(3);
        expect(cols[0]).toBe(String(i));
        const img = decodePngBase64(cols[2]);
        expect([img.width, img.height]).toEqual([32, 32]);
      });
    }
  });

  it('names only KG entities in captions, and never shows an unseen creature in train', () => {
    const { entities, triples } = readOpenKe(path.join(out, 'kg'));
    const known = new Set(entities);
    const world = loadKgShapesWorld(out);
    const unseen = new Set(world.creatures.filter((c) => !c.seen).map((c) => c.name));
    for (const split of ['train', 'val', 'test'] as const) {
      for (const meta of readMeta(out, split).values()) {
        for (const e of meta.entities.split(',')) {
          expect(known.has(e)).toBe(true);
          if (split === 'train') expect(unseen.has(e)).toBe(false);
        }
      }
    }
    // Every creature's appearance is in the KG.
    for (const c of world.creatures) {
      for (const rel of ['颜色是', '形状是', '生活在']) {
        expect(triples.some((t) => t.head === c.name && t.relation === rel)).toBe(true);
      }
    }
    const testGroups = new Set([...readMeta(out, 'test').values()].map((m) => m.group));
    expect([...testGroups].sort()).toEqual([
      'heldout-pair',
      'unseen-one',
      'unseen-pair',
      'unseen-two',
    ]);
  });

  it('keeps held-out pairs out of train', () => {
    const train = new Set(readImageTsv(path.join(out, 'train.tsv')).map((r) => r.text));
    for (const split of ['val', 'test'] as const) {
      const rows = readImageTsv(path.join(out, `${split}.tsv`));
      const meta = readMeta(out, split);
      for (const r of rows)
        if (meta.get(r.idx)!.group === 'heldout-pair') expect(train.has(r.text)).toBe(false);
    }
  });

  it('scores its own ground-truth images at 100 %', () => {
    const { overall, byGroup } = scoreKgShapesTsv(out, path.join(out, 'test.tsv'), 'test');
    expect(overall).toMatchObject({
      images: 96,
      habitatAccuracy: 1,
      colourAccuracy: 1,
      shapeAccuracy: 1,
    });
    expect(Object.keys(byGroup).sort()).toEqual([
      'heldout-pair',
      'unseen-one',
      'unseen-pair',
      'unseen-two',
    ]);
  });

  it('records a sha256 for every file and a NOTICE', () => {
    const m = readDatasetManifest(out);
    for (const [rel, hash] of Object.entries(m.files)) {
      expect(
        createHash('sha256')
          .update(fs.readFileSync(path.join(out, rel)))
          .digest('hex'),
      ).toBe(hash);
    }
    expect(Object.keys(m.files)).toContain('kg/train2id.txt');
    expect(fs.readFileSync(path.join(out, 'NOTICE'), 'utf8')).toMatch(/CC0/);
  });

  it('is deterministic: the same options give byte-identical folders', async () => {
    const again = path.join(root, 'b');
    await buildDataset('kg-shapes-zh', { out: again, size: 32, seed: 5, config });
    expectSameTree(out, again);
    const other = path.join(root, 'c');
    await buildDataset('kg-shapes-zh', { out: other, size: 32, seed: 6, config });
    expect(fs.readFileSync(path.join(other, 'kg', 'triples.tsv'))).not.toEqual(
      fs.readFileSync(path.join(out, 'kg', 'triples.tsv')),
    );
  });

  it('honours limit and size', async () => {
    const small = path.join(root, 'limit');
    const r = await buildDataset('kg-shapes-zh', {
      out: small,
      size: 64,
      seed: 5,
      limit: 10,
      config,
    });
    expect(r.manifest.counts).toEqual({ train: 10, val: 10, test: 10 });
    const img = decodePngBase64(readImageTsv(path.join(small, 'val.tsv'))[0].images[0]);
    expect(img.width).toBe(64);
  });

  it('refuses to overwrite unless asked, and names bad options', async () => {
    await expect(buildDataset('kg-shapes-zh', { out, seed: 5 })).rejects.toThrow(/already exists/);
    await expect(
      buildDataset('kg-shapes-zh', { out: path.join(root, 'x'), size: 5 }),
    ).rejects.toThrow(/size/);
    await expect(
      buildDataset('kg-shapes-zh', { out: path.join(root, 'x'), config: { trainRows: 0 } }),
    ).rejects.toThrow(/trainRows/);
    await expect(
      buildDataset('kg-shapes-zh', { out: path.join(root, 'x'), config: { colour: 1 } as never }),
    ).rejects.toThrow(/unknown field "colour"/);
    await expect(buildDataset('mnist', { out: path.join(root, 'x') })).rejects.toThrow(
      /available: emoji-zh, kg-shapes-zh/,
    );
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false);
  });

  it('builds the two-hop variant', async () => {
    const dir = path.join(root, 'twohop');
    const r = await buildDataset('kg-shapes-zh', {
      out: dir,
      seed: 5,
      limit: 5,
      config: { twoHopColour: true },
    });
    expect(r.manifest.kg.relationCounts).toMatchObject({ 属于: 64, 颜色是: 8 });
  });
});
