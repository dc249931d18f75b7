/**
 * ARTIST-base generation, end to end, at full size (`pnpm bench` in this package; issue 19 items
 * 3 and 5): GPT_knowl 126.75 M + VQGAN f16-16384 76.07 M, EasyNLP's layout, random weights.
 *
 * - PyTorch peer (same run, same weights) when `python3` imports torch and `ARTIST_EASYNLP_SRC`
 *   names a folder with EasyNLP's `modeling_artist_knowl.py` (its relative import of
 *   `top_k_top_p_filtering` removed) and `vqgan.py`: `bench/torch_artist_generate.py` writes the
 *   checkpoint (`pytorch_model.bin`) and times its whole command, n = 1 and n = 4. Without it, a
 *   random checkpoint is written by this package's own exporter and the peer's figures are the
 *   ones measured on the project machine (issue 19).
 * - artist-ts: `artist-train import` of that checkpoint, then the whole `artist-generate` command
 *   for one image (child process, wall time), and in process: `Generator.load`, KV-cached
 *   sampling of 256 codes at batch 1 and `-n 4`, the memory bandwidth those rates use against the
 *   machine's (`memoryReadBandwidth`), and VQGAN decode.
 *
 * Options: --dir <folder> (work folder, kept between runs; default: $TMPDIR/artist-base-bench),
 * --skip-peer, --threads <n>.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { Rng } from '@artist-ts/core/rng';
import { type KnowlGpt, sampleCodes } from '@artist-ts/gpt-knowl';
import { writeEmbeddings } from '@artist-ts/kg-embedding';
import { memoryReadBandwidth } from '@artist-ts/native-kernels';
import { initRuntime } from '@artist-ts/runtime';
import { exportEasyNLP, importCheckpoint } from '@artist-ts/torch-import';
import { Generator } from '../src';
import { writeRandomArtistBase, writeVocab } from './random_artist_base';

/** PyTorch 2.13 CPU, 2 threads, on the project machine (issue 19), when no peer runs here. */
const PYTORCH_FIXED = { tokensPerS: 20.3, wholeS: 18, n4TokensPerS: Number.NaN };

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};

interface PeerTimes {
  load_s: number;
  import_s: number;
  sample_s: number;
  tokens_per_s: number;
  decode_s: number;
  peak_rss_mib: number;
  whole_s: number;
  wall_s: number;
}

function torchAvailable(): boolean {
  const src = process.env.ARTIST_EASYNLP_SRC;
  if (!src || !fs.existsSync(path.join(src, 'modeling_artist_knowl.py'))) return false;
  return spawnSync('python3', ['-c', 'import torch, einops'], { stdio: 'ignore' }).status === 0;
}

