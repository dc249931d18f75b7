/**
 * Progress reporting: long operations call `onProgress` with rows done, bytes read and rates. The
 * package never prints; apps render these events.
 */

export interface ProgressEvent {
  /** What is running: `read`, `lexicon`, `knowledge`, `shards`, `vocab` ... */
  phase: string;
  /** Rows (lines, examples) done so far. */
  rows: number;
  /** Input bytes consumed so far (0 when not reading a file). */
  bytes: number;
  /** Total input bytes when known (file size), else undefined. */
  totalBytes?: number;
  /** Rows skipped as bad so far. */
  skipped: number;
  /** Milliseconds since the operation started. */
  elapsedMs: number;
  /** Rows per second since the start. */
  rowsPerSec: number;
  /** Bytes per second since the start. */
  bytesPerSec: number;
  /** True on the last event of the operation. */
  done: boolean;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** Throttles progress events to one per `intervalMs` (plus a final one). */
export class ProgressTracker {
  rows = 0;
  bytes = 0;
  skipped = 0;
  private readonly start = performance.now();
  private last = 0;

  constructor(
    readonly phase: string,
    private readonly callback: ProgressCallback | undefined,
    readonly totalBytes?: number,
    private readonly intervalMs = 200,
  ) {}

  tick(): void {
    if (!this.callback) return;
    const now = performance.now();
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    this.emit(false, now);
  }

  finish(): void {
    if (this.callback) this.emit(true, performance.now());
  }

  get elapsedMs(): number {
    return performance.now() - this.start;
  }

  private emit(done: boolean, now: number): void {
    const elapsedMs = now - this.start;
    const secs = Math.max(elapsedMs / 1000, 1e-9);
    this.callback?.({
      phase: this.phase,
      rows: this.rows,
      bytes: this.bytes,
      ...(this.totalBytes === undefined ? {} : { totalBytes: this.totalBytes }),
      skipped: this.skipped,
      elapsedMs,
      rowsPerSec: this.rows / secs,
      bytesPerSec: this.bytes / secs,
      done,
    });
  }
}
