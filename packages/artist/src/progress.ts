/**
 * Progress for people: bars on a terminal (cli-progress), plain periodic log lines otherwise
 * (cli-progress prints nothing when stdout is not a TTY). Library packages emit progress through
 * callbacks; the stages translate them into `update()` calls here.
 */
import cliProgress from 'cli-progress';

export type ProgressFields = Record<string, number | string>;

export interface ProgressView {
  begin(stage: string, total: number, unit: string): void;
  update(done: number, fields?: ProgressFields): void;
  end(message?: string): void;
  log(message: string): void;
}

export interface ProgressOptions {
  tty?: boolean;
  write?: (line: string) => void;
  /** Minimum time between two plain lines (ms). */
  intervalMs?: number;
  now?: () => number;
}

function fmtValue(v: number | string): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Plain log lines: `[gpt] 120/400 steps (30%) loss=3.2100 9.8 steps/s ETA 29s tensors=512`. */
export class LineProgress implements ProgressView {
  private stage = '';
  private total = 0;
  private unit = '';
  private started = 0;
  private lastPrint = Number.NEGATIVE_INFINITY;
  private lastDone = 0;
  private printedDone = -1;
  private lastFields: ProgressFields = {};
  private readonly write: (line: string) => void;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(options: ProgressOptions = {}) {
    this.write = options.write ?? ((l) => process.stdout.write(`${l}\n`));
    this.interval = options.intervalMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  begin(stage: string, total: number, unit: string): void {
    this.stage = stage;
    this.total = total;
    this.unit = unit;
    this.started = this.now();
    this.lastPrint = Number.NEGATIVE_INFINITY;
    this.lastDone = 0;
    this.printedDone = -1;
    this.lastFields = {};
  }

  update(done: number, fields: ProgressFields = {}): void {
    this.lastDone = done;
    this.lastFields = fields;
    const t = this.now();
    if (t - this.lastPrint < this.interval && done < this.total) return;
    this.lastPrint = t;
    this.printedDone = done;
    this.write(this.line(done, fields, t));
  }

  private line(done: number, fields: ProgressFields, t: number): string {
    const elapsed = (t - this.started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const pct = this.total > 0 ? ` (${Math.floor((100 * done) / this.total)}%)` : '';
    const eta =
      rate > 0 && this.total > 0 ? ` ETA ${formatDuration((this.total - done) / rate)}` : '';
    const extra = Object.entries(fields)
      .map(([k, v]) => ` ${k}=${fmtValue(v)}`)
      .join('');
    const of = this.total > 0 ? `/${this.total}` : '';
    return `[${this.stage}] ${done}${of} ${this.unit}${pct}${extra} ${rate.toFixed(2)} ${this.unit}/s${eta}`;
  }

  end(message?: string): void {
    if (this.lastDone > 0 && this.lastDone !== this.printedDone) {
      this.write(this.line(this.lastDone, this.lastFields, this.now()));
    }
    if (message) this.write(`[${this.stage}] ${message}`);
  }

  log(message: string): void {
    this.write(message);
  }
}

/** A cli-progress bar on a terminal. */
export class BarProgress implements ProgressView {
  private bar: cliProgress.SingleBar | null = null;
  private stage = '';
  private started = Date.now();

  begin(stage: string, total: number, unit: string): void {
    this.stage = stage;
    this.started = Date.now();
    this.bar = new cliProgress.SingleBar(
      {
        format: `[${stage}] {bar} {percentage}% {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted} | {fields}`,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { fields: '', rate: '0' });
  }

  update(done: number, fields: ProgressFields = {}): void {
    const elapsed = (Date.now() - this.started) / 1000;
    this.bar?.update(done, {
      fields: Object.entries(fields)
        .map(([k, v]) => `${k}=${fmtValue(v)}`)
        .join(' '),
      rate: elapsed > 0 ? (done / elapsed).toFixed(2) : '0',
    });
  }

  end(message?: string): void {
    this.bar?.stop();
    this.bar = null;
    if (message) process.stdout.write(`[${this.stage}] ${message}\n`);
  }

  log(message: string): void {
    if (this.bar) process.stdout.write('\n');
    process.stdout.write(`${message}\n`);
  }
}

export function createProgressView(options: ProgressOptions = {}): ProgressView {
  const tty = options.tty ?? Boolean(process.stdout.isTTY);
  return tty ? new BarProgress() : new LineProgress(options);
}

/**
 * Watches tf.memory().numTensors across steps: after `warmup` samples, a count that keeps growing
 * is a leak. Returns a message when it is, else null.
 */
export class TensorWatch {
  private readonly samples: number[] = [];
  constructor(private readonly warmup = 3) {}

  sample(numTensors: number): string | null {
    this.samples.push(numTensors);
    const s = this.samples.slice(this.warmup);
    if (s.length < 5) return null;
    const last = s.slice(-5);
    const growing = last.every((v, i) => i === 0 || v > last[i - 1]);
    return growing ? `tensor count grows every step: ${last.join(' -> ')} (a leak)` : null;
  }
}

/**
 * The per-step bookkeeping of a training stage: fails on a growing tensor count, records
 * `metrics` every `every` steps, and updates the progress view with `shown` plus the tensor count.
 */
export function trainingStepReporter(
  ctx: {
    progress: ProgressView;
    metrics(records: { stage: string; name: string; step: number; value: number }[]): void;
  },
  stage: string,
  numTensors: () => number,
  every = 10,
): (step: number, metrics: Record<string, number>, shown: ProgressFields) => void {
  const watch = new TensorWatch(5);
  return (step, metrics, shown) => {
    const tensors = numTensors();
    const leak = watch.sample(tensors);
    if (leak) throw new Error(`${stage}: ${leak}`);
    if (step % every === 0) {
      ctx.metrics(Object.entries(metrics).map(([name, value]) => ({ stage, name, step, value })));
    }
    ctx.progress.update(step, { ...shown, tensors });
  };
}
