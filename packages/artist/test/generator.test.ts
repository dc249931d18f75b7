import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeImage, TsvReader } from '@artist-ts/lattice-data';
import { initRuntime } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import { Generator, pathsOfRun } from '../src/generator';
import { generateTsv, gridOf, writePngs } from '../src/outputs';
import { CAPTIONS, makeRun } from './tiny_run';

describe('generator', () => {
  beforeAll(async () => {
    await initRuntime({ backend: 'cpu' });
  });

  it('matches the run lexicon in captions and generates n images per text, reproducibly', async () => {
    const run = await makeRun('lattice');
    const g = await Generator.load(run);
    try {
      const [enc, none] = g.encodeTexts(['狗脸和苹果', '天空']);
      // EasyNLP's FLAT layout, straight from lattice-data: token entries, then one per entity.
      expect(enc.lattice).toEqual({
        tokens: ['狗', '脸', '和', '苹', '果'],
        seqLen: 5,
        lexIds: ['0', '1'],
        posS: [0, 1, 2, 3, 4, 0, 3],
        posE: [0, 1, 2, 3, 4, 1, 4],
      });
      expect(Array.from(enc.ids.subarray(0, 6))).toEqual([
        ...['狗', '脸', '和', '苹', '果'].map((t) => g.tokenizer.vocab.id(t)),
        g.tokenizer.padId,
      ]);
      expect(none.lattice?.lexIds).toEqual([]);
      const a = await g.generate(['一只狗脸', '红色的苹果'], { numImages: 2, seed: 7 });
      const b = await g.generate(['一只狗脸', '红色的苹果'], { numImages: 2, seed: 7 });
      expect(a.map((x) => [x.textIndex, x.sample])).toEqual([
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ]);
      expect(a.every((x) => x.pixels.length === 8 * 8 * 3 && x.width === 8 && x.height === 8)).toBe(
        true,
      );
      expect(b.map((x) => Array.from(x.pixels))).toEqual(a.map((x) => Array.from(x.pixels)));
      const png = await g.generate(['一只狗脸', '红色的苹果'], {
        numImages: 2,
        seed: 7,
        format: 'png',
      });
      for (const [i, p] of png.entries()) {
        const img = await decodeImage(Buffer.from(p.png));
        expect([img.width, img.height, p.textIndex, p.sample]).toEqual([
          8,
          8,
          a[i].textIndex,
          a[i].sample,
        ]);
        expect(Array.from(img.data)).toEqual(Array.from(a[i].pixels));
      }
      const seen: number[] = [];
      await g.generate(['一只狗脸'], {
        numImages: 2,
        onProgress: (p) => seen.push(p.images),
      });
      expect(seen[seen.length - 1]).toBe(2);
      await expectNoLeakedTensors(() =>
        g.generate(['一只狗脸'], { numImages: 1, seed: 1 }).then(() => undefined),
      );
    } finally {
      g.dispose();
    }
  });

  it('round-trips an EasyNLP test TSV into a prediction TSV, one row per image', async () => {
    const run = await makeRun('none');
    const input = path.join(run, 'test.tsv');
    fs.writeFileSync(input, CAPTIONS.map((c, i) => `${i}\t${c}`).join('\n') + '\n');
    const output = path.join(run, 'pred.tsv');
    const g = await Generator.load(pathsOfRun(run));
    try {
      const r = await generateTsv(g, input, output, { numImages: 2, seed: 3, chunk: 2 });
      expect(r).toEqual({ texts: 3, images: 6 });
    } finally {
      g.dispose();
    }
    const rows: { idx: string; text: string; images: string[] }[] = [];
    for await (const row of new TsvReader(output, 'prediction')) rows.push(row);
    expect(rows.map((row) => [row.idx, row.text])).toEqual([
      ['0', CAPTIONS[0]],
      ['0', CAPTIONS[0]],
      ['1', CAPTIONS[1]],
      ['1', CAPTIONS[1]],
      ['2', CAPTIONS[2]],
      ['2', CAPTIONS[2]],
    ]);
    for (const row of rows) {
      expect(row.images).toHaveLength(1);
      const img = await decodeImage(Buffer.from(row.images[0], 'base64'));
      expect([img.width, img.height]).toEqual([8, 8]);
    }
  });

  it('names the missing piece of an unfinished run', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-gen-empty-'));
    expect(() => pathsOfRun(dir)).toThrow(/gpt[/\\]checkpoint: missing \(run folder .* has no gpt/);
  });

  it('lays images out in a grid with gutters and writes PNGs', async () => {
    const red = new Uint8Array(2 * 2 * 3).fill(0);
    for (let i = 0; i < 4; i++) red[i * 3] = 255;
    const grid = gridOf([red, red, red], 2, 2);
    expect([grid.width, grid.height]).toEqual([10, 10]); // 2 images of 2 px + 3 gutters of 2 px
    expect(Array.from(grid.data.subarray(0, 3))).toEqual([255, 255, 255]); // gutter
    const p = (2 * 10 + 2) * 3; // row 2, col 2: first pixel of image 0
    expect(Array.from(grid.data.subarray(p, p + 3))).toEqual([255, 0, 0]);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-gen-png-'));
    const files = await writePngs(
      out,
      [{ textIndex: 0, sample: 0, width: 2, height: 2, pixels: red }],
      1,
    );
    expect(files.map((f) => path.basename(f))).toEqual(['000-0.png', 'grid.png']);
  });
});
