/**
 * Stage `kg`: TransE on `<run>/data/kg/` into `<run>/kg/vectors/` (entity2id.txt, relation2id.txt,
 * entity_vectors.bin, metadata.json), checkpointed in `<run>/kg/checkpoints/` and resumable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '@artist-ts/core/rng';
import {
  DEFAULT_TRANSE_CONFIG,
  evaluateLinkPrediction,
  type KgDataset,
  type LinkPredictionMetrics,
  readNamedDataset,
  readOpenKEFolder,
  subsetTriples,
  type TrainResult,
  trainTransE,
  writeEmbeddings,
} from '@artist-ts/kg-embedding';
import type { TrainerConfig } from '../config';
import { ConfigError } from '../config_tree';
import { omitWhileDefault, type Stage } from '../pipeline';

/** A KG folder holds OpenKE files or a named-triples TSV; which one (else an error naming both). */
export function kgFolderFormat(
  dir: string,
): { kind: 'openke' } | { kind: 'triples'; file: string } {
  const has = (name: string) => fs.existsSync(path.join(dir, name));
  if (has('entity2id.txt') && has('train2id.txt')) return { kind: 'openke' };
  if (has('triples.tsv')) return { kind: 'triples', file: path.join(dir, 'triples.tsv') };
  throw new Error(
    `${dir}: needs OpenKE files (entity2id.txt, relation2id.txt, train2id.txt) or triples.tsv`,
  );
}

export async function readKgFolder(dir: string): Promise<KgDataset> {
  const format = kgFolderFormat(dir);
  if (format.kind === 'openke') return readOpenKEFolder(dir);
  return readNamedDataset({ train: format.file });
}

/**
 * Ids of `relations` in `kg` (null: every relation), or a ConfigError naming `lattice.relations`,
 * the KG folder and the relations it has.
 */
export function relationIds(
  kg: Pick<KgDataset, 'relations'>,
  relations: readonly string[] | null,
  kgDir: string,
): number[] | null {
  if (relations === null) return null;
  return relations.map((name) => {
    const id = kg.relations.indexOf(name);
    if (id < 0) {
      throw new ConfigError(
        'lattice.relations',
        `"${name}" is not a relation of ${kgDir} (it has ${kg.relations.join(', ')})`,
      );
    }
    return id;
  });
}

/**
 * Filtered link prediction (realistic tie ranks) of trained vectors: on the test triples, or, when
 * the KG has none (it is the knowledge source, so every fact is trained on), on a fixed sample of
 * the training triples, which measures how well the vectors fit the graph.
 */
export async function probeLinkPrediction(
  dataset: KgDataset,
  result: Pick<TrainResult, 'embeddings' | 'config'>,
): Promise<{ probe: string; metrics: LinkPredictionMetrics }> {
  const onTest = dataset.test.count > 0;
  const probe = onTest ? dataset.test : subsetTriples(dataset.train, 2000, new Rng('kg-probe'));
  const metrics = await evaluateLinkPrediction(result.embeddings, probe, {
    filter: [dataset.train, dataset.valid, dataset.test],
    distance: result.config.distance,
    workers: Math.min(2, result.config.workers),
  });
  return { probe: onTest ? 'test' : 'train sample (fit)', metrics };
}

export const kgStage: Stage<TrainerConfig> = {
  name: 'kg',
  after: ['data'],
  configSlice: (c) =>
    omitWhileDefault(c.kg, {
      epochOrder: DEFAULT_TRANSE_CONFIG.epochOrder,
      blockBytes: DEFAULT_TRANSE_CONFIG.blockBytes,
    }),
  async run(ctx) {
    const dataset = await readKgFolder(ctx.run.data.kg);
    // the lattice stage expands over these relations: a bad name fails now, not after TransE
    relationIds(dataset, ctx.config.lattice.relations, ctx.run.data.kg);
    const cfg = ctx.config.kg;
    const ckpt = ctx.run.kg.checkpoints;
    ctx.progress.begin('kg', cfg.epochs, 'epochs');
    const result = await trainTransE(dataset, cfg, {
      checkpointDir: ckpt,
      resume: true,
      signal: ctx.signal,
      onStep: (r) => {
        ctx.metrics([
          { stage: 'kg', name: 'loss', step: r.epoch, value: r.loss },
          { stage: 'kg', name: 'triples_per_s', step: r.epoch, value: r.triplesPerSecond },
        ]);
        ctx.progress.update(r.epoch, {
          loss: r.loss,
          lr: r.learningRate,
          'triples/s': Math.round(r.triplesPerSecond),
        });
      },
      onValidation: (v) => {
        ctx.metrics([{ stage: 'kg', name: 'val_mrr', step: v.epoch, value: v.mrr }]);
      },
    });
    ctx.progress.end();
    if (ctx.signal.aborted) return {};
    const { probe, metrics } = await probeLinkPrediction(dataset, result);
    const summary = {
      entities: dataset.entities.length,
      relations: dataset.relations.length,
      triples: dataset.train.count,
      epochs: result.epochs,
      finalLoss: result.lossHistory[result.lossHistory.length - 1] ?? null,
      probe,
      mrr: metrics.realistic.both.mrr,
      hits1: metrics.realistic.both.hits1,
      hits10: metrics.realistic.both.hits10,
      mr: metrics.realistic.both.mr,
    };
    await writeEmbeddings(ctx.run.kg.vectors, result.embeddings, {
      metadata: { config: result.config, metrics: summary },
    });
    return summary;
  },
};
