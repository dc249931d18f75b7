/**
 * kg-embedding benchmark. Data: OpenKE folders FB15K237 / WN18RR under `--data DIR`, else
 * $ARTIST_KG_DATA, else ../shared/data/kg next to the repository.
 *
 *   pnpm bench                         speed: pos/s at dim 100 (1 and 2 workers, js and simd
 *                                      kernels, filtered negatives on and off); eval time at dim 200
 *   pnpm bench -- --only throughput    (or --only eval) one half of the speed part
 *   pnpm bench -- --eval-tables DIR    evaluate trained dim-200 tables (an embeddings folder)
 *   pnpm bench -- --quality            + quality: preset fb15k237-best within --minutes (30), test metrics
 *   pnpm bench -- --quality --dataset WN18RR --preset wn18rr-best --minutes 30
 *   pnpm bench -- --only quality       skip the speed part
 *   pnpm bench -- --only sampled       sampled versus exact filtered ranking (FB15k-237 test)
 *   pnpm bench -- --only scale [--sizes 1m,10m,67m] [--scale-dir DIR] [--epochs 1]
 *                                      CN-DBpedia-sized synthetic graphs (seeded, generated into
 *                                      --scale-dir, default $TMPDIR/kg-scale): load (text, then the
 *                                      binary cache), epoch time, positives/s and peak RSS of the
 *                                      classic step at dim 100 with 2 workers, one process per size;
 *                                      --huge-pages on,off (A/B, back to back; default on),
 *                                      --sampled 0 (skip the sampled evaluation); with --checkpoint
 *                                      DIR: --stop-epochs N (run N epochs, resume later), and the
 *                                      tables' SHA-1 (a resume with --stop-epochs 0 must print the
 *                                      same)
 *
 * Ratios are against the first kernel (js) of the same invocation. Prints one JSON line per
 * result, each with the 1-minute load average (the machine may be shared).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_TRANSE_CONFIG, presetConfig, type TransEConfig } from '../src/config';
import { headBlockEntities } from '../src/epoch_order';
import { evaluateLinkPrediction } from '../src/evaluate';
import { readVectorFile, writeEmbeddings } from '../src/export';
import { type KgDataset, readOpenKEFolder } from '../src/kg_data';
import { HUGE_PAGES_ENV, hugePageBytesAdvised } from '../src/large_buffers';
import type { RankKernel } from '../src/rank';
import { writeSyntheticOpenKE } from '../src/synthetic_graph';
import { type TrainKernel, trainTransE } from '../src/trainer';

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? 'true' : v;
}

const dataRoot = path.resolve(
  arg('data') ??
    process.env.ARTIST_KG_DATA ??
    path.join(__dirname, '..', '..', '..', '..', 'shared', 'data', 'kg'),
);
const dataset = arg('dataset', 'FB15K237') as string;
const only = arg('only');
const log = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const load1 = () => Number(os.loadavg()[0].toFixed(2));

/**
 * Training throughput of the classic TransE step as Fast-TransE runs it: dim 100, L1, margin
 * loss, ONE negative per positive, plain SGD, Bernoulli corruption, max-norm entity
 * renormalisation; with and without filtered negatives (Fast-TransE filters). Each kernel
 * ('js': float64 JavaScript, 'simd': WebAssembly f32x4) runs with 1 and 2 workers in the same
 * invocation; the median over epochs after the first (JIT warm-up) is reported, with the
 * positives per CPU-second of the whole process next to it.
 */
