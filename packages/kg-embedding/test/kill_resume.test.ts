import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TransEConfig } from '../src/config';
import { trainTransE } from '../src/trainer';
import { gridDataset } from './helpers';

// A real SIGKILL, at arbitrary moments (mid-epoch, mid-checkpoint-write): the child trains with
// one worker, so its main thread is idle and the timer fires wherever training happens to be.
const grid = gridDataset(4, 4);
const cfg: Partial<TransEConfig> = {
  dim: 8,
  negatives: 4,
  batchSize: 8,
  epochs: 60,
  learningRate: 0.05,
  margin: 1,
  workers: 1,
  seed: 11,
  checkpointEvery: 1,
  keepCheckpoints: 2,
};

const child = `
const fs = require('node:fs');
const kg = require(process.argv[1]);
const raw = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const ts = (s) => ({ data: Int32Array.from(s.data), count: s.count });
const ds = { ...raw, train: ts(raw.train), valid: ts(raw.valid), test: ts(raw.test) };
setTimeout(() => process.kill(process.pid, 'SIGKILL'), Number(process.argv[5]));
kg.trainTransE(ds, JSON.parse(process.argv[4]), { checkpointDir: process.argv[3] }).then(() => process.exit(0));
`;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-kill-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('resumes after SIGKILL at arbitrary points with the uninterrupted loss sequence', async () => {
  const full = await trainTransE(grid, cfg);
  const dsFile = path.join(dir, 'grid.json');
  const plain = (s: { data: Int32Array; count: number }) => ({
    data: Array.from(s.data),
    count: s.count,
  });
  fs.writeFileSync(
    dsFile,
    JSON.stringify({
      ...grid,
      train: plain(grid.train),
      valid: plain(grid.valid),
      test: plain(grid.test),
    }),
  );
  const dist = path.join(__dirname, '..', 'dist', 'index.js');
  let killed = 0;
  for (const delay of [300, 900]) {
    const ck = path.join(dir, `ck-${delay}`);
    const r = spawnSync(
      process.execPath,
      ['-e', child, dist, dsFile, ck, JSON.stringify(cfg), String(delay)],
      {
        encoding: 'utf8',
      },
    );
    if (r.signal === 'SIGKILL') killed++;
    else expect(r.status).toBe(0);
    const resumed = await trainTransE(grid, cfg, { checkpointDir: ck });
    expect(resumed.lossHistory).toEqual(full.lossHistory);
    // The tables may be views into a larger (WebAssembly) memory: compare the views' bytes.
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(bytes(resumed.embeddings.entity).equals(bytes(full.embeddings.entity))).toBe(true);
  }
  expect(killed).toBeGreaterThan(0);
});
