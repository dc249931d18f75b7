/**
 * The fine-tune's own stages (`artist-train finetune`, FINETUNE_STAGE_NAMES): they bring EasyNLP's
 * files into the run folder's layout, so that the pipeline's lattice and encode stages, its gpt
 * training and the Generator run on them unchanged.
 *
 * - `kg`: entity2id.txt + entity vectors (any format kg-embedding reads) -> `<run>/kg/vectors/`,
 *   rows in entity2id order, so entity id 0 stays EasyNLP's row 0 (a real entity that is also the
 *   padding of `easynlp` fusion, artist.md section 4);
 * - `data`: the train/val/test TSVs, each validated whole (either schema, lex_ids within the table)
 *   before anything else runs, copied to `<run>/data/`;
 * - `init`: a released pytorch_model.bin / .safetensors imported, or an imported folder / earlier
 *   run copied, into `<run>/init/{gpt,vqgan}/`;
 * - `lattice`: the pipeline's lattice stage, or a copy when the TSVs already carry lattice columns;
 * - `vqgan`: the init's VQGAN, frozen, as the run's VQGAN;
 * - `gpt`: the init's GPT trained on the encoded train split (EasyNLP's epochs -> steps);
 * - `eval`: predictions for the test texts in EasyNLP's schema (`idx, text, gen_imgbase64`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteDir, atomicWriteFile } from '@artist-ts/core/files';
import { loadGpt } from '@artist-ts/gpt-knowl';
import { readEntityVectors, readIdMap, writeEmbeddings } from '@artist-ts/kg-embedding';
import { checkTsv, type TsvCheck, Vocab } from '@artist-ts/lattice-data';
import { importCheckpoint } from '@artist-ts/torch-import';
import { Vqgan } from '@artist-ts/vqgan';
import type { TrainerConfig } from '../config';
import { Generator } from '../generator';
import { generateTsv } from '../outputs';
import type { Stage } from '../pipeline';
import { SPLITS, type Split } from '../run_layout';
import { modelFoldersOf } from '../standalone';
import { readEntityTable, readExamples, trainGpt } from './gpt';
import { latticeStage } from './lattice';

/** The user files of a split (null: none). */
function splitFile(c: TrainerConfig, split: Split): string | null {
  return c.finetune[split];
}

const WEIGHT_FILE = /\.(bin|pt|pth|ckpt|safetensors)$/;

export const finetuneKgStage: Stage<TrainerConfig> = {
  name: 'kg',
  after: [],
  configSlice: (c) => ({ entities: c.finetune.entities, vectors: c.finetune.entityVectors }),
  externalInputs: (c) => [c.finetune.entities!, c.finetune.entityVectors!],
  async run(ctx) {
    const f = ctx.config.finetune;
    const t = await readEntityVectors(f.entityVectors!, { entity2id: f.entities! });
    await writeEmbeddings(
      ctx.run.kg.vectors,
      {
        dim: t.dim,
        entities: t.names!,
        relations: [],
        entity: t.vectors,
        relation: new Float32Array(0),
      },
      { text: false, metadata: { source: path.resolve(f.entityVectors!), format: t.format } },
    );
    return { entities: t.rows, dim: t.dim, format: t.format };
  },
};

export const finetuneDataStage: Stage<TrainerConfig> = {
  name: 'data',
  after: ['kg'],
  configSlice: (c) => ({ train: c.finetune.train, val: c.finetune.val, test: c.finetune.test }),
  externalInputs: (c) => SPLITS.map((s) => splitFile(c, s)).filter((f) => f !== null),
  async run(ctx) {
    const entityCount = (await readIdMap(ctx.run.kg.entity2id)).length;
    const checks: Partial<Record<Split, TsvCheck>> = {};
    // Every file is checked whole before anything is copied.
    for (const split of SPLITS) {
      const file = splitFile(ctx.config, split);
      if (file === null) continue;
      checks[split] = await checkTsv(file, { entityCount, requireImages: split !== 'test' });
    }
    const train = checks.train!.format;
    if (checks.val!.format !== train) {
      throw new Error(
        `${checks.val!.file}: ${checks.val!.format} layout, but ${checks.train!.file} is ${train} (train and val need the same layout)`,
      );
    }
    await atomicWriteDir(
      ctx.run.data.dir,
      async (tmp) => {
        // The test texts go to the Generator as they are (data/predict.tsv); only train and val
        // are lattice-matched and encoded.
        for (const [split, c] of Object.entries(checks)) {
          const name = split === 'test' ? path.basename(ctx.run.predictInput) : `${split}.tsv`;
          await fs.promises.copyFile(c.file, path.join(tmp, name));
        }
      },
      { overwrite: true },
    );
    const summary: Record<string, unknown> = { entities: entityCount };
    for (const [split, c] of Object.entries(checks))
      summary[split] = { file: path.resolve(c.file), format: c.format, rows: c.rows };
    return summary;
  },
};

