import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initRuntime } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import type { FeatureExtractor } from '../src/extractor';
import { type ImageSource, imageSourceFromPath, readImages } from '../src/images';
import { loadNsfwjsInceptionV3 } from '../src/nsfwjs_inception';
import { cachedStats, evaluateImages, extractStats, validateExtractConfig } from '../src/pipeline';

// The real default extractor at a small input size on wasm (see nsfwjs_inception.test.ts).
let ex: FeatureExtractor;
let dir: string;
const N = 6;
const H = 16;
const pixels = new Uint8Array(N * H * H * 3);
const pngs: Buffer[] = [];

beforeAll(async () => {
  await initRuntime({ backend: 'wasm' });
  ex = await loadNsfwjsInceptionV3({ imageSize: 75 });
  dir = mkdtempSync(join(tmpdir(), 'eval-fid-pipeline-'));
  for (let i = 0; i < N; i++) {
    for (let p = 0; p < H * H; p++) {
      const x = p % H;
      const y = Math.floor(p / H);
      pixels.set(
        [(x * 16 + i * 40) % 256, (y * 16 * (i + 1)) % 256, ((x ^ y) * 17 + i * 7) % 256],
        (i * H * H + p) * 3,
      );
    }
    const img = pixels.subarray(i * H * H * 3, (i + 1) * H * H * 3);
    pngs.push(
      await sharp(Buffer.from(img), { raw: { width: H, height: H, channels: 3 } })
        .png()
        .toBuffer(),
    );
  }
  const folder = join(dir, 'real');
  mkdirSync(folder);
  for (const [i, b] of pngs.entries())
    writeFileSync(join(folder, `img_${String(i).padStart(3, '0')}.png`), b);
  writeFileSync(join(folder, 'notes.txt'), 'not an image'); // skipped by extension
  // EasyNLP TSV: idx \t text \t imgbase64; the last line holds a Python list repr (prediction output).
  const lines = pngs.slice(0, 4).map((b, i) => `${i}\t文本${i}\t${b.toString('base64')}`);
  lines.push(`4\t预测\t['${pngs[4]!.toString('base64')}', '${pngs[5]!.toString('base64')}']`);
  writeFileSync(join(dir, 'real.tsv'), `${lines.join('\n')}\n`);
});