async function throughput(ds: KgDataset): Promise<void> {
  const epochs = Number(arg('speed-epochs', '4'));
  const kernels = (arg('kernels', 'js,simd') as string).split(',') as TrainKernel[];
  const filters = (arg('filters', 'true,false') as string).split(',').map((v) => v === 'true');
  const median = (a: number[]) => {
    const b = a.slice(1).sort((x, y) => x - y);
    return b[Math.floor((b.length - 1) / 2)];
  };
  const base: Record<string, number> = {};
  for (const filterNegatives of filters) {
    for (const kernel of kernels) {
      for (const workers of [1, 2]) {
        const cfg: Partial<TransEConfig> = {
          dim: 100,
          distance: 'L1',
          loss: 'margin',
          margin: 5,
          negatives: 1,
          optimizer: 'sgd',
          learningRate: 0.01,
          corruption: 'bernoulli',
          filterNegatives,
          renorm: 'max',
          epochs: epochs + 1,
          batchSize: 4096,
          checkpointEvery: 0,
          workers,
        };
        const wall: number[] = [];
        const perCpu: number[] = [];
        let c0 = cpuSeconds();
        await trainTransE(ds, cfg, {
          kernel,
          onStep: (r) => {
            const c1 = cpuSeconds();
            wall.push(r.triplesPerSecond);
            perCpu.push(ds.train.count / (c1 - c0));
            c0 = c1;
          },
        });
        const rate = median(wall);
        const key = `${filterNegatives}/${workers}`;
        if (base[key] === undefined) base[key] = rate;
        log({
          bench: 'train-throughput',
          config: `dim 100, L1, margin, 1 negative, SGD, bernoulli, max-norm, filterNegatives ${filterNegatives}`,
          dataset,
          kernel,
          workers,
          posPerSecond: Math.round(rate),
          posPerCpuSecond: Math.round(median(perCpu)),
          ratioVsFirstKernel: Number((rate / base[key]).toFixed(2)),
          load1: load1(),
        });
      }
    }
  }
  if (arg('recipe')) {
    // Throughput of the quality recipe (dim 200, 32 negatives shared by 16 positives,
    // self-adversarial log-sigmoid loss, Adagrad), both kernels, 2 workers.
    let first = 0;
    for (const kernel of kernels) {
      const q = presetConfig('fb15k237-best', { epochs: 3, evalEvery: 0, checkpointEvery: 0 });
      const wall: number[] = [];
      const perCpu: number[] = [];
      let c0 = cpuSeconds();
      await trainTransE(ds, q, {
        kernel,
        onStep: (r) => {
          const c1 = cpuSeconds();
          wall.push(r.triplesPerSecond);
          perCpu.push(ds.train.count / (c1 - c0));
          c0 = c1;
        },
      });
      const rate = median(wall);
      if (first === 0) first = rate;
      log({
        bench: 'train-throughput',
        config:
          'preset fb15k237-best (dim 200, L1, log-sigmoid, 32 self-adversarial negatives, Adagrad)',
        dataset,
        kernel,
        workers: q.workers,
        posPerSecond: Math.round(rate),
        posPerCpuSecond: Math.round(median(perCpu)),
        ratioVsFirstKernel: Number((rate / first).toFixed(2)),
        load1: load1(),
      });
    }
  }
}

/**
 * Full filtered evaluation of the test split at dim 200 (train + valid + test filtered, head and
 * tail): the SIMD kernel on the whole split with 1 and 2 workers, and the JavaScript kernel on
 * the first `--js-eval-triples` test triples as the baseline (per-query times compared). Tables:
 * `--eval-tables DIR` (an embeddings folder, e.g. a trained `fb15k237-best`), else one epoch of
 * the classic step at dim 200.
 */