export const initStage: Stage<TrainerConfig> = {
  name: 'init',
  after: [],
  configSlice: (c) => ({
    init: c.finetune.init,
    gpt: c.finetune.importGpt,
    vqgan: c.finetune.importVqgan,
    textLen: c.lattice.textLen,
    size: c.data.size,
  }),
  externalInputs: (c) => [c.finetune.init!],
  async run(ctx) {
    const c = ctx.config;
    const from = c.finetune.init!;
    if (!fs.existsSync(from)) throw new Error(`${from}: missing (finetune.init, --init)`);
    const out = ctx.run.init;
    if (fs.statSync(from).isFile()) {
      if (!WEIGHT_FILE.test(from)) {
        throw new Error(
          `${from}: not a checkpoint file (.bin, .pt, .pth, .ckpt, .safetensors); --init also takes an imported folder or a run folder`,
        );
      }
      ctx.progress.log(`[init] importing ${from}`);
      const r = await importCheckpoint({
        from,
        kind: 'artist',
        out: out.dir,
        gpt: { textLen: c.lattice.textLen, ...c.finetune.importGpt },
        vqgan: { resolution: c.data.size, ...c.finetune.importVqgan },
      });
      return {
        source: path.resolve(from),
        imported: r.models.map((m) => ({ model: m.model, tensors: m.conversion.tensors })),
      };
    }
    const folders = modelFoldersOf(from);
    if (!folders.vqgan) throw new Error(`${from}: has a GPT but no VQGAN (vqgan/)`);
    ctx.progress.log(`[init] copying ${folders.gpt} and ${folders.vqgan}`);
    await atomicWriteDir(
      out.dir,
      async (tmp) => {
        await fs.promises.cp(folders.gpt, path.join(tmp, 'gpt'), { recursive: true });
        await fs.promises.cp(folders.vqgan!, path.join(tmp, 'vqgan'), { recursive: true });
      },
      { overwrite: true },
    );
    return { source: path.resolve(from), copied: folders };
  },
};

export const finetuneLatticeStage: Stage<TrainerConfig> = {
  ...latticeStage,
  after: ['data', 'kg'],
  async run(ctx) {
    const data = ctx.run.readMarker('data')!.summary as Record<string, { format: string }>;
    if (data.train.format !== 'knowledge') return latticeStage.run(ctx);
    // EasyNLP's preprocess_data_knowl.py already ran: its lattice columns are used as they are.
    const vocab = Vocab.fromFile(ctx.config.lattice.vocab!);
    await atomicWriteFile(ctx.run.lattice.vocab, vocab.toText());
    for (const split of ['train', 'val'] as const)
      await fs.promises.copyFile(ctx.run.data.split(split), ctx.run.lattice.knowledgeTsv(split));
    return { vocabSize: vocab.size, fromTsv: true };
  },
};

export const finetuneVqganStage: Stage<TrainerConfig> = {
  name: 'vqgan',
  after: ['init'],
  configSlice: (c) => ({ size: c.data.size }),
  async run(ctx) {
    const model = await Vqgan.load(ctx.run.init.vqgan);
    const { resolution, nEmbed } = model.config;
    const grid = model.codeShape;
    model.dispose();
    if (resolution !== ctx.config.data.size) {
      throw new Error(
        `${ctx.run.init.vqgan}: the VQGAN takes ${resolution}x${resolution} images, but data.size is ${ctx.config.data.size}`,
      );
    }
    await atomicWriteDir(
      ctx.run.vqgan.checkpoint,
      (tmp) => fs.promises.cp(ctx.run.init.vqgan, tmp, { recursive: true }),
      { overwrite: true },
    );
    return { frozen: true, resolution, grid, codebookSize: nEmbed };
  },
};

export const finetuneGptStage: Stage<TrainerConfig> = {
  name: 'gpt',
  after: ['encode', 'kg', 'init'],
  configSlice: (c) => ({
    train: c.gpt.train,
    every: c.gpt.checkpointEvery,
    epochs: c.finetune.epochs,
  }),
  async run(ctx) {
    const table = await readEntityTable(ctx.run);
    const { examples } = await readExamples(ctx.run, 'train');
    const model = await loadGpt(ctx.run.init.gpt);
    try {
      const m = model.config;
      const vocab = Vocab.fromFile(ctx.run.lattice.vocab);
      const problems: string[] = [];
      if (vocab.size !== m.textVocabSize)
        problems.push(`vocab.txt has ${vocab.size} tokens, the model ${m.textVocabSize}`);
      if (ctx.config.lattice.textLen !== m.textLen)
        problems.push(`lattice.textLen is ${ctx.config.lattice.textLen}, the model's ${m.textLen}`);
      if (m.fusion !== 'none' && table.dim !== m.entityDim)
        problems.push(`the entity vectors have ${table.dim} dims, the model ${m.entityDim}`);
      if (problems.length > 0)
        throw new Error(`${ctx.run.init.gpt}: does not fit the run: ${problems.join('; ')}`);
    } catch (err) {
      model.dispose();
      throw err;
    }
    const train = { ...ctx.config.gpt.train };
    const epochs = ctx.config.finetune.epochs;
    if (epochs !== null) train.totalSteps = epochs * Math.ceil(examples.length / train.batchSize);
    return trainGpt(ctx, model, table, train, examples);
  },
};

export const predictStage: Stage<TrainerConfig> = {
  name: 'eval',
  after: ['data', 'gpt', 'vqgan', 'lattice'],
  configSlice: (c) => ({ sample: c.eval.sample, test: c.finetune.test }),
  async run(ctx) {
    const test = ctx.run.predictInput;
    if (!fs.existsSync(test)) return { predictions: 0 };
    const { numSamples, ...sample } = ctx.config.eval.sample;
    const generator = await Generator.load(ctx.run.root);
    try {
      ctx.progress.begin('eval:predict', 0, 'tokens');
      const r = await generateTsv(generator, test, ctx.run.eval.predictions, {
        ...sample,
        numImages: numSamples,
        signal: ctx.signal,
        onProgress: (p) =>
          ctx.progress.update(p.tokens, { images: `${p.images}/${p.totalImages}` }),
      });
      ctx.progress.end(`${r.images} images`);
      const summary = { captions: r.texts, imagesPerCaption: numSamples, images: r.images };
      await atomicWriteFile(ctx.run.eval.metrics, `${JSON.stringify(summary, null, 2)}\n`);
      return summary;
    } finally {
      generator.dispose();
    }
  },
};
