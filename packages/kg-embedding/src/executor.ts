/**
 * Runs training epochs and ranking jobs either on the calling thread (`workers: 0`) or on a pool
 * of worker_threads that share the tables through SharedArrayBuffers (hogwild updates).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { type EpochJob, type RankJob, runEpoch, runRank } from './jobs';
import { type KernelConfig, type Tables, type TrainData, Workspace } from './kernel';
import type { RankData } from './rank';
import type { WorkerMessage, WorkerReply } from './worker';

export interface Executor {
  /** Worker threads (0: the calling thread). */
  readonly workers: number;
  setTables(tables: Tables, negatives: number): Promise<void>;
  setTrainData(data: TrainData, cfg: KernelConfig): Promise<void>;
  runEpoch(job: EpochJob): Promise<void>;
  setRankData(data: RankData): Promise<void>;
  rank(job: RankJob): Promise<void>;
  close(): Promise<void>;
}

class InlineExecutor implements Executor {
  readonly workers = 0;
  private tables: Tables | null = null;
  private ws: Workspace | null = null;
  private train: { data: TrainData; cfg: KernelConfig } | null = null;
  private rankData: RankData | null = null;

  async setTables(tables: Tables, negatives: number): Promise<void> {
    this.tables = tables;
    this.ws = new Workspace(tables.dim, negatives, tables.numEntities);
  }

  async setTrainData(data: TrainData, cfg: KernelConfig): Promise<void> {
    this.train = { data, cfg };
  }

  async runEpoch(job: EpochJob): Promise<void> {
    if (!this.tables || !this.ws || !this.train) throw new Error('executor: runEpoch before setup');
    runEpoch(this.ws, this.tables, this.train.data, this.train.cfg, job);
  }

  async setRankData(data: RankData): Promise<void> {
    this.rankData = data;
  }

  async rank(job: RankJob): Promise<void> {
    if (!this.tables || !this.ws || !this.rankData) throw new Error('executor: rank before setup');
    runRank(this.ws, this.tables, this.rankData, job);
  }

  async close(): Promise<void> {}
}

/**
 * The compiled worker script. From dist it sits beside this file; when this file runs as
 * TypeScript source (jest, ts-node) it is taken from the package's dist folder, which must be
 * built and not older than the sources.
 */
export function resolveWorkerScript(): string {
  const beside = path.join(__dirname, 'worker.js');
  if (__filename.endsWith('.js') && fs.existsSync(beside)) return beside;
  const srcDir = __dirname;
  const dist = path.join(srcDir, '..', 'dist', 'worker.js');
  if (!fs.existsSync(dist)) {
    throw new Error(
      `kg-embedding: worker script ${dist} is missing; build the package first (pnpm --filter @artist-ts/kg-embedding build)`,
    );
  }
  const built = fs.statSync(dist).mtimeMs;
  for (const f of fs.readdirSync(srcDir)) {
    if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
    if (fs.statSync(path.join(srcDir, f)).mtimeMs > built) {
      throw new Error(
        `kg-embedding: ${dist} is older than src/${f}; rebuild the package (pnpm build)`,
      );
    }
  }
  return dist;
}

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

class PoolExecutor implements Executor {
  private readonly pool: Worker[] = [];
  private readonly queues: Pending[][] = [];
  private failure: Error | null = null;
  private closed = false;

  constructor(readonly workers: number) {
    const script = resolveWorkerScript();
    for (let i = 0; i < workers; i++) {
      const w = new Worker(script);
      const q: Pending[] = [];
      w.on('message', (reply: WorkerReply) => {
        const p = q.shift();
        if (!p) return;
        if (reply.type === 'done') p.resolve();
        else {
          const e = new Error(`kg-embedding worker ${i}: ${reply.message}`);
          if (reply.stack) e.stack = reply.stack;
          p.reject(e);
        }
      });
      const fail = (e: Error) => {
        this.failure = e;
        for (const p of q.splice(0)) p.reject(e);
      };
      w.on('error', (e) => fail(new Error(`kg-embedding worker ${i} crashed: ${e.message}`)));
      w.on('exit', (code) => {
        if (!this.closed) fail(new Error(`kg-embedding worker ${i} exited with code ${code}`));
      });
      this.pool.push(w);
      this.queues.push(q);
    }
  }

  private broadcast(msg: WorkerMessage | ((worker: number) => WorkerMessage)): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('kg-embedding: executor is closed'));
    return Promise.all(
      this.pool.map(
        (w, i) =>
          new Promise<void>((resolve, reject) => {
            this.queues[i].push({ resolve, reject });
            w.postMessage(typeof msg === 'function' ? msg(i) : msg);
          }),
      ),
    ).then(() => undefined);
  }

  setTables(tables: Tables, negatives: number): Promise<void> {
    for (const k of ['entity', 'relation', 'entityAcc', 'relationAcc'] as const)
      requireShared(tables[k], k);
    // Worker i uses plan area i of WebAssembly tables.
    return this.broadcast((slot) => ({ type: 'tables', tables, negatives, slot }));
  }

  setTrainData(data: TrainData, cfg: KernelConfig): Promise<void> {
    requireShared(data.order, 'order');
    return this.broadcast({ type: 'train-data', data, cfg });
  }

  runEpoch(job: EpochJob): Promise<void> {
    requireShared(job.counter, 'counter');
    requireShared(job.stepLoss, 'stepLoss');
    return this.broadcast({ type: 'epoch', job });
  }

  setRankData(data: RankData): Promise<void> {
    requireShared(data.out, 'out');
    return this.broadcast({ type: 'rank-data', data });
  }

  rank(job: RankJob): Promise<void> {
    requireShared(job.counter, 'counter');
    return this.broadcast({ type: 'rank', job });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.pool.map((w) => w.terminate()));
  }
}

function requireShared(a: ArrayBufferView, name: string): void {
  if (!(a.buffer instanceof SharedArrayBuffer)) {
    throw new Error(
      `kg-embedding: '${name}' must live in a SharedArrayBuffer to be shared with workers`,
    );
  }
}

/** An executor with `workers` worker threads, or the calling thread when `workers` is 0. */
export function createExecutor(workers: number): Executor {
  return workers === 0 ? new InlineExecutor() : new PoolExecutor(workers);
}