function runPeer(args: string[]): PeerTimes {
  const t0 = performance.now();
  const r = spawnSync('python3', [path.join(__dirname, 'torch_artist_generate.py'), ...args], {
    env: { ...process.env, SRC: process.env.ARTIST_EASYNLP_SRC },
    encoding: 'utf8',
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`PyTorch peer failed: ${r.stderr.slice(-2000)}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return line.startsWith('{')
    ? { ...JSON.parse(line), wall_s: wall }
    : ({ wall_s: wall } as PeerTimes);
}

/** Bytes a batch-1 decoding step reads: the packed weights plus the KV cache at position `t`. */
function bytesPerToken(gpt: KnowlGpt, rows: number, avgPositions: number): number {
  const c = gpt.config;
  const d = c.nEmbd;
  const weights = c.nLayer * (d * 3 * d + d * d + d * 4 * d + 4 * d * d) + d * c.imageVocabSize;
  const kv = rows * c.nLayer * 2 * avgPositions * d;
  return 4 * (weights + kv);
}

const rss = () => process.memoryUsage().rss / 2 ** 20;

async function main() {
  const threads = opt('--threads', '');
  const dir = path.resolve(opt('--dir', path.join(os.tmpdir(), 'artist-base-bench')));
  fs.mkdirSync(dir, { recursive: true });
  const info = await initRuntime(threads ? { threads: Number(threads) } : {});
  const bw = memoryReadBandwidth();
  console.log(
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; backend ${info.backend}, native kernels ${info.nativeKernels ? `on, ${info.blasThreads} thread(s)` : 'off'}; memory read bandwidth ${bw ? `${bw.toFixed(1)} GB/s` : 'unknown (no native addon)'}; load average ${os.loadavg()[0].toFixed(2)}`,
  );

  // the checkpoint in EasyNLP's layout, and the PyTorch peer's figures
  const ckpt = path.join(dir, 'pytorch_model.bin');
  const peerOn = !flag('--skip-peer') && torchAvailable();
  let peer1: PeerTimes | null = null;
  let peer4: PeerTimes | null = null;
  const imported = path.join(dir, 'imported');
  if (peerOn) {
    if (!fs.existsSync(ckpt)) runPeer(['make', dir]);
    peer1 = runPeer(['generate', dir, threads || '2', '1']);
    peer4 = runPeer(['generate', dir, threads || '2', '4']);
    console.log(
      `PyTorch ${os.loadavg()[0].toFixed(2)} load: whole command ${peer1.wall_s.toFixed(1)} s (import ${peer1.import_s.toFixed(1)}, load ${peer1.load_s.toFixed(1)}, sampling ${peer1.sample_s.toFixed(1)} = ${peer1.tokens_per_s.toFixed(1)} tokens/s, decode ${peer1.decode_s.toFixed(1)}), peak RSS ${peer1.peak_rss_mib.toFixed(0)} MiB; -n 4: ${peer4.tokens_per_s.toFixed(1)} tokens/s`,
    );
  } else if (!fs.existsSync(ckpt)) {
    // no PyTorch: random weights written in EasyNLP's layout by our own exporter
    const seedRun = path.join(dir, 'random-run');
    await writeRandomArtistBase(seedRun);
    await exportEasyNLP(seedRun, path.join(dir, 'export'), {});
    fs.renameSync(path.join(dir, 'export', 'pytorch_model.bin'), ckpt);
  }
  if (!fs.existsSync(path.join(imported, 'gpt'))) {
    await importCheckpoint({ from: ckpt, kind: 'artist', out: imported });
  }
  const vocab = path.join(dir, 'vocab.txt');
  if (!fs.existsSync(vocab)) writeVocab(vocab, 21128);
  // EasyNLP's fusion reads an entity table even for captions without entities (entity 0 fills
  // every empty cell): a small TransE output folder with the caption's two entities
  const entities = path.join(dir, 'entities');
  if (!fs.existsSync(path.join(entities, 'entity2id.txt'))) {
    const rng = new Rng('bench/entities');
    await writeEmbeddings(entities, {
      dim: 100,
      entities: ['猫', '红色'],
      relations: ['颜色'],
      entity: rng.fillNormal(new Float32Array(200), 0, 0.1),
      relation: rng.fillNormal(new Float32Array(100), 0, 0.1),
    });
  }
  const paths = {
    gpt: path.join(imported, 'gpt'),
    vqgan: path.join(imported, 'vqgan'),
    vocab,
    entities,
  };

  // the whole command, as a user runs it
  const cli = path.join(__dirname, '..', 'dist', 'generate_cli.js');
  const outDir = path.join(dir, 'out');
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      cli,
      ...['--gpt', paths.gpt, '--vqgan', paths.vqgan, '--vocab', vocab, '--entities', entities],
      ...['-p', '一只红色的猫', '-o', outDir],
    ],
    { encoding: 'utf8', env: { ...process.env }, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const wholeS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`artist-generate failed: ${r.stderr.slice(-2000)}`);
  fs.rmSync(outDir, { recursive: true, force: true });
  const peerWhole = peer1?.wall_s ?? PYTORCH_FIXED.wholeS;
  console.log(
    `artist-generate, one image, whole command: ${wholeS.toFixed(1)} s; PyTorch ${peerWhole.toFixed(1)} s${peer1 ? ' (same run)' : ' (issue 19)'}: ratio ${(wholeS / peerWhole).toFixed(2)}, target <= 0.8: ${wholeS / peerWhole <= 0.8 ? 'met' : 'NOT met'}`,
  );

  // in process: load, sampling rates, decode
  let t = performance.now();
  const gen = await Generator.load(paths);
  const loadS = (performance.now() - t) / 1000;
  console.log(
    `Generator.load (GPT + VQGAN + vocab): ${loadS.toFixed(2)} s; target <= 3 s: ${loadS <= 3 ? 'met' : 'NOT met'}; RSS ${rss().toFixed(0)} MiB`,
  );
  const gpt = gen.gpt;
  const enc = gen.encodeTexts(['一只红色的猫'])[0];
  const entityTable = gen.entityTable;
  const rate = async (n: number) => {
    const res = await sampleCodes(
      gpt,
      { texts: [enc.ids], lattices: [enc.lattice], entityTable },
      { topK: 100, seed: 1, numSamples: n, batchSize: n },
    );
    return { tps: res.tokensPerSecond, s: res.elapsedMs / 1000, codes: res.codes };
  };
  await rate(1); // warm-up
  const r1 = await rate(1);
  const r4 = await rate(4);
  const peerRate = peer1?.tokens_per_s ?? PYTORCH_FIXED.tokensPerS;
  const avgPos = 32 + 128;
  const frac = bw ? (bytesPerToken(gpt, 1, avgPos) * r1.tps) / (bw * 1e9) : Number.NaN;
  console.log(
    `sampling batch 1: ${r1.tps.toFixed(1)} tokens/s (${r1.s.toFixed(1)} s for 256 codes); PyTorch ${peerRate.toFixed(1)}${peer1 ? ' (same run)' : ' (issue 19)'}: ${(r1.tps / peerRate).toFixed(2)}x, target >= 1.2x: ${r1.tps / peerRate >= 1.2 ? 'met' : 'NOT met'}`,
  );
  console.log(
    `sampling -n 4: ${r4.tps.toFixed(1)} tokens/s = ${(r4.tps / r1.tps).toFixed(2)}x batch 1 (target >= 3x: ${r4.tps / r1.tps >= 3 ? 'met' : 'NOT met'})${peer4 ? `; PyTorch -n 4 ${peer4.tokens_per_s.toFixed(1)} tokens/s` : ''}`,
  );
  if (bw) {
    console.log(
      `batch 1 reads ${(bytesPerToken(gpt, 1, avgPos) / 2 ** 20).toFixed(0)} MiB a token (packed weights + the KV cache at the mean position): ${((bytesPerToken(gpt, 1, avgPos) * r1.tps) / 1e9).toFixed(1)} GB/s = ${(100 * frac).toFixed(0)} % of the ${bw.toFixed(1)} GB/s this machine reads; -n 4 ${((bytesPerToken(gpt, 4, avgPos) * r4.tps) / 4 / 1e9).toFixed(1)} GB/s`,
    );
  }
  t = performance.now();
  await gen.generate(['一只红色的猫'], { numImages: 1, seed: 3 });
  const genS = (performance.now() - t) / 1000;
  console.log(
    `Generator.generate one image in process: ${genS.toFixed(1)} s; peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB; load average ${os.loadavg()[0].toFixed(2)}`,
  );
  gen.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
