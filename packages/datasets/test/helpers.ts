import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `artist-datasets-${prefix}-`));
}

/** Every file under `dir` as relative path -> bytes. */
export function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.set(r, fs.readFileSync(path.join(dir, r)));
    }
  };
  walk('');
  return out;
}

export function expectSameTree(a: string, b: string): void {
  const ta = readTree(a);
  const tb = readTree(b);
  expect([...ta.keys()].sort()).toEqual([...tb.keys()].sort());
  const differing = [...ta.keys()].filter((k) => Buffer.compare(ta.get(k)!, tb.get(k)!) !== 0);
  expect(differing).toEqual([]);
}
