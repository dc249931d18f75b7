/** worker_threads entry of the emoji render pool (loaded from dist as render_worker.js). */
import { parentPort } from 'node:worker_threads';
import { renderEmojiPng } from './render';

export interface RenderJob {
  id: number;
  files: string[];
  size: number;
  level: number;
}

export type RenderReply = { id: number; pngs: Uint8Array[] } | { id: number; error: string };

parentPort?.on('message', (job: RenderJob) => {
  try {
    const pngs = job.files.map((f) => renderEmojiPng(f, job.size, job.level));
    parentPort!.postMessage(
      { id: job.id, pngs } satisfies RenderReply,
      pngs.map((p) => p.buffer as ArrayBuffer),
    );
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error).message } satisfies RenderReply);
  }
});
