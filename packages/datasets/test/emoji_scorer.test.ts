import fs from 'node:fs';
import path from 'node:path';
import { buildDataset } from '../src/build';
import { scoreEmojiZhImages } from '../src/emoji_zh/scorer';
import { decodePngBase64, toRgb } from '../src/png';
import { readImageTsv, readMeta } from '../src/read';
import { tempDir } from './helpers';

describe('emoji-zh keyword hit', () => {
  const root = tempDir('emoji-hit');
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('hits with the caption emoji itself, misses with another one, per group', async () => {
    const dir = path.join(root, 'data');
    await buildDataset('emoji-zh', { out: dir, size: 16, seed: 5, limit: 12 });
    const rows = readImageTsv(path.join(dir, 'test.tsv'));
    const meta = readMeta(dir, 'test');
    const per = 16 * 16 * 3;
    const own = new Uint8Array(rows.length * per);
    rows.forEach((r, i) => {
      own.set(toRgb(decodePngBase64(r.images[0])).data, i * per);
    });
    const captions = { idx: rows.map((r) => r.idx) };
    const hit = scoreEmojiZhImages(dir, captions, own, rows.length, 16);
    expect(hit.overall.images).toBe(rows.length);
    expect(hit.overall.hit1).toBe(1);
    expect(hit.overall.hitTop1Percent).toBe(1);
    expect(hit.overall.rankPercentile).toBe(1);
    expect(hit.overall.subgroupHit1).toBe(1);
    const emojis = new Set<string>();
    for (const s of ['train', 'val', 'test'] as const)
      for (const m of readMeta(dir, s).values()) emojis.add(m.emoji);
    expect(hit.overall.gallery).toBe(emojis.size);
    expect(hit.overall.chance.hit1).toBeCloseTo(1 / emojis.size, 12);
    const groups = [...new Set([...meta.values()].map((m) => m.group))].sort();
    expect(Object.keys(hit.byGroup)).toEqual(groups);
    // Every caption shown the picture of another emoji (the next row with a different one).
    const textOf = rows.map((_, i) => {
      for (let k = 1; k < rows.length; k++) {
        const j = (i + k) % rows.length;
        if (meta.get(rows[j].idx)!.emoji !== meta.get(rows[i].idx)!.emoji) return j;
      }
      throw new Error('one emoji only');
    });
    // image i (picture of row i) is scored as the caption of textOf[i]
    const miss = scoreEmojiZhImages(dir, captions, own, rows.length, 16, textOf);
    expect(miss.overall.hit1).toBe(0);
    expect(miss.overall.rankPercentile).toBeLessThan(1);
    expect(miss.overall.chance.rankPercentile).toBe(0.5);
    expect(() => scoreEmojiZhImages(dir, { idx: ['nope'] }, own, 1, 16)).toThrow(
      /test caption idx nope has no emoji/,
    );
  });

  it('scores against the folder as it is now, not as an earlier call in this process saw it', async () => {
    const dir = path.join(root, 'rebuilt');
    await buildDataset('emoji-zh', { out: dir, size: 16, seed: 5, limit: 12 });
    const rows = readImageTsv(path.join(dir, 'test.tsv'));
    const per = 16 * 16 * 3;
    const own = new Uint8Array(rows.length * per);
    rows.forEach((r, i) => {
      own.set(toRgb(decodePngBase64(r.images[0])).data, i * per);
    });
    const captions = { idx: rows.map((r) => r.idx) };
    const before = scoreEmojiZhImages(dir, captions, own, rows.length, 16);
    // Rebuilt in place with fewer emoji: the gallery shrinks with it.
    fs.rmSync(dir, { recursive: true, force: true });
    await buildDataset('emoji-zh', { out: dir, size: 16, seed: 5, limit: 6 });
    const after = readImageTsv(path.join(dir, 'test.tsv'));
    const own2 = new Uint8Array(after.length * per);
    after.forEach((r, i) => {
      own2.set(toRgb(decodePngBase64(r.images[0])).data, i * per);
    });
    const again = scoreEmojiZhImages(dir, { idx: after.map((r) => r.idx) }, own2, after.length, 16);
    const emojis = new Set<string>();
    for (const s of ['train', 'val', 'test'] as const)
      for (const m of readMeta(dir, s).values()) emojis.add(m.emoji);
    expect(again.overall.gallery).toBe(emojis.size);
    expect(again.overall.gallery).toBeLessThan(before.overall.gallery);
    expect(again.overall.hit1).toBe(1);
  });
});
