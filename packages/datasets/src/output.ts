/**
 * Writes a dataset folder in the pipeline's "data" layout:
 *
 * ```
 * <out>/train.tsv, val.tsv, test.tsv        idx \t text \t imgbase64   (EasyNLP, no header)
 * <out>/train.meta.tsv, ...                 idx \t <columns>            (header line; per-row facts)
 * <out>/kg/entity2id.txt relation2id.txt train2id.txt triples.tsv entity_types.tsv
 * <out>/NOTICE                              sources and their licenses
 * <out>/dataset.json                        name, config, counts, sources, sha256 of every file
 * ```
 *
 * The folder is built in a temporary sibling and renamed into place (`atomicWriteDir`), so a
 * crash never leaves a half-written dataset.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

export type MetaValue = string | number | boolean;

/** One image-caption pair. `png` holds the encoded image bytes. */
export interface DatasetRow {
  text: string;
  png: Uint8Array;
  meta: Record<string, MetaValue>;
}

function checkCell(value: string, what: string): void {
  if (/[\t\n\r]/.test(value))
    throw new Error(`${what} ${JSON.stringify(value)} contains a tab or newline`);
}

/** Streams rows of one split to `<dir>/<split>.tsv` and `<dir>/<split>.meta.tsv`. */
export class SplitWriter {
  private readonly tsv: fs.WriteStream;
  private readonly meta: fs.WriteStream;
  private count = 0;
  private failure: Error | null = null;

  constructor(
    dir: string,
    readonly split: SplitName,
    private readonly metaColumns: readonly string[],
  ) {
    this.tsv = fs.createWriteStream(path.join(dir, `${split}.tsv`));
    this.meta = fs.createWriteStream(path.join(dir, `${split}.meta.tsv`));
    for (const s of [this.tsv, this.meta]) {
      s.on('error', (err) => {
        this.failure ??= err;
      });
    }
    this.meta.write(`idx\t${metaColumns.join('\t')}\n`);
  }

  private check(): void {
    if (this.failure)
      throw new Error(`writing ${this.split} split failed: ${this.failure.message}`);
  }

  get rows(): number {
    return this.count;
  }

  async write(row: DatasetRow): Promise<void> {
    this.check();
    checkCell(row.text, `${this.split} caption`);
    if (row.text.length === 0) throw new Error(`${this.split} row ${this.count}: empty caption`);
    const idx = this.count++;
    const cells = this.metaColumns.map((c) => {
      const v = row.meta[c];
      if (v === undefined) throw new Error(`${this.split} row ${idx}: meta column "${c}" missing`);
      const s = String(v);
      checkCell(s, `${this.split} meta "${c}"`);
      return s;
    });
    const line = `${idx}\t${row.text}\t${Buffer.from(row.png.buffer, row.png.byteOffset, row.png.byteLength).toString('base64')}\n`;
    const okTsv = this.tsv.write(line);
    const okMeta = this.meta.write(`${idx}\t${cells.join('\t')}\n`);
    if (!okTsv) await this.drained(this.tsv);
    if (!okMeta) await this.drained(this.meta);
  }

  private drained(stream: fs.WriteStream): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        stream.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        stream.off('drain', onDrain);
        reject(err);
      };
      stream.once('drain', onDrain);
      stream.once('error', onError);
    });
  }

  async close(): Promise<void> {
    if (this.failure) {
      this.tsv.destroy();
      this.meta.destroy();
      this.check();
    }
    await Promise.all(
      [this.tsv, this.meta].map(
        (s) =>
          new Promise<void>((resolve, reject) => {
            if (s.destroyed) return resolve();
            s.once('error', reject);
            s.end(() => resolve());
          }),
      ),
    );
  }
}

/** sha256 of every file under `dir` (relative POSIX paths, sorted), skipping `skip`. */
export async function hashTree(
  dir: string,
  skip: readonly string[] = [],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.promises.readdir(path.join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip.includes(r)) continue;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) {
        const hash = createHash('sha256');
        for await (const chunk of fs.createReadStream(path.join(dir, r)))
          hash.update(chunk as Buffer);
        out[r] = hash.digest('hex');
      }
    }
  };
  await walk('');
  return out;
}

/** JSON with sorted keys is not needed: builders insert keys in a fixed order. Ends with a newline. */
export function stableJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
