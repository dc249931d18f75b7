import fs from 'node:fs';
import path from 'node:path';
import { buildCatalog } from '../src/emoji_zh/catalog';
import { renderEmojiImages } from '../src/emoji_zh/render_pool';
import { loadEmojiSources } from '../src/emoji_zh/sources';
import { decodePng } from '../src/png';

// Worker threads run compiled JS: the worker comes from dist (turbo builds before testing).
const WORKER = path.join(__dirname, '..', 'dist', 'emoji_zh', 'render_worker.js');

describe('renderEmojiImages', () => {
  const files = buildCatalog(loadEmojiSources(false))
    .items.slice(0, 150)
    .map((i) => i.imageFile);

  it('gives the same bytes in worker threads as in this thread', async () => {
    if (!fs.existsSync(WORKER))
      throw new Error(`${WORKER} is missing: run "pnpm build" before the tests`);
    const progress: number[] = [];
    const single = await renderEmojiImages(files, { size: 24, level: 6, threads: 1 });
    const pooled = await renderEmojiImages(files, {
      size: 24,
      level: 6,
      threads: 2,
      workerFile: WORKER,
      onProgress: (done) => progress.push(done),
    });
    expect(pooled).toHaveLength(150);
    const differing = pooled.filter(
      (p, i) => Buffer.compare(Buffer.from(p), Buffer.from(single[i])) !== 0,
    );
    expect(differing).toHaveLength(0);
    expect(progress[progress.length - 1]).toBe(150);
    const img = decodePng(pooled[149]);
    expect([img.width, img.height]).toEqual([24, 24]);
  });

  it('reports a broken source file with its path', async () => {
    await expect(
      renderEmojiImages([__filename], { size: 8, level: 6, threads: 1 }),
    ).rejects.toThrow(/render_pool\.test\.ts: not a readable PNG/);
    if (fs.existsSync(WORKER)) {
      await expect(
        renderEmojiImages([...files.slice(0, 70), __filename], {
          size: 8,
          level: 6,
          threads: 2,
          workerFile: WORKER,
        }),
      ).rejects.toThrow(/emoji render worker: .*not a readable PNG/);
    }
  });
});
