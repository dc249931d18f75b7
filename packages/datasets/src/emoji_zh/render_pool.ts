/**
 * Renders many emoji PNGs, in parallel over worker_threads when the compiled worker is available
 * (dist/emoji_zh/render_worker.js), else in this thread. Every image is rendered by the same pure
 * function either way, so the output bytes do not depend on the number of threads.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { renderEmojiPng } from './render';
import type { RenderJob, RenderReply } from './render_worker';

export const DEFAULT_WORKER_FILE = path.join(__dirname, 'render_worker.js');

export interface RenderPoolOptions {
  size: number;
  level: number;
  /** Worker threads; <= 1 renders in this thread. Default min(available cores, 8). */
  threads?: number;
  /** Compiled worker script. Default: render_worker.js next to this module. */
  workerFile?: string;
  onProgress?: (done: number, total: number) => void;
}

export function defaultThreads(): number {
  const cores =
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(8, cores));
}

const CHUNK = 64;

/** PNG bytes for each file, in the order given. */
export async function renderEmojiImages(
  files: readonly string[],
  options: RenderPoolOptions,
): Promise<Uint8Array[]> {
  const threads = Math.min(options.threads ?? defaultThreads(), Math.ceil(files.length / CHUNK));
  const workerFile = options.workerFile ?? DEFAULT_WORKER_FILE;
  const out: Uint8Array[] = new Array(files.length);
  if (threads <= 1 || !fs.existsSync(workerFile)) {
    for (let i = 0; i < files.length; i++) {
      out[i] = renderEmojiPng(files[i], options.size, options.level);
      if ((i + 1) % CHUNK === 0 || i + 1 === files.length)
        options.onProgress?.(i + 1, files.length);
    }
    return out;
  }
  const jobs: RenderJob[] = [];
  for (let s = 0; s < files.length; s += CHUNK) {
    jobs.push({
      id: s,
      files: files.slice(s, s + CHUNK),
      size: options.size,
      level: options.level,
    });
  }
  let next = 0;
  let done = 0;
  const workers = Array.from({ length: threads }, () => new Worker(workerFile));
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const feed = () => {
              if (next >= jobs.length) return resolve();
              worker.postMessage(jobs[next++]);
            };
            worker.on('message', (reply: RenderReply) => {
              if ('error' in reply) return reject(new Error(`emoji render worker: ${reply.error}`));
              reply.pngs.forEach((p, k) => {
                out[reply.id + k] = p;
              });
              done += reply.pngs.length;
              options.onProgress?.(done, files.length);
              feed();
            });
            worker.on('error', reject);
            worker.on('exit', (code) => {
              if (next < jobs.length || done < files.length)
                reject(new Error(`emoji render worker exited with code ${code}`));
            });
            feed();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return out;
}
