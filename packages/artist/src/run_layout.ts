/**
 * The layout of a run folder `runs/<name>/`: every path inside it, in one place. Stages, the report,
 * the generator and the CLIs ask this module for paths and never join run-folder names themselves.
 * Pure: nothing here touches the disk (RunFolder adds the I/O).
 *
 * ```
 * runs/<name>/
 *   config.json  args.txt  metrics.jsonl  report.html
 *   <stage>/DONE.json  <stage>/INPUT_HASH          every stage
 *   data/{train,val,test}.tsv  data/kg/            the data stage (OpenKE files or triples.tsv)
 *   data/predict.tsv                                a fine-tune's test texts
 *   kg/checkpoints/  kg/vectors/{entity2id.txt,relation2id.txt,entity_vectors.bin,...}
 *   lattice/vocab.txt  lattice/{split}.knowl.tsv  lattice/neighbours.tsv (expansion only)
 *   vqgan/checkpoints/  vqgan/checkpoint/          training checkpoints, final model
 *   encode/codes/{split}/{index.json,shard-*.pb}
 *   gpt/checkpoints/  gpt/checkpoint/
 *   eval/{samples/<idx>-<j>.png, predictions.tsv, train_predictions.tsv, reconstructions.bin,
 *         real_stats.npz, metrics.json}
 *   ablation.json                                   artist-train ablation: the aggregate over seeds
 *   ablation/seed-<s>/{shared,<fusion>}/            its run folders: per seed, shared stages and modes
 *   init/{gpt,vqgan}/                               a fine-tune's starting weights (artist-train finetune)
 * ```
 */
import path from 'node:path';

/** The pipeline's stages, in order; each owns the folder of the same name. */
export const STAGE_NAMES = ['data', 'kg', 'lattice', 'vqgan', 'encode', 'gpt', 'eval'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** Dataset splits, in order. */
export const SPLITS = ['train', 'val', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/**
 * A data folder: the run's `data/`, and the layout a user's own folder (`data.input`) must have,
 * since the data stage copies it there.
 */
export interface DataFolderLayout {
  dir: string;
  /** `idx \t text \t imgbase64` of a split. */
  split(split: Split): string;
  /** The knowledge graph: OpenKE files (entity2id.txt, relation2id.txt, train2id.txt) or triples.tsv. */
  kg: string;
}

export function dataFolderLayout(dir: string): DataFolderLayout {
  return { dir, split: (s) => path.join(dir, `${s}.tsv`), kg: path.join(dir, 'kg') };
}

/** The run folder of run `name` in `runsDir`. */
export function runRoot(runsDir: string, name: string): string {
  return path.join(runsDir, name);
}

export class RunLayout {
  readonly root: string;
  /** The resolved configuration of the last command (JSON). */
  readonly configFile: string;
  /** The command line of the last command. */
  readonly argsFile: string;
  /** One JSON metric record per line, appended by every stage. */
  readonly metricsFile: string;
  readonly reportFile: string;
  readonly data: DataFolderLayout;
  /** A fine-tune's test texts (`idx, text` or knowledge rows), what its eval stage predicts for. */
  readonly predictInput: string;
  readonly kg: {
    checkpoints: string;
    /** TransE output folder (kg-embedding's writeEmbeddings / loadEntityVectors). */
    vectors: string;
    /** The entity names the lexicon matches, in the vectors folder. */
    entity2id: string;
  };
  readonly lattice: {
    vocab: string;
    /** EasyNLP knowledge TSV of a split. */
    knowledgeTsv(split: Split): string;
    /** One-hop neighbour table (`lattice.neighbours` > 0 only). */
    neighbours: string;
  };
  readonly vqgan: { checkpoints: string; checkpoint: string };
  readonly encode: {
    /** Shard folder of a split. */
    codes(split: Split): string;
    /** Its index.json. */
    codesIndex(split: Split): string;
  };
  readonly gpt: { checkpoints: string; checkpoint: string };
  /** A fine-tune's starting weights: checkpoint roots, as importCheckpoint writes them. */
  readonly init: { dir: string; gpt: string; vqgan: string };
  readonly eval: {
    dir: string;
    samples: string;
    sample(idx: string, j: number): string;
    predictions: string;
    /** Images for the first training captions (`eval.trainCaptions`): what the model learned. */
    trainPredictions: string;
    reconstructions: string;
    realStats: string;
    metrics: string;
  };

  constructor(root: string) {
    this.root = path.resolve(root);
    const p = (...parts: string[]) => path.join(this.root, ...parts);
    this.configFile = p('config.json');
    this.argsFile = p('args.txt');
    this.metricsFile = p('metrics.jsonl');
    this.reportFile = p('report.html');
    this.data = dataFolderLayout(p('data'));
    this.predictInput = p('data', 'predict.tsv');
    this.kg = {
      checkpoints: p('kg', 'checkpoints'),
      vectors: p('kg', 'vectors'),
      entity2id: p('kg', 'vectors', 'entity2id.txt'),
    };
    this.lattice = {
      vocab: p('lattice', 'vocab.txt'),
      knowledgeTsv: (s) => p('lattice', `${s}.knowl.tsv`),
      neighbours: p('lattice', 'neighbours.tsv'),
    };
    this.vqgan = { checkpoints: p('vqgan', 'checkpoints'), checkpoint: p('vqgan', 'checkpoint') };
    this.encode = {
      codes: (s) => p('encode', 'codes', s),
      codesIndex: (s) => p('encode', 'codes', s, 'index.json'),
    };
    this.gpt = { checkpoints: p('gpt', 'checkpoints'), checkpoint: p('gpt', 'checkpoint') };
    this.init = { dir: p('init'), gpt: p('init', 'gpt'), vqgan: p('init', 'vqgan') };
    this.eval = {
      dir: p('eval'),
      samples: p('eval', 'samples'),
      sample: (idx, j) => p('eval', 'samples', `${idx}-${j}.png`),
      predictions: p('eval', 'predictions.tsv'),
      trainPredictions: p('eval', 'train_predictions.tsv'),
      reconstructions: p('eval', 'reconstructions.bin'),
      realStats: p('eval', 'real_stats.npz'),
      metrics: p('eval', 'metrics.json'),
    };
  }

  /** A stage's folder. */
  stagePath(stage: string): string {
    return path.join(this.root, stage);
  }

  /** A stage's DONE marker. */
  markerFile(stage: string): string {
    return path.join(this.root, stage, 'DONE.json');
  }

  /** The hash of the inputs a stage's folder (its checkpoints) was made from. */
  inputHashFile(stage: string): string {
    return path.join(this.root, stage, 'INPUT_HASH');
  }

  /** Where the ablation keeps its repetitions (`seed-<s>/`). */
  get ablationDir(): string {
    return path.join(this.root, 'ablation');
  }

  /**
   * A repetition of the ablation: the runsDir of its run folders, `shared/` (its seed-dependent
   * shared stages, unless the seed is the run's own) and one per fusion mode.
   */
  ablationSeedDir(seed: number): string {
    return path.join(this.root, 'ablation', `seed-${seed}`);
  }

  /** The ablation's aggregate (per fusion mode and scorer group, over seeds). */
  get ablationFile(): string {
    return path.join(this.root, 'ablation.json');
  }
}
