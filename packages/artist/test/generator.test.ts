import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { atomicWriteFile } from '@artist-ts/core/files';
import { PRESETS as GPT_PRESETS, KnowlGpt, saveGpt } from '@artist-ts/gpt-knowl';
import { writeEmbeddings } from '@artist-ts/kg-embedding';
import { buildCharVocab, decodeImage, TsvReader } from '@artist-ts/lattice-data';
import { initRuntime } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import { Vqgan } from '@artist-ts/vqgan';
import { Generator, pathsOfRun } from '../src/generator';
import { generateTsv, gridOf, writePngs } from '../src/outputs';

const CAPTIONS = ['一只狗脸', '红色的苹果', '狗脸和苹果'];

/** A run folder with untrained tiny models: enough to exercise every file the generator reads. */
async function makeRun(fusion: 'lattice' | 'none'): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-gen-test-'));
  const vocab = buildCharVocab(CAPTIONS);
  await atomicWriteFile(path.join(dir, 'lattice', 'vocab.txt'), vocab.toText());
  await writeEmbeddings(path.join(dir, 'kg', 'vectors'), {
    dim: 8,
    entities: ['狗脸', '苹果'],
    relations: ['属于'],
    entity: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)),
    relation: new Float32Array(8),
  });
  const vqgan = Vqgan.create(
    {
      resolution: 8,
      ch: 4,
      chMult: [1, 2],
      numResBlocks: 1,
      attnResolutions: [],
      zChannels: 4,
      embedDim: 4,
      nEmbed: 16,
      numGroups: 2,
    },
    { seed: 1 },
  );
  await vqgan.save(path.join(dir, 'vqgan', 'checkpoint'));
  const [gh, gw] = vqgan.codeShape;
  const gpt = new KnowlGpt(
    {
      ...GPT_PRESETS.nano,
      fusion,
      textLen: 8,
      textVocabSize: vocab.size,
      imageLen: gh * gw,
      imageVocabSize: 16,
      entityDim: 8,
    },
    { seed: 2 },
  );
  await saveGpt(gpt, path.join(dir, 'gpt', 'checkpoint'));
  vqgan.dispose();
  gpt.dispose();
  return dir;
}

describe('generator', () => {
  beforeAll(async () => {
    await initRuntime({ backend: 'cpu' });
  });

  it('matches the run lexicon in captions and generates n images per text, reproducibly', async () => {
    const run = await makeRun('lattice');
    const g = await Generator.load(pathsOfRun(run));
    try {
      const enc = g.encodeText('狗脸和苹果');
      // lattice-data's lattice, passed through as is: FLAT layout, then the entity spans
      expect(enc.lattice).toEqual({
        tokens: ['狗', '脸', '和', '苹', '果'],
        seqLen: 5,
        lexIds: ['0', '1'],
        posS: [0, 1, 2, 3, 4, 0, 3],
        posE: [0, 1, 2, 3, 4, 1, 4],
      });
      expect(g.encodeText('天空').lattice).toMatchObject({ seqLen: 2, lexIds: [], posS: [0, 1] });
      const a = await g.generate(['一只狗脸', '红色的苹果'], { numSamples: 2, seed: 7 });
      const b = await g.generate(['一只狗脸', '红色的苹果'], { numSamples: 2, seed: 7 });
      expect(a.map((x) => [x.textIndex, x.sample])).toEqual([
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ]);
      expect(a.every((x) => x.pixels.length === 8 * 8 * 3)).toBe(true);
      expect(b.map((x) => Array.from(x.pixels))).toEqual(a.map((x) => Array.from(x.pixels)));
      await expectNoLeakedTensors(() =>
        g.generate(['一只狗脸'], { numSamples: 1, seed: 1 }).then(() => undefined),
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
      const r = await generateTsv(g, input, output, { numSamples: 2, seed: 3 }, { chunk: 2 });
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
    const files = await writePngs(out, [{ textIndex: 0, sample: 0, pixels: red }], 2, 1);
    expect(files.map((f) => path.basename(f))).toEqual(['000-0.png', 'grid.png']);
  });
});
