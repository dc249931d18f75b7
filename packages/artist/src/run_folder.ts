/**
 * The run folder `runs/<name>/` on disk: resolved config, metrics.jsonl, one subfolder per stage, and
 * a `DONE.json` marker per finished stage holding the hash of its inputs and config. Where each file
 * lives is RunLayout's business (run_layout.ts).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@artist-ts/core/files';
import { canonicalJson } from './config_tree';
import { RunLayout } from './run_layout';

export interface StageMarker {
  stage: string;
  inputHash: string;
  finishedAt: string;
  seconds: number;
  /** Stage-specific summary (metrics, counts) shown in the report. */
  summary: Record<string, unknown>;
}

/** One line of metrics.jsonl. `stage` and `name` identify the series; `step` orders it. */
export interface MetricRecord {
  stage: string;
  name: string;
  step: number;
  value: number;
  time?: string;
}

export class RunFolder extends RunLayout {
  constructor(root: string) {
    super(root);
    fs.mkdirSync(this.root, { recursive: true });
  }

  /** A stage's folder, created if needed. */
  stageDir(stage: string): string {
    const dir = this.stagePath(stage);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  async writeResolvedConfig(config: unknown, argv: string[]): Promise<void> {
    await atomicWriteFile(this.configFile, `${JSON.stringify(config, null, 2)}\n`);
    await atomicWriteFile(this.argsFile, `${argv.join(' ')}\n`);
  }

  readResolvedConfig(): unknown | null {
    const p = this.configFile;
    return fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, 'utf8')) : null;
  }

  /** Appends metric lines (one write per call, so a kill leaves whole lines). */
  appendMetrics(records: MetricRecord[]): void {
    if (records.length === 0) return;
    const time = new Date().toISOString();
    const text = records.map((r) => JSON.stringify({ time, ...r })).join('\n');
    fs.appendFileSync(this.metricsFile, `${text}\n`);
  }

  /**
   * Metrics, one value per (stage, name, step): a run resumed after a kill re-logs the steps after
   * its last checkpoint, and the later value wins. A torn last line (kill mid-write) is skipped.
   */
  readMetrics(): MetricRecord[] {
    const p = this.metricsFile;
    if (!fs.existsSync(p)) return [];
    const byKey = new Map<string, MetricRecord>();
    for (const line of fs.readFileSync(p, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let r: MetricRecord;
      try {
        r = JSON.parse(line) as MetricRecord;
      } catch {
        continue;
      }
      byKey.set(`${r.stage}\u0000${r.name}\u0000${r.step}`, r);
    }
    return [...byKey.values()].sort((a, b) =>
      a.stage === b.stage
        ? a.name === b.name
          ? a.step - b.step
          : a.name < b.name
            ? -1
            : 1
        : a.stage < b.stage
          ? -1
          : 1,
    );
  }

  readMarker(stage: string): StageMarker | null {
    const p = this.markerFile(stage);
    if (!fs.existsSync(p)) return null;
    try {
      return JSON.parse(fs.readFileSync(p, 'utf8')) as StageMarker;
    } catch {
      return null;
    }
  }

  async writeMarker(marker: StageMarker): Promise<void> {
    this.stageDir(marker.stage);
    await atomicWriteFile(this.markerFile(marker.stage), `${JSON.stringify(marker, null, 2)}\n`);
  }

  clearMarker(stage: string): void {
    fs.rmSync(this.markerFile(stage), { force: true });
  }
}

/**
 * Hash of a stage's inputs: its config slice, the hashes of the stages it depends on, and the
 * contents of external input files (path relative to nothing: only names and bytes count).
 */
export async function hashStageInputs(parts: {
  config: unknown;
  upstream: Record<string, string>;
  files?: string[];
}): Promise<string> {
  const h = createHash('sha256');
  h.update(canonicalJson(parts.config));
  h.update(canonicalJson(parts.upstream));
  for (const f of parts.files ?? []) await hashPath(h, f);
  return h.digest('hex');
}

async function hashPath(h: ReturnType<typeof createHash>, p: string): Promise<void> {
  const st = await fs.promises.stat(p).catch(() => null);
  if (!st) {
    h.update(`missing:${path.basename(p)}`);
    return;
  }
  if (st.isDirectory()) {
    for (const name of (await fs.promises.readdir(p)).sort()) {
      if (name.startsWith('.')) continue;
      h.update(`dir:${name}`);
      await hashPath(h, path.join(p, name));
    }
    return;
  }
  h.update(`file:${st.size}:`);
  await new Promise<void>((resolve, reject) => {
    fs.createReadStream(p)
      .on('data', (c) => h.update(c))
      .on('end', resolve)
      .on('error', reject);
  });
}
