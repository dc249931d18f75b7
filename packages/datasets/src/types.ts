import type { KnowledgeGraph } from './kg';
import type { DatasetRow, SplitName } from './output';

export interface BuildProgress {
  dataset: string;
  /** 'load' (sources), 'kg', 'images' (rendering + encoding rows), 'write' (files), 'done'. */
  stage: 'load' | 'kg' | 'images' | 'write' | 'done';
  done: number;
  total: number;
  split?: SplitName;
}

export interface BuildOptions<C = Record<string, unknown>> {
  /** The data folder to create (written atomically). */
  out: string;
  /** Image side in pixels (square images). Default: the builder's `defaultSize`. */
  size?: number;
  /** Seed for every random choice (number or string label). Default 0. */
  seed?: number | string;
  /** Keep at most this many rows per split (a seeded, representative prefix). Default: all. */
  limit?: number;
  /** Worker threads for image rendering (emoji-zh). Default min(available cores, 8); 1 = this thread. */
  threads?: number;
  /** Replace `out` if it exists. Default false (an existing folder is an error). */
  overwrite?: boolean;
  /** Builder-specific settings; missing fields take the builder's defaults. */
  config?: Partial<C>;
  onProgress?: (p: BuildProgress) => void;
}

export interface SourceInfo {
  name: string;
  version: string;
  license: string;
  role: string;
}

/** What a builder hands to the writer. */
export interface BuiltDataset {
  config: Record<string, unknown>;
  /** Meta columns written to `<split>.meta.tsv` (after `idx`). */
  metaColumns: readonly string[];
  /** Rows per split, lazily produced (images are rendered as rows are written). */
  splits: Record<
    SplitName,
    { count: number; rows: () => Iterable<DatasetRow> | AsyncIterable<DatasetRow> }
  >;
  kg: KnowledgeGraph;
  notice: string;
  sources: SourceInfo[];
  /** Extra files (relative path -> content), e.g. world.json. */
  extraFiles?: Record<string, string>;
  /** Extra facts for dataset.json. */
  stats?: Record<string, unknown>;
}

export interface ResolvedBuildOptions<C> {
  size: number;
  seed: number | string;
  limit: number | null;
  threads: number;
  config: C;
  progress: (p: Omit<BuildProgress, 'dataset'>) => void;
}

export interface DatasetBuilder<C = Record<string, unknown>> {
  name: string;
  description: string;
  /** Default image side. */
  defaultSize: number;
  /** Allowed image sides (inclusive range). */
  minSize: number;
  maxSize: number;
  /** SPDX-like summary of the output's licenses. */
  license: string;
  defaultConfig: Readonly<C>;
  validateConfig(config: Partial<C> | undefined): C;
  build(options: ResolvedBuildOptions<C>): Promise<BuiltDataset>;
}

export interface DatasetManifest {
  format: 'artist-ts-dataset';
  formatVersion: 1;
  name: string;
  description: string;
  license: string;
  size: number;
  seed: number | string;
  limit: number | null;
  config: Record<string, unknown>;
  counts: Record<SplitName, number>;
  kg: {
    entities: number;
    relations: number;
    triples: number;
    relationCounts: Record<string, number>;
  };
  metaColumns: readonly string[];
  sources: SourceInfo[];
  stats: Record<string, unknown>;
  /** sha256 of every file in the folder except dataset.json. */
  files: Record<string, string>;
}
