/**
 * The registry of dataset builders and `buildDataset`, the entry the trainer's
 * `data build <name> --out <dir> --size <px>` calls.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteDir } from '@artist-ts/core/files';
import { emojiZhBuilder } from './emoji_zh/builder';
import { defaultThreads } from './emoji_zh/render_pool';
import { kgShapesZhBuilder } from './kg_shapes/builder';
import { hashTree, SPLITS, SplitWriter, stableJson } from './output';
import type { BuildOptions, BuildProgress, DatasetBuilder, DatasetManifest } from './types';

// biome-ignore lint/suspicious/noExplicitAny: builders have different config types
export type AnyDatasetBuilder = DatasetBuilder<any>;

/** Every built-in builder by name. */
export const DATASET_BUILDERS: Readonly<Record<string, AnyDatasetBuilder>> = Object.freeze({
  [emojiZhBuilder.name]: emojiZhBuilder,
  [kgShapesZhBuilder.name]: kgShapesZhBuilder,
});

export function listDatasets(): Array<{
  name: string;
  description: string;
  defaultSize: number;
  license: string;
}> {
  return Object.values(DATASET_BUILDERS).map((b) => ({
    name: b.name,
    description: b.description,
    defaultSize: b.defaultSize,
    license: b.license,
  }));
}

export function getDatasetBuilder(name: string): AnyDatasetBuilder {
  const b = DATASET_BUILDERS[name];
  if (!b) {
    throw new Error(
      `unknown dataset "${name}" (available: ${Object.keys(DATASET_BUILDERS).join(', ')})`,
    );
  }
  return b;
}

export interface BuildResult {
  out: string;
  manifest: DatasetManifest;
}

function checkOptions(
  builder: AnyDatasetBuilder,
  options: BuildOptions,
): { size: number; limit: number | null; threads: number } {
  if (!options || typeof options.out !== 'string' || options.out.length === 0) {
    throw new Error(`buildDataset(${builder.name}): options.out must be a folder path`);
  }
  const size = options.size ?? builder.defaultSize;
  if (!Number.isInteger(size) || size < builder.minSize || size > builder.maxSize) {
    throw new Error(
      `buildDataset(${builder.name}): size must be an integer in [${builder.minSize}, ${builder.maxSize}], got ${options.size}`,
    );
  }
  const limit = options.limit ?? null;
  if (limit !== null && (!Number.isInteger(limit) || limit < 1)) {
    throw new Error(
      `buildDataset(${builder.name}): limit must be a positive integer, got ${options.limit}`,
    );
  }
  const seed = options.seed ?? 0;
  if (!(typeof seed === 'string' || (typeof seed === 'number' && Number.isFinite(seed)))) {
    throw new Error(
      `buildDataset(${builder.name}): seed must be a finite number or a string, got ${seed}`,
    );
  }
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(
      `buildDataset(${builder.name}): threads must be a positive integer, got ${options.threads}`,
    );
  }
  return { size, limit, threads };
}

/**
 * Builds dataset `name` into `options.out` (atomically: a temporary sibling folder renamed into
 * place). Same name, seed, size, limit and config give byte-identical folders.
 */
export async function buildDataset(name: string, options: BuildOptions): Promise<BuildResult> {
  const builder = getDatasetBuilder(name);
  const { size, limit, threads } = checkOptions(builder, options);
  const config = builder.validateConfig(options.config);
  const seed = options.seed ?? 0;
  const out = path.resolve(options.out);
  if (fs.existsSync(out) && !options.overwrite) {
    throw new Error(
      `buildDataset(${name}): ${out} already exists (pass overwrite: true to replace it)`,
    );
  }
  const report = (p: Omit<BuildProgress, 'dataset'>) =>
    options.onProgress?.({ dataset: name, ...p });
  const built = await builder.build({ size, seed, limit, threads, config, progress: report });
  let manifest: DatasetManifest | undefined;
  await atomicWriteDir(
    out,
    async (tmp) => {
      const counts = { train: 0, val: 0, test: 0 };
      for (const split of SPLITS) {
        const writer = new SplitWriter(tmp, split, built.metaColumns);
        try {
          for await (const row of built.splits[split].rows()) await writer.write(row);
        } finally {
          await writer.close();
        }
        counts[split] = writer.rows;
      }
      report({ stage: 'write', done: 0, total: 1 });
      await built.kg.writeTo(path.join(tmp, 'kg'));
      await fs.promises.writeFile(path.join(tmp, 'NOTICE'), built.notice);
      for (const [rel, content] of Object.entries(built.extraFiles ?? {})) {
        await fs.promises.mkdir(path.dirname(path.join(tmp, rel)), { recursive: true });
        await fs.promises.writeFile(path.join(tmp, rel), content);
      }
      manifest = {
        format: 'artist-ts-dataset',
        formatVersion: 1,
        name: builder.name,
        description: builder.description,
        license: builder.license,
        size,
        seed,
        limit,
        config: built.config,
        counts,
        kg: {
          entities: built.kg.numEntities,
          relations: built.kg.numRelations,
          triples: built.kg.numTriples,
          relationCounts: built.kg.relationCounts(),
        },
        metaColumns: built.metaColumns,
        sources: built.sources,
        stats: built.stats ?? {},
        files: await hashTree(tmp),
      };
      await fs.promises.writeFile(path.join(tmp, 'dataset.json'), stableJson(manifest));
      report({ stage: 'write', done: 1, total: 1 });
    },
    { overwrite: options.overwrite ?? false },
  );
  report({ stage: 'done', done: 1, total: 1 });
  return { out, manifest: manifest! };
}

/** Reads `dataset.json` of a built folder. */
export function readDatasetManifest(dir: string): DatasetManifest {
  const file = path.join(dir, 'dataset.json');
  let parsed: DatasetManifest;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as DatasetManifest;
  } catch (err) {
    throw new Error(`${file}: cannot read dataset manifest (${(err as Error).message})`);
  }
  if (parsed.format !== 'artist-ts-dataset')
    throw new Error(`${file}: field "format" is not "artist-ts-dataset"`);
  return parsed;
}