async function evaluation(ds: KgDataset): Promise<void> {
  const dim = 200;
  const N = ds.entities.length;
  const R = ds.relations.length;
  let entity: Float32Array;
  let relation: Float32Array;
  let distance: 'L1' | 'L2' = 'L1';
  const tablesDir = arg('eval-tables');
  if (tablesDir) {
    const e = await readVectorFile(path.join(tablesDir, 'entity_vectors.bin'));
    const r = await readVectorFile(path.join(tablesDir, 'relation_vectors.bin'));
    if (e.header.dim !== dim || e.header.rows !== N || r.header.rows !== R) {
      throw new Error(`${tablesDir}: tables are not ${N} x ${dim} / ${R} x ${dim}`);
    }
    const meta = JSON.parse(fs.readFileSync(path.join(tablesDir, 'metadata.json'), 'utf8'));
    if (meta.distance === 'L2') distance = 'L2';
    entity = e.data;
    relation = r.data;
  } else {
    const init = await trainTransE(ds, {
      dim,
      epochs: 1,
      workers: 2,
      negatives: 1,
      loss: 'margin',
      optimizer: 'sgd',
      learningRate: 0.01,
      checkpointEvery: 0,
    });
    entity = init.embeddings.entity;
    relation = init.embeddings.relation;
  }
  const emb = { dim, numEntities: N, numRelations: R, entity, relation };
  const filter = [ds.train, ds.valid, ds.test];
  const jsTriples = Math.min(ds.test.count, Number(arg('js-eval-triples', '500')));
  const jsTest = { data: ds.test.data.subarray(0, jsTriples * 3), count: jsTriples };
  const perQuery: Record<string, number> = {};
  const runs: [RankKernel, number, typeof ds.test][] = [];
  if (jsTriples > 0) runs.push(['js', 2, jsTest], ['simd', 2, jsTest]);
  for (const w of (arg('eval-workers', '1,2') as string).split(',').map(Number))
    runs.push(['simd', w, ds.test]);
  for (const [kernel, workers, triples] of runs) {
    const c0 = cpuSeconds();
    const m = await evaluateLinkPrediction(emb, triples, { workers, filter, distance, kernel });
    const cpu = cpuSeconds() - c0;
    const ms = (1000 * m.seconds) / (2 * triples.count);
    const key = `${kernel}/${triples.count}`;
    perQuery[key] = ms;
    log({
      bench: 'filtered-eval',
      dataset,
      dim,
      kernel,
      workers,
      testTriples: triples.count,
      queries: 2 * triples.count,
      seconds: Number(m.seconds.toFixed(2)),
      cpuSeconds: Number(cpu.toFixed(2)),
      msPerQuery: Number(ms.toFixed(3)),
      speedupVsJs:
        kernel === 'simd' && triples === jsTest && perQuery[`js/${jsTriples}`]
          ? Number((perQuery[`js/${jsTriples}`] / ms).toFixed(1))
          : null,
      mrr: Number(m.realistic.both.mrr.toFixed(4)),
      hits10: Number(m.realistic.both.hits10.toFixed(4)),
      load1: load1(),
    });
  }
}

async function speed(): Promise<void> {
  const ds = await readOpenKEFolder(path.join(dataRoot, dataset));
  if (only !== 'eval') await throughput(ds);
  if (only !== 'throughput') await evaluation(ds);
}

