/**
 * worker_threads entry (compiled to dist/worker.js). Holds views of the shared tables and runs
 * the jobs the executor posts; every reply is `{ type: 'done' }` or `{ type: 'error' }`.
 */
import { parentPort } from 'node:worker_threads';
import { type EpochJob, type RankJob, runEpoch, runRank } from './jobs';
import { type KernelConfig, type Tables, type TrainData, Workspace } from './kernel';
import type { RankData } from './rank';

export type WorkerMessage =
  | { type: 'tables'; tables: Tables; negatives: number; slot: number }
  | { type: 'train-data'; data: TrainData; cfg: KernelConfig }
  | { type: 'epoch'; job: EpochJob }
  | { type: 'rank-data'; data: RankData }
  | { type: 'rank'; job: RankJob };

export type WorkerReply = { type: 'done' } | { type: 'error'; message: string; stack?: string };

let tables: Tables | null = null;
let ws: Workspace | null = null;
let train: { data: TrainData; cfg: KernelConfig } | null = null;
let rank: RankData | null = null;

function handle(msg: WorkerMessage): void {
  switch (msg.type) {
    case 'tables':
      tables = msg.tables;
      ws = new Workspace(tables.dim, msg.negatives, tables.numEntities);
      ws.slot = msg.slot;
      return;
    case 'train-data':
      train = { data: msg.data, cfg: msg.cfg };
      return;
    case 'epoch':
      if (!tables || !ws || !train) throw new Error('worker: epoch before tables/train-data');
      runEpoch(ws, tables, train.data, train.cfg, msg.job);
      return;
    case 'rank-data':
      rank = msg.data;
      return;
    case 'rank':
      if (!tables || !ws || !rank) throw new Error('worker: rank before tables/rank-data');
      runRank(ws, tables, rank, msg.job);
      return;
    default:
      throw new Error(`worker: unknown message ${(msg as { type: string }).type}`);
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (msg: WorkerMessage) => {
    try {
      handle(msg);
      port.postMessage({ type: 'done' } satisfies WorkerReply);
    } catch (err) {
      const e = err as Error;
      port.postMessage({ type: 'error', message: e.message, stack: e.stack } satisfies WorkerReply);
    }
  });
}