afterAll(() => {
  ex?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Bitwise equality of two float arrays (jest's toEqual is very slow on 4M-entry arrays). */
const sameBits = (a: Float64Array, b: Float64Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );

const arraySource = (): ImageSource => ({
  kind: 'array',
  data: pixels,
  count: N,
  height: H,
  width: H,
});

test('folder, EasyNLP TSV and in-memory arrays give identical statistics (PNG is lossless)', async () => {
  const progress: number[] = [];
  const before = tf.memory().numTensors;
  const a = await extractStats(ex, arraySource(), {
    batchSize: 4,
    onProgress: (n) => progress.push(n),
  });
  expect(tf.memory().numTensors).toBe(before);
  expect(progress).toEqual([4, 6]);
  const f = await extractStats(ex, await imageSourceFromPath(join(dir, 'real')), { batchSize: 4 });
  const t = await extractStats(ex, await imageSourceFromPath(join(dir, 'real.tsv')), {
    batchSize: 5,
  });
  expect(a.stats.count).toBe(N);
  expect(a.stats.dim).toBe(2048);
  expect(a.stats.protocol).toEqual(ex.protocol);
  expect(sameBits(f.stats.mu, a.stats.mu)).toBe(true);
  expect(sameBits(f.stats.sigma, a.stats.sigma)).toBe(true);
  // Different batch composition: float32 conv sums may differ in the last bits across batch sizes.
  for (let i = 0; i < 2048; i++)
    expect(Math.abs(t.stats.mu[i]! - a.stats.mu[i]!)).toBeLessThan(1e-6);
});

test('limit, keepFeatures and config validation', async () => {
  const r = await extractStats(ex, arraySource(), { batchSize: 2, limit: 3, keepFeatures: true });
  expect(r.stats.count).toBe(3);
  expect(r.features!.count).toBe(3);
  expect(r.features!.data.length).toBe(3 * 2048);
  expect(() => validateExtractConfig({ batchSize: 0 })).toThrow(/ExtractConfig\.batchSize/);
});

test('cached real statistics: miss, hit, stale when the folder changes', async () => {
  const folder: ImageSource = { kind: 'folder', path: join(dir, 'real') };
  const cache = join(dir, 'real_stats.npz');
  const first = await cachedStats(cache, ex, folder, { batchSize: 8, keepFeatures: true });
  expect(first.cache).toBe('miss');
  const second = await cachedStats(cache, ex, folder, { batchSize: 8, keepFeatures: true });
  expect(second.cache).toBe('hit');
  expect(sameBits(second.stats.sigma, first.stats.sigma)).toBe(true);
  expect(second.features!.count).toBe(N);
  writeFileSync(join(dir, 'real', 'img_999.png'), pngs[0]!);
  const third = await cachedStats(cache, ex, folder, { batchSize: 8 });
  expect(third.cache).toBe('stale');
  expect(third.staleReason).toBe('image source changed');
  expect(third.stats.count).toBe(N + 1);
  rmSync(join(dir, 'real', 'img_999.png'));
});

test('evaluateImages: FID and KID with fingerprints', async () => {
  const fake = new Uint8Array(N * H * H * 3);
  for (let i = 0; i < fake.length; i++) fake[i] = (i * 2654435761) >>> 24; // hash noise
  const seen: string[] = [];
  const r = await evaluateImages({
    extractor: ex,
    real: { kind: 'folder', path: join(dir, 'real') },
    fake: { kind: 'array', data: fake, count: N, height: H, width: H },
    extract: { batchSize: 4 },
    kid: { subsets: 3, subsetSize: 4 },
    onProgress: (side, done) => seen.push(`${side}:${done}`),
  });
  expect(seen).toEqual(['real:4', 'real:6', 'fake:4', 'fake:6']);
  expect(r.fid.fid).toBeGreaterThan(0);
  expect(r.fid.singular).toBe(true); // 6 samples in 2048 dimensions
  expect(r.kid).not.toBeNull();
  expect(r.summary[0]).toMatch(
    /^FID = [\d.]+ FID\[nsfwjs-4\.4\.0-inception-v3-mixed10-avg weights=sha256:[0-9a-f]{12} size=75 /,
  );
  expect(r.summary[0]).toMatch(
    /n=6\/6 d=2048 dtype=float64 eps=no; NOT comparable with published scores\]$/,
  );
  expect(r.summary[1]).toMatch(/^KID = .* KID\[.* subsets=3x4; NOT comparable/);
  const same = await evaluateImages({
    extractor: ex,
    real: { kind: 'folder', path: join(dir, 'real') },
    fake: arraySource(),
    kid: false,
  });
  expect(Math.abs(same.fid.fid)).toBeLessThan(1e-6);
  expect(same.kid).toBeNull();
});

test('bad inputs name the file, line and column', async () => {
  const bad = join(dir, 'bad.tsv');
  writeFileSync(bad, `0\tok\t${pngs[0]!.toString('base64')}\n`);
  appendFileSync(bad, '1\tbroken\tbm90IGFuIGltYWdl\n');
  await expect(extractStats(ex, { kind: 'tsv', path: bad })).rejects.toThrow(
    /bad\.tsv:2: column 3: not a decodable image/,
  );
  // Bad base64 and bad list reprs: lattice-data's image-column parser, at file:line:column.
  writeFileSync(bad, `0\tok\t${pngs[0]!.toString('base64')}\n1\tbroken\tiVBO*w0K\n`);
  await expect(
    readImages({ kind: 'tsv', path: bad }, 2)
      .next()
      .then(() => 0),
  ).resolves.toBe(0);
  const all = async () => {
    for await (const _ of readImages({ kind: 'tsv', path: bad })) {
      /* consume */
    }
  };
  await expect(all()).rejects.toThrow(
    'bad.tsv:2:3 (image): invalid base64 character "*" at offset 4',
  );
  writeFileSync(bad, "0\tpred\t['iVBORw0K', iVBORw0K]\n");
  await expect(all()).rejects.toThrow(/bad\.tsv:1:3 \(image\): list item is not a quoted string/);
  const empty = mkdtempSync(join(tmpdir(), 'eval-fid-empty-'));
  try {
    await expect(readImages({ kind: 'folder', path: empty }).next()).rejects.toThrow(
      /no image files/,
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
  await expect(imageSourceFromPath(join(dir, 'missing'))).rejects.toThrow(/no such file or folder/);
});
