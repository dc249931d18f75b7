/**
 * kg-embedding benchmark. Data: OpenKE folders FB15K237 / WN18RR under `--data DIR`, else
 * $ARTIST_KG_DATA, else ../shared/data/kg next to the repository.
 *
 *   pnpm bench                         speed: pos/s at dim 100 with 1 and 2 workers; eval time at dim 200
 *   pnpm bench -- --quality            + quality: preset fb15k237-best within --minutes (30), test metrics
 *   pnpm bench -- --quality --dataset WN18RR --preset wn18rr-best --minutes 30
 *   pnpm bench -- --only quality       skip the speed part
 *
 * Ratios are against the 1-worker run of the same invocation. Prints one JSON line per result.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { presetConfig, type TransEConfig } from '../src/config';
import { evaluateLinkPrediction } from '../src/evaluate';
import { writeEmbeddings } from '../src/export';
import { readOpenKEFolder } from '../src/kg_data';
import { trainTransE } from '../src/trainer';

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

async function speed(): Promise<void> {
  const ds = await readOpenKEFolder(path.join(dataRoot, dataset));
  const epochs = Number(arg('speed-epochs', '3'));
  // Fast-TransE-like setting: dim 100, L1, margin loss, one negative, SGD, Bernoulli, max-norm.
  const cfg: Partial<TransEConfig> = {
    dim: 100,
    distance: 'L1',
    loss: 'margin',
    margin: 5,
    negatives: 1,
    optimizer: 'sgd',
    learningRate: 0.01,
    corruption: 'bernoulli',
    filterNegatives: false,
    renorm: 'max',
    epochs: epochs + 1,
    batchSize: 4096,
    checkpointEvery: 0,
  };
  const rates: Record<number, number> = {};
  const cpuSeconds = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  // Median over epochs, without the first (JIT warm-up).
  const median = (a: number[]) => a.slice(1).sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
  for (const workers of [1, 2]) {
    const perEpoch: number[] = [];
    const perCpu: number[] = [];
    let c0 = cpuSeconds();
    await trainTransE(
      ds,
      { ...cfg, workers },
      {
        callbacks: {
          onEpoch: (r) => {
            const c1 = cpuSeconds();
            perEpoch.push(r.triplesPerSecond);
            perCpu.push(ds.train.count / (c1 - c0));
            c0 = c1;
          },
        },
      },
    );
    rates[workers] = median(perEpoch);
    log({
      bench: 'train-throughput',
      dataset,
      dim: 100,
      negatives: 1,
      workers,
      posPerSecond: Math.round(rates[workers]),
      // Positives per CPU-second of the whole process: on a machine shared with other jobs this is
      // what one busy core does; times the worker count estimates an idle machine.
      posPerCpuSecond: Math.round(median(perCpu)),
      ratioVs1Worker: Number((rates[workers] / rates[1]).toFixed(2)),
    });
  }
  // Throughput of the quality recipe (dim 200, 64 negatives, adversarial).
  const q = presetConfig('fb15k237-best', { epochs: 2, evalEvery: 0, checkpointEvery: 0 });
  const qRates: number[] = [];
  await trainTransE(ds, q, { callbacks: { onEpoch: (r) => void qRates.push(r.triplesPerSecond) } });
  log({
    bench: 'train-throughput',
    recipe: 'fb15k237-best',
    dataset,
    workers: q.workers,
    posPerSecond: Math.round(qRates[1]),
  });

  // Full filtered evaluation of the test split at dim 200 (tables: a seeded uniform init).
  const dim = 200;
  const N = ds.entities.length;
  const R = ds.relations.length;
  const init = await trainTransE(ds, {
    dim,
    epochs: 1,
    workers: 2,
    negatives: 1,
    checkpointEvery: 0,
  });
  const evalSeconds: Record<number, number> = {};
  for (const workers of (arg('eval-workers', '1,2') as string).split(',').map(Number)) {
    const m = await evaluateLinkPrediction(
      {
        dim,
        numEntities: N,
        numRelations: R,
        entity: init.embeddings.entity,
        relation: init.embeddings.relation,
      },
      ds.test,
      { workers, filter: [ds.train, ds.valid, ds.test] },
    );
    evalSeconds[workers] = m.seconds;
    log({
      bench: 'filtered-eval',
      dataset,
      dim,
      testTriples: ds.test.count,
      workers,
      seconds: Number(m.seconds.toFixed(2)),
      speedupVs1Worker: evalSeconds[1] ? Number((evalSeconds[1] / m.seconds).toFixed(2)) : null,
      mrrAfter1Epoch: Number(m.realistic.both.mrr.toFixed(4)),
    });
  }
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
    callbacks: {
      onEpoch: (r) =>
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
    },
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

async function main(): Promise<void> {
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
