/**
 * Build-speed benchmark: builds each dataset into a temporary folder and reports wall time, rows/s
 * and output size. Baseline measured in the same run: decoding every source emoji PNG once (the
 * floor for emoji-zh), so the ratio shows what rendering, encoding and writing add.
 *
 *   pnpm bench                       # kg-shapes-zh 32 px, emoji-zh 32 and 64 px
 *   DATASETS_BENCH_SIZES=32,64,256 DATASETS_BENCH_THREADS=1,2 pnpm bench
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Run the compiled package (turbo builds before benchmarking) so image rendering can use the
// worker_threads pool, whose worker must be compiled JS.
const DIST = path.join(__dirname, '..', 'dist', 'index.js');
if (!fs.existsSync(DIST)) throw new Error(`${DIST} is missing: run "pnpm build" first`);
// Loads the build output at run time, typed from the sources.
const lib = require(DIST) as typeof import('../src/index');
const { buildDataset, buildCatalog, loadEmojiSources, decodePng } = lib;

function folderBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? folderBytes(p) : fs.statSync(p).size;
  }
  return n;
}

async function main(): Promise<void> {
  const sizes = (process.env.DATASETS_BENCH_SIZES ?? '32,64').split(',').map(Number);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'datasets-bench-'));
  console.log(
    `cores ${os.cpus().length}, load ${os.loadavg()[0].toFixed(1)}, node ${process.version}`,
  );
  try {
    let t = performance.now();
    const base0 = process.cpuUsage();
    const items = buildCatalog(loadEmojiSources(false)).items;
    for (const item of items) decodePng(fs.readFileSync(item.imageFile));
    const baseline = (performance.now() - t) / 1000;
    const baseCpu = process.cpuUsage(base0);
    console.log(
      `baseline: decode ${items.length} source PNGs: ${baseline.toFixed(2)} s (CPU ${((baseCpu.user + baseCpu.system) / 1e6).toFixed(2)} s)`,
    );

    const threadCounts = (process.env.DATASETS_BENCH_THREADS ?? '1,2').split(',').map(Number);
    const runs: Array<[string, number, number]> = [['kg-shapes-zh', 32, 1]];
    for (const s of sizes) for (const th of threadCounts) runs.push(['emoji-zh', s, th]);
    for (const [name, size, threads] of runs) {
      const out = path.join(root, `${name}-${size}-${threads}`);
      t = performance.now();
      const cpu0 = process.cpuUsage();
      const { manifest } = await buildDataset(name, { out, size, seed: 0, threads });
      const secs = (performance.now() - t) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const cpuSecs = (cpu.user + cpu.system) / 1e6;
      const rows = manifest.counts.train + manifest.counts.val + manifest.counts.test;
      console.log(
        `${name} ${size}px, ${threads} thread(s): ${secs.toFixed(2)} s, ${rows} rows (${(rows / secs).toFixed(0)} rows/s), ` +
          `CPU ${cpuSecs.toFixed(2)} s (all threads), ${(folderBytes(out) / 1e6).toFixed(1)} MB, ` +
          `${(secs / baseline).toFixed(2)}x baseline`,
      );
      fs.rmSync(out, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
