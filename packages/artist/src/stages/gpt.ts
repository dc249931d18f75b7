/**
 * Stage `gpt`: trains GPT-knowl on the encoded shards with the run's TransE vectors, checkpointing
 * to `<run>/gpt/checkpoints/` (resumable, exact), and saves the final model to `<run>/gpt/checkpoint/`.
 */
import fs from 'node:fs';
import { resolveCheckpointDir } from '@artist-ts/core/checkpoint-files';
import {
  type EntityTable,
  evaluateLoss,
  type GptConfig,
  type GptExample,
  type TrainConfig as GptTrainConfig,
  GptTrainer,
  KnowlGpt,
  type LatticeFields,
  saveGpt,
  validateGptConfig,
} from '@artist-ts/gpt-knowl';
import { loadEntityVectors } from '@artist-ts/kg-embedding';
import {
  type EncodedExample,
  matchedEntries,
  readNeighbourTable,
  ShardDataset,
  Vocab,
} from '@artist-ts/lattice-data';
import * as tf from '@tensorflow/tfjs';
import type { TrainerConfig } from '../config';
import { omitWhileDefault, type Stage, type StageContext } from '../pipeline';
import { trainingStepReporter } from '../progress';
import type { RunFolder } from '../run_folder';
import type { Split } from '../run_layout';

/** A shard example's entities as lattice-data's FLAT lattice fields (what gpt-knowl reads). */
function latticeOfExample(ex: EncodedExample): LatticeFields {
  const chars = Array.from({ length: ex.seqLen }, (_, i) => i);
  return {
    seqLen: ex.seqLen,
    lexIds: Array.from(ex.lexIds, String),
    posS: [...chars, ...ex.lexStart],
    posE: [...chars, ...ex.lexEnd],
  };
}

/**
 * The split's examples from `<run>/codes/<split>/` as GPT examples; with the run's one-hop
 * expansion (`lattice/neighbours.tsv`) each says how many of its lattice entries are matches.
 */
export async function readExamples(
  run: RunFolder,
  split: Split,
): Promise<{ examples: GptExample[]; texts: string[]; idx: string[] }> {
  const dir = run.encode.codes(split);
  if (!fs.existsSync(dir)) return { examples: [], texts: [], idx: [] };
  const neighbours = fs.existsSync(run.lattice.neighbours)
    ? await readNeighbourTable(run.lattice.neighbours)
    : null;
  const ds = await ShardDataset.open(dir);
  const examples: GptExample[] = [];
  const texts: string[] = [];
  const idx: string[] = [];
  try {
    for await (const ex of ds.iterate()) {
      if (ex.image?.kind !== 'codes') throw new Error(`${dir}: example ${ex.idx} has no VQ codes`);
      const lattice = latticeOfExample(ex);
      examples.push({
        text: ex.textIds,
        codes: ex.image.codes,
        lattice,
        ...(neighbours ? { matchedEntities: matchedEntries(lattice, neighbours) } : {}),
      });
      texts.push(ex.text);
      idx.push(ex.idx);
    }
  } finally {
    await ds.close();
  }
  return { examples, texts, idx };
}

export async function readEntityTable(run: RunFolder): Promise<EntityTable> {
  const ent = await loadEntityVectors(run.kg.vectors);
  return { vectors: ent.vectors, numEntities: ent.names.length, dim: ent.dim };
}

/** The full model config: the configured architecture plus the sizes this run's files imply. */
export async function gptModelConfig(
  run: RunFolder,
  config: TrainerConfig,
  entityDim: number,
): Promise<GptConfig> {
  const vocab = Vocab.fromFile(run.lattice.vocab);
  const index = JSON.parse(fs.readFileSync(run.encode.codesIndex('train'), 'utf8')) as {
    meta: { grid: [number, number]; codebookSize: number };
  };
  return validateGptConfig({
    ...config.gpt.model,
    textLen: config.lattice.textLen,
    textVocabSize: vocab.size,
    imageLen: index.meta.grid[0] * index.meta.grid[1],
    imageVocabSize: index.meta.codebookSize,
    entityDim,
  });
}

/**
 * Trains `model` on the run's encoded train split with `train`, checkpointing to
 * `<run>/gpt/checkpoints/` (resumable, exact), then scores the val split and saves the final model
 * to `<run>/gpt/checkpoint/`. Disposes `model`. Shared by the pipeline's and the fine-tune's gpt stage.
 */
export async function trainGpt(
  ctx: StageContext<TrainerConfig>,
  model: KnowlGpt,
  table: EntityTable,
  train: GptTrainConfig,
  examples: GptExample[],
): Promise<Record<string, unknown>> {
  const cfg = ctx.config.gpt;
  let trainer: GptTrainer | undefined;
  try {
    trainer = new GptTrainer(model, train, { entityTable: table });
    const ckptRoot = ctx.run.gpt.checkpoints;
    const resumeDir = resolveCheckpointDir(ckptRoot);
    if (resumeDir) ctx.progress.log(`gpt: resuming from ${resumeDir}`);
    const report = trainingStepReporter(ctx, 'gpt', () => tf.memory().numTensors);
    const val = await readExamples(ctx.run, 'val');
    const valLossOf = () =>
      val.examples.length > 0
        ? evaluateLoss(model, val.examples, { batchSize: train.batchSize, entityTable: table })
        : Promise.resolve(Number.NaN);
    ctx.progress.begin('gpt', trainer.config.totalSteps, 'steps');
    await trainer.fit(examples, {
      checkpointDir: ckptRoot,
      checkpointEvery: cfg.checkpointEvery,
      keepLast: 2,
      signal: ctx.signal,
      // The validation curve: the val loss at each checkpoint (resumed runs re-log, later wins).
      onCheckpoint: cfg.valAtCheckpoints
        ? async ({ step }) =>
            ctx.metrics([{ stage: 'gpt', name: 'val_loss', step, value: await valLossOf() }])
        : undefined,
      onStep: (m) =>
        report(
          m.step,
          { loss: m.loss, lr: m.learningRate },
          { loss: m.loss, lr: m.learningRate, 'grad norm': m.gradNorm },
        ),
    });
    ctx.progress.end();
    if (ctx.signal.aborted) return {};
    trainer.mergeAdapters(); // LoRA (gpt.train.lora): plain weights for sampling and export
    const valLoss = await valLossOf();
    ctx.metrics([{ stage: 'gpt', name: 'val_loss', step: trainer.step, value: valLoss }]);
    const out = ctx.run.gpt.checkpoint;
    fs.rmSync(out, { recursive: true, force: true });
    await saveGpt(model, out, { keepLast: 1, step: trainer.step });
    return {
      steps: trainer.step,
      examples: examples.length,
      valLoss,
      parameters: model.numParameters(),
      fusion: model.config.fusion,
    };
  } finally {
    trainer?.dispose();
    model.dispose();
  }
}

export const gptStage: Stage<TrainerConfig> = {
  name: 'gpt',
  after: ['encode', 'kg'],
  configSlice: (c) => ({
    gpt: {
      ...c.gpt,
      train: omitWhileDefault(c.gpt.train, { attributeDropout: 0, factDropout: 0 }),
    },
    textLen: c.lattice.textLen,
  }),
  async run(ctx) {
    const table = await readEntityTable(ctx.run);
    const modelConfig = await gptModelConfig(ctx.run, ctx.config, table.dim);
    const { examples } = await readExamples(ctx.run, 'train');
    const model = new KnowlGpt(modelConfig, { seed: `gpt-init/${ctx.config.seed}` });
    return trainGpt(ctx, model, table, ctx.config.gpt.train, examples);
  },
};