async function quality(): Promise<void> {
  const presetName = arg(
    'preset',
    dataset === 'WN18RR' ? 'wn18rr-best' : 'fb15k237-best',
  ) as string;
  const minutes = Number(arg('minutes', '30'));
  const t0 = performance.now();
  const ds = await readOpenKEFolder(path.join(dataRoot, dataset));
  const cfg = presetConfig(presetName, arg('epochs') ? { epochs: Number(arg('epochs')) } : {});
  // Reserve time for the final test evaluation; training stops after the epoch that crosses it.
  const ac = new AbortController();
  const evalReserve = Number(arg('eval-reserve', '120'));
  const timer = setTimeout(() => ac.abort(), Math.max(1, minutes * 60 - evalReserve) * 1000);
  // Checkpoints always: a failure in the final evaluation must not lose the trained tables.
  const ck = arg('checkpoint') ?? path.join(os.tmpdir(), `kg-bench-${dataset}-${presetName}`);
  const res = await trainTransE(ds, cfg, {
    signal: ac.signal,
    checkpointDir: ck,
    resume: arg('resume') === 'true',
    onStep: (r) =>
      log({
        epoch: r.epoch,
        loss: Number(r.loss.toFixed(5)),
        lr: r.learningRate,
        posPerSecond: Math.round(r.triplesPerSecond),
        elapsed: Math.round((performance.now() - t0) / 1000),
      }),
    onValidation: (v) =>
      log({
        validEpoch: v.epoch,
        mrr: Number(v.mrr.toFixed(4)),
        hits10: Number(v.metrics.realistic.both.hits10.toFixed(4)),
        seconds: Number(v.metrics.seconds.toFixed(1)),
        best: v.best,
      }),
  });
  clearTimeout(timer);
  const m = await evaluateLinkPrediction(res.embeddings, ds.test, {
    workers: cfg.workers,
    distance: cfg.distance,
    filter: [ds.train, ds.valid, ds.test],
  });
  const wall = (performance.now() - t0) / 1000;
  const result = {
    bench: 'quality',
    dataset,
    preset: presetName,
    epochs: res.epochs,
    bestEpoch: res.bestEpoch,
    stoppedEarly: res.stoppedEarly,
    hitTimeBudget: res.interrupted,
    testMrr: Number(m.realistic.both.mrr.toFixed(4)),
    testHits1: Number(m.realistic.both.hits1.toFixed(4)),
    testHits3: Number(m.realistic.both.hits3.toFixed(4)),
    testHits10: Number(m.realistic.both.hits10.toFixed(4)),
    testMr: Number(m.realistic.both.mr.toFixed(1)),
    optimisticMrr: Number(m.optimistic.both.mrr.toFixed(4)),
    pessimisticMrr: Number(m.pessimistic.both.mrr.toFixed(4)),
    evalSeconds: Number(m.seconds.toFixed(1)),
    wallSeconds: Math.round(wall),
    cpuSeconds: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1e6),
    loadavg: os.loadavg().map((v) => Number(v.toFixed(2))),
  };
  log(result);
  const out = arg('out');
  if (out)
    await writeEmbeddings(out, res.embeddings, {
      text: false,
      metadata: { config: cfg, test: result },
    });
}

/**
 * Sampled versus exact filtered ranking on FB15k-237 test: tables from `--eval-tables DIR`, else
 * `--sampled-epochs` (default 30) epochs of the classic step at dim 100; exact ranking, then the
 * sampled protocol with K = 100, 1,000 and 10,000 candidates (seed 1).
 */
async function sampledVersusExact(): Promise<void> {
  const ds = await readOpenKEFolder(path.join(dataRoot, dataset), { cache: false });
  let tables: {
    dim: number;
    numEntities: number;
    numRelations: number;
    entity: Float32Array;
    relation: Float32Array;
  };
  const dirArg = arg('eval-tables');
  if (dirArg) {
    const e = await readVectorFile(path.join(dirArg, 'entity_vectors.bin'));
    const r = await readVectorFile(path.join(dirArg, 'relation_vectors.bin'));
    tables = {
      dim: e.header.dim,
      numEntities: e.header.rows,
      numRelations: r.header.rows,
      entity: e.data,
      relation: r.data,
    };
  } else {
    const res = await trainTransE(ds, {
      ...SCALE_CONFIG,
      epochs: Number(arg('sampled-epochs', '30')),
    });
    tables = res.embeddings;
  }
  const filter = [ds.train, ds.valid, ds.test];
  const exact = await evaluateLinkPrediction(tables, ds.test, {
    filter,
    distance: 'L1',
    workers: 2,
  });
  const row = (m: typeof exact) => ({
    mrr: Number(m.realistic.both.mrr.toFixed(4)),
    hits1: Number(m.realistic.both.hits1.toFixed(4)),
    hits10: Number(m.realistic.both.hits10.toFixed(4)),
    mr: Number(m.realistic.both.mr.toFixed(1)),
    seconds: Number(m.seconds.toFixed(2)),
  });
  log({ bench: 'sampled-vs-exact', dataset, protocol: 'exact', ...row(exact), load1: load1() });
  for (const k of [100, 1000, 10000]) {
    const m = await evaluateLinkPrediction(tables, ds.test, {
      filter,
      distance: 'L1',
      sampledCandidates: k,
    });
    log({
      bench: 'sampled-vs-exact',
      dataset,
      protocol: `sampled K=${k}`,
      ...row(m),
      load1: load1(),
    });
  }
}

