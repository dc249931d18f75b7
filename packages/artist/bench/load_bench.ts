/**
 * Generator.load on an imported ARTIST-base folder (`pnpm --filter @artist-ts/artist bench:load`; `pnpm bench` runs bench/artist_base_bench.ts, whose load line is the first load of a fresh process too): GPT-knowl `artist-base`
 * (fusion easynlp, 126.75 M parameters) + VQGAN `artist-base` (76.07 M), random weights
 * (`random_artist_base.ts`) plus a vocab.txt. Target (issue 19 item 5): <= 3 s on the default backend.
 *
 * The first load of the process is the figure that counts (the wasm heap grows and its pages are
 * touched for the first time); later loads reuse the grown heap and are much faster. The folder's
 * files are in the page cache after the first run (run once more for a disk-cold figure after
 * dropping caches, which needs root).
 *
 * Options: --dir D (the folder; made once when missing, default $TMPDIR/artist-base-load-bench),
 * --reps N (loads timed, default 2).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { countParameters } from '@artist-ts/gpt-knowl';
import { describeRuntime, initRuntime } from '@artist-ts/runtime';
import { Generator } from '../src';
import { writeRandomArtistBase, writeVocab } from './random_artist_base';

const TARGET_S = 3;

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function main(): Promise<void> {
  const info = await initRuntime();
  const dir = arg('--dir', path.join(os.tmpdir(), 'artist-base-load-bench'));
  const reps = Number(arg('--reps', '2'));
  if (!fs.existsSync(path.join(dir, 'vqgan', 'latest'))) {
    const t0 = performance.now();
    await writeRandomArtistBase(dir);
    writeVocab(path.join(dir, 'vocab.txt'), 21128);
    console.log(`made ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  console.log(`${describeRuntime(info)}; cores ${os.cpus().length}; node ${process.version}`);
  const paths = {
    gpt: path.join(dir, 'gpt'),
    vqgan: path.join(dir, 'vqgan'),
    vocab: path.join(dir, 'vocab.txt'),
    entities: null,
  };
  for (let r = 0; r < reps; r++) {
    const c0 = cpuSeconds();
    const t0 = performance.now();
    const g = await Generator.load(paths);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds() - c0;
    const params = countParameters(g.gpt.config) + g.vqgan.parameterCount();
    g.dispose();
    console.log(
      `${r === 0 ? 'first load' : 'repeat load'}: Generator.load ARTIST-base (${(params / 1e6).toFixed(2)} M parameters): ${wall.toFixed(2)} s wall, ` +
        `${cpu.toFixed(2)} CPU-s, peak RSS ${(process.resourceUsage().maxRSS / 2 ** 20).toFixed(2)} GiB; ` +
        `target <= ${TARGET_S} s: ${wall <= TARGET_S ? 'met' : 'NOT met'}; load average ${os.loadavg()[0].toFixed(2)}`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
