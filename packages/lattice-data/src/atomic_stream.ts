/**
 * Streaming atomic file writer: lines go to a temporary sibling (named like the runtime's atomic
 * temps, so `removeStaleTemps` cleans up after a crash), which is fsynced and renamed over the target
 * on `close()`. `abort()` removes the temporary file. Memory stays bounded (stream backpressure).
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '@artist-ts/core/files';

export class AtomicFileStream {
  readonly tmp: string;
  private readonly stream: fs.WriteStream;
  private closed = false;
  bytesWritten = 0;

  private constructor(readonly target: string) {
    this.tmp = path.join(
      path.dirname(target),
      `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    this.stream = fs.createWriteStream(this.tmp, { flags: 'wx' });
  }

  static async open(target: string): Promise<AtomicFileStream> {
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    const w = new AtomicFileStream(target);
    await once(w.stream, 'open');
    return w;
  }

  /** Writes `chunk`, waiting for the stream to drain when its buffer is full. */
  async write(chunk: string | Uint8Array): Promise<void> {
    if (this.closed) throw new Error(`${this.target}: write after close`);
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.bytesWritten += buf.length;
    if (!this.stream.write(buf)) await once(this.stream, 'drain');
  }

  /** Flushes, fsyncs and renames the temporary file over the target. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const fd = (this.stream as unknown as { fd: number }).fd;
    await new Promise<void>((resolve, reject) => {
      this.stream.write(Buffer.alloc(0), (err) => {
        if (err) reject(err);
        else fs.fsync(fd, (e) => (e ? reject(e) : resolve()));
      });
    });
    this.stream.end();
    await once(this.stream, 'close');
    await fs.promises.rename(this.tmp, this.target);
    await fsyncDir(path.dirname(this.target));
  }

  /** Drops the temporary file; the target is left untouched. */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream.destroy();
    await fs.promises.rm(this.tmp, { force: true });
  }
}