/** Graph sizes of the scale bench: CN-DBpedia's ratio (9 M entities per 67 M triples). */
const SCALE_SIZES: Record<string, { entities: number; relations: number; triples: number }> = {
  '1m': { entities: 134_000, relations: 1000, triples: 1_000_000 },
  '10m': { entities: 1_340_000, relations: 1000, triples: 10_000_000 },
  '67m': { entities: 9_000_000, relations: 1000, triples: 67_000_000 },
};

/** The classic step of the throughput bench, at scale. */
const SCALE_CONFIG: Partial<TransEConfig> = {
  dim: 100,
  distance: 'L1',
  loss: 'margin',
  margin: 5,
  negatives: 1,
  optimizer: 'sgd',
  learningRate: 0.01,
  corruption: 'bernoulli',
  filterNegatives: true,
  renorm: 'max',
  batchSize: 4096,
  checkpointEvery: 0,
  workers: 2,
};

/** One size in this process (the parent runs one child per size, so peak RSS is per size). */
async function scaleOne(size: string): Promise<void> {
  const spec = SCALE_SIZES[size];
  if (!spec) throw new Error(`--size must be one of ${Object.keys(SCALE_SIZES).join(', ')}`);
  const root = arg('scale-dir') ?? path.join(os.tmpdir(), 'kg-scale');
  const folder = path.join(root, size);
  if (!fs.existsSync(path.join(folder, 'test2id.txt'))) {
    const g0 = performance.now();
    writeSyntheticOpenKE(folder, { ...spec, seed: 1 });
    log({ bench: 'scale-generate', size, seconds: secs(g0), load1: load1() });
  }
  fs.rmSync(path.join(folder, '.artist-kg-cache'), { recursive: true, force: true });
  const textBytes = fs.statSync(path.join(folder, 'train2id.txt')).size;
  const l0 = performance.now();
  await readOpenKEFolder(folder);
  const textSeconds = secs(l0);
  const c0 = performance.now();
  const ds = await readOpenKEFolder(folder);
  log({
    bench: 'scale-load',
    size,
    triples: ds.train.count,
    entities: ds.entities.length,
    trainTextMiB: Math.round(textBytes / 2 ** 20),
    textSeconds,
    cachedSeconds: secs(c0),
    load1: load1(),
  });
  const epochs = Number(arg('epochs', '1'));
  const t0 = performance.now();
  const ck = arg('checkpoint');
  let cpu = cpuSeconds();
  const epochOrder = arg('order', 'auto') as TransEConfig['epochOrder'];
  const blockBytes = Number(arg('block-bytes', String(DEFAULT_TRANSE_CONFIG.blockBytes)));
  const res = await trainTransE(
    ds,
    { ...SCALE_CONFIG, epochs, epochOrder, blockBytes },
    {
      ...(ck ? { checkpointDir: ck } : {}),
      ...(arg('stop-epochs') ? { epochs: Number(arg('stop-epochs')) } : {}),
      onStep: (r) => {
        const c = cpuSeconds();
        log({
          bench: 'scale-epoch',
          size,
          epoch: r.epoch,
          epochSeconds: Number(r.seconds.toFixed(1)),
          posPerSecond: Math.round(r.triplesPerSecond),
          // CPU of the whole process since the previous line (epoch 1: setup included).
          cpuSeconds: Number((c - cpu).toFixed(1)),
          posPerCpuSecond: Math.round(ds.train.count / (c - cpu)),
          rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
          ...hugePages(),
          load1: load1(),
        });
        cpu = c;
      },
    },
  );
  const k = Number(arg('sampled', '1000'));
  if (k > 0) {
    const sampled = await evaluateLinkPrediction(res.embeddings, ds.test, {
      sampledCandidates: k,
      filter: [ds.train, ds.valid, ds.test],
      distance: 'L1',
    });
    log({
      bench: 'scale-sampled-eval',
      size,
      testTriples: ds.test.count,
      candidates: k,
      seconds: Number(sampled.seconds.toFixed(2)),
      mrr: Number(sampled.realistic.both.mrr.toFixed(4)),
      hits10: Number(sampled.realistic.both.hits10.toFixed(4)),
      load1: load1(),
    });
  }
  log({
    bench: 'scale-train',
    size,
    config: 'classic step: dim 100, L1, margin, 1 filtered negative, SGD, bernoulli, 2 workers',
    epochOrder,
    headBlockEntities: headBlockEntities(res.config, ds.entities.length),
    setupAndTrainSeconds: secs(t0),
    epochs: res.epochs,
    ...(ck
      ? { resumedFromEpoch: res.resumedFromEpoch, tablesSha1: tablesSha1(res.embeddings) }
      : {}),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    ...hugePages(),
    load1: load1(),
  });
}

/** SHA-1 of the entity and relation tables: a resumed run must restore what was saved. */
function tablesSha1(e: { entity: Float32Array; relation: Float32Array }): string {
  const h = createHash('sha1');
  for (const t of [e.entity, e.relation]) {
    // Hash.update takes at most 2 GiB at once.
    for (let o = 0; o < t.byteLength; o += 2 ** 30) {
      h.update(new Uint8Array(t.buffer, t.byteOffset + o, Math.min(2 ** 30, t.byteLength - o)));
    }
  }
  return h.digest('hex');
}

/** Huge-page advice given, and the anonymous memory the kernel backs with huge pages (Linux). */
function hugePages(): { hugePagesAdvisedMiB: number; anonHugePagesMiB: number | null } {
  let anon: number | null = null;
  try {
    const m = fs.readFileSync('/proc/self/smaps_rollup', 'utf8').match(/AnonHugePages:\s+(\d+)/);
    if (m) anon = Math.round(Number(m[1]) / 1024);
  } catch {
    // not Linux
  }
  return {
    hugePagesAdvisedMiB: Math.round(hugePageBytesAdvised() / 2 ** 20),
    anonHugePagesMiB: anon,
  };
}

const secs = (t0: number) => Number(((performance.now() - t0) / 1000).toFixed(2));

/** Every size of `--sizes`, each in a child process of this script. */
async function scale(): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const extra = [
    'scale-dir',
    'epochs',
    'checkpoint',
    'sampled',
    'stop-epochs',
    'block-bytes',
  ].flatMap((k) => (arg(k) ? [`--${k}`, arg(k) as string] : []));
  // --huge-pages on,off,on,off and --orders auto,shuffled: one child per entry and size, back to
  // back (A/B).
  const variants = (arg('huge-pages', 'on') as string)
    .split(',')
    .flatMap((hp) => (arg('orders', 'auto') as string).split(',').map((order) => ({ hp, order })));
  for (const size of (arg('sizes', '1m,10m') as string).split(','))
    for (const { hp, order } of variants) {
      if (variants.length > 1)
        log({ bench: 'scale-variant', size, hugePages: hp, order, load1: load1() });
      const r = spawnSync(
        process.execPath,
        [
          ...(process.argv[1].endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : []),
          process.argv[1],
          '--only',
          'scale-one',
          '--size',
          size,
          '--order',
          order,
          ...extra,
        ],
        { stdio: 'inherit', env: { ...process.env, [HUGE_PAGES_ENV]: hp === 'off' ? '0' : '1' } },
      );
      if (r.status !== 0)
        throw new Error(`scale ${size}: child exited with ${r.status ?? r.signal}`);
    }
}

async function main(): Promise<void> {
  if (only === 'scale-one') return scaleOne(arg('size') as string);
  if (only === 'scale') return scale();
  if (only === 'sampled') return sampledVersusExact();
  log({
    machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}`,
    node: process.version,
    loadavg: os.loadavg().map((v) => Number(v.toFixed(2))),
    data: dataRoot,
  });
  if (!fs.existsSync(path.join(dataRoot, dataset))) {
    log({ skipped: `no data at ${path.join(dataRoot, dataset)} (set ARTIST_KG_DATA or --data)` });
    return;
  }
  if (only !== 'quality') await speed();
  if (arg('quality') || only === 'quality') await quality();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
