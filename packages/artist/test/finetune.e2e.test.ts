/**
 * artist-train finetune end to end, without Python: a checkpoint in the released layout
 * (pytorch_model.bin written by exportEasyNLP through @artist-ts/torch-files' writeTorchFile, plus
 * vocab.txt, config.json, entity2vec.pt) from a tiny KnowlGpt (easynlp fusion) and a tiny Vqgan ->
 * finetune a few steps -> predictions -> export -> re-import equals.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveCheckpointDir } from '@artist-ts/core/checkpoint-files';
import { TrainingInterruptedError } from '@artist-ts/core/train-loop';
import { readEntityVectors } from '@artist-ts/kg-embedding';
import { buildCharVocab, encodeBase64, encodePng, readTsv } from '@artist-ts/lattice-data';
import { initRuntime, loadCheckpoint, saveCheckpoint } from '@artist-ts/runtime';
import { exportEasyNLP, importCheckpoint } from '@artist-ts/torch-import';
import * as tf from '@tensorflow/tfjs';
import { runPipeline } from '../src/app';
import { resolveConfig } from '../src/config';
import type { ProgressView } from '../src/progress';
import { RunFolder } from '../src/run_folder';
import { latticeCommand } from '../src/standalone';
import { buildProgram } from '../src/train_cli';
import { stdoutOf } from './stdout';
import { CAPTIONS, tinyGpt, tinyVqgan } from './tiny_run';
import { expectSameWeights, weightsDiffer } from './weights';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-finetune-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** EasyNLP's files: the released model folder, entity2id.txt and the T2I TSVs. */
async function releasedFiles() {
  const vocab = buildCharVocab(CAPTIONS);
  const vqgan = tinyVqgan();
  const gpt = tinyGpt(vqgan, 'easynlp', vocab.size);
  const ours = path.join(tmp, 'ours');
  await vqgan.save(path.join(ours, 'vqgan'));
  await saveCheckpoint(path.join(ours, 'gpt'), {
    weights: gpt.variables,
    state: { step: 0 },
    metadata: { modelClass: 'KnowlGpt', gptConfig: gpt.config },
  });
  vqgan.dispose();
  gpt.dispose();
  const vocabFile = path.join(ours, 'vocab.txt');
  fs.writeFileSync(vocabFile, vocab.toText());
  const entities = ['狗脸', '苹果', '红色'];
  const table = Float32Array.from({ length: entities.length * 8 }, (_, i) => Math.cos(i));
  const released = path.join(tmp, 'pai-artist-tiny');
  await exportEasyNLP(ours, released, {
    vocab: vocabFile,
    entityVectors: { dtype: 'float32', shape: [entities.length, 8], data: table },
  });
  const entity2id = path.join(tmp, 'entity2id.txt');
  fs.writeFileSync(
    entity2id,
    `${entities.length}\n${entities.map((e, i) => `${e}\t${i}`).join('\n')}\n`,
  );
  const png = async (k: number) =>
    encodeBase64(
      await encodePng({
        data: Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 37 + k * 91) % 256),
        width: 8,
        height: 8,
        channels: 3,
      }),
    );
  const rows = async (n: number) =>
    (await Promise.all(CAPTIONS.slice(0, n).map(async (t, i) => `${i}\t${t}\t${await png(i)}`)))
      .join('\n')
      .concat('\n');
  const train = path.join(tmp, 'T2I_train.tsv');
  const val = path.join(tmp, 'T2I_val.tsv');
  const test = path.join(tmp, 'T2I_test.tsv');
  fs.writeFileSync(train, await rows(3));
  fs.writeFileSync(val, await rows(2));
  fs.writeFileSync(test, `t0\t${CAPTIONS[0]}\nt1\t${CAPTIONS[2]}\n`);
  return { released, entity2id, train, val, test, table };
}

function finetuneArgs(
  f: Awaited<ReturnType<typeof releasedFiles>>,
  init: string,
  name: string,
): string[] {
  return [
    'node',
    'artist-train',
    'finetune',
    '--init',
    init,
    '--train',
    f.train,
    '--val',
    f.val,
    '--test',
    f.test,
    '--vocab',
    path.join(f.released, 'vocab.txt'),
    '--entities',
    f.entity2id,
    '--entity-vectors',
    path.join(f.released, 'entity2vec.pt'),
    '--name',
    name,
    '--runs-dir',
    tmp,
    '--backend',
    'cpu',
    '--set',
    'data.size=8',
    '--set',
    'lattice.textLen=8',
    '--set',
    'finetune.importVqgan={"numGroups":2}',
    '--set',
    'gpt.train.batchSize=2',
    '--set',
    'gpt.checkpointEvery=2',
    '--set',
    'eval.sample.numSamples=2',
  ];
}

describe('artist-train finetune', () => {
  beforeAll(async () => {
    await initRuntime({ backend: 'cpu' });
  });

  it('released files -> fine-tuned run -> predictions -> export -> re-import equals', async () => {
    const f = await releasedFiles();
    const before = tf.memory().numTensors;
    const printed = await stdoutOf(() =>
      buildProgram().parseAsync(finetuneArgs(f, path.join(f.released, 'pytorch_model.bin'), 'ft')),
    );
    expect(printed).toContain(`run folder: ${path.join(tmp, 'ft')}`);
    const run = new RunFolder(path.join(tmp, 'ft'));
    // EasyNLP's defaults, with the test's sizes: 2 epochs of 3 examples at micro-batch 2 = 4 steps.
    const gpt = run.readMarker('gpt')!;
    expect(gpt.summary).toMatchObject({ steps: 4, examples: 3, fusion: 'easynlp' });
    expect(Number.isFinite(gpt.summary.valLoss as number)).toBe(true);
    const config = JSON.parse(fs.readFileSync(run.configFile, 'utf8'));
    expect(config.gpt.train).toMatchObject({ learningRate: 4e-5, seed: 42 });
    expect(await weightsDiffer(run.init.gpt, run.gpt.checkpoint)).toBe(true);
    // The VQGAN is the released one, frozen.
    await expectSameWeights(run.init.vqgan, run.vqgan.checkpoint);
    // Entity rows keep entity2id's ids: row 0 is EasyNLP's entity 0.
    const kg = await readEntityVectors(path.join(run.kg.vectors, 'entity_vectors.bin'));
    expect(Array.from(kg.vectors)).toEqual(Array.from(f.table));
    // Predictions in EasyNLP's schema: idx, text, gen_imgbase64, numSamples rows per text.
    const pred = await readTsv(run.eval.predictions, 'prediction');
    expect(pred.rows.map((r) => [r.idx, r.text, r.images.length])).toEqual([
      ['t0', CAPTIONS[0], 1],
      ['t0', CAPTIONS[0], 1],
      ['t1', CAPTIONS[2], 1],
      ['t1', CAPTIONS[2], 1],
    ]);
    expect(tf.memory().numTensors).toBe(before);

    // The same command again: every stage is up to date.
    const again = await stdoutOf(() =>
      buildProgram().parseAsync(finetuneArgs(f, path.join(f.released, 'pytorch_model.bin'), 'ft')),
    );
    expect(again).toContain('run folder:');
    expect(run.readMarker('gpt')!.finishedAt).toBe(gpt.finishedAt);

    // Export back to EasyNLP's files; importing them gives the fine-tuned weights bit for bit.
    const out = path.join(tmp, 'export');
    await stdoutOf(() =>
      buildProgram().parseAsync([
        'node',
        'artist-train',
        'export',
        '--run',
        run.root,
        '--output',
        out,
      ]),
    );
    const back = path.join(tmp, 'reimported');
    await importCheckpoint({
      from: path.join(out, 'pytorch_model.bin'),
      kind: 'artist',
      out: back,
      gpt: { textLen: 8 },
      vqgan: { resolution: 8, numGroups: 2 },
    });
    await expectSameWeights(run.gpt.checkpoint, path.join(back, 'gpt'));
    await expectSameWeights(run.vqgan.checkpoint, path.join(back, 'vqgan'));
    expect(fs.readFileSync(path.join(out, 'entity2vec.pt'))).toEqual(
      fs.readFileSync(path.join(f.released, 'entity2vec.pt')),
    );

    // An earlier run's folder as --init: continues from its fine-tuned weights.
    await stdoutOf(() => buildProgram().parseAsync(finetuneArgs(f, run.root, 'ft2')));
    const run2 = new RunFolder(path.join(tmp, 'ft2'));
    await expectSameWeights(run.gpt.checkpoint, run2.init.gpt);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("takes EasyNLP's knowledge TSVs as they are (no lattice matching)", async () => {
    const f = await releasedFiles();
    for (const split of ['train', 'val'] as const) {
      const knowl = path.join(tmp, `T2I_${split}.knowl.tsv`);
      await stdoutOf(() =>
        latticeCommand({
          input: f[split],
          entities: f.entity2id,
          output: knowl,
          vocab: path.join(f.released, 'vocab.txt'),
        }),
      );
      expect(fs.readFileSync(knowl, 'utf8').split('\n')[0].split('\t')).toHaveLength(7);
      f[split] = knowl;
    }
    await stdoutOf(() =>
      buildProgram().parseAsync(
        finetuneArgs(f, path.join(f.released, 'pytorch_model.bin'), 'ft-knowl'),
      ),
    );
    const run = new RunFolder(path.join(tmp, 'ft-knowl'));
    expect(run.readMarker('data')!.summary.train).toMatchObject({ format: 'knowledge', rows: 3 });
    expect(run.readMarker('lattice')!.summary).toMatchObject({ fromTsv: true });
    expect(fs.readFileSync(run.lattice.knowledgeTsv('train'))).toEqual(fs.readFileSync(f.train));
    expect(run.readMarker('gpt')!.summary).toMatchObject({ steps: 4, examples: 3 });
  });

  it('LoRA: only the adapted projections change, merged into a plain checkpoint', async () => {
    const f = await releasedFiles();
    const args = finetuneArgs(f, path.join(f.released, 'pytorch_model.bin'), 'ft-lora');
    args.push(
      '--set',
      'gpt.train.lora={"rank":2,"alpha":4}',
      '--set',
      'gpt.train.learningRate=0.01',
    );
    await stdoutOf(() => buildProgram().parseAsync(args));
    const run = new RunFolder(path.join(tmp, 'ft-lora'));
    const [init, tuned] = [
      await loadCheckpoint(run.init.gpt),
      await loadCheckpoint(run.gpt.checkpoint),
    ];
    try {
      // a plain checkpoint: the model's own names, no adapters
      expect(Object.keys(tuned.weights).sort()).toEqual(Object.keys(init.weights).sort());
      const same = (n: string) =>
        Buffer.from(init.weights[n].dataSync().buffer).equals(
          Buffer.from(tuned.weights[n].dataSync().buffer),
        );
      const changed = Object.keys(init.weights).filter((n) => !same(n));
      expect(changed.length).toBeGreaterThan(0);
      expect(
        changed.every((n) =>
          /^blocks\.\d+\.(attn\.(query|key|value|proj)|mlp\.[02])\.weight$/.test(n),
        ),
      ).toBe(true);
    } finally {
      tf.dispose([...Object.values(init.weights), ...Object.values(tuned.weights)]);
    }
    expect(fs.existsSync(run.eval.predictions)).toBe(true);
  });

  it('stopped in the gpt stage, the same command continues and ends where a straight run ends', async () => {
    const f = await releasedFiles();
    const config = (name: string) =>
      resolveConfig({
        preset: 'finetune',
        overrides: [
          `finetune.init=${path.join(f.released, 'pytorch_model.bin')}`,
          `finetune.train=${f.train}`,
          `finetune.val=${f.val}`,
          `finetune.entities=${f.entity2id}`,
          `finetune.entityVectors=${path.join(f.released, 'entity2vec.pt')}`,
          `lattice.vocab=${path.join(f.released, 'vocab.txt')}`,
          `name=${name}`,
          `runsDir=${tmp}`,
          'backend=cpu',
          'data.size=8',
          'lattice.textLen=8',
          'finetune.importVqgan={"numGroups":2}',
          'gpt.train.batchSize=2',
          'gpt.checkpointEvery=2',
        ],
      });
    const quiet = (onUpdate?: (stage: string, done: number) => void): ProgressView => {
      let stage = '';
      return {
        begin: (s) => {
          stage = s;
        },
        update: (done) => onUpdate?.(stage, done),
        end: () => {},
        log: () => {},
      };
    };
    const straight = await runPipeline(config('ft-straight'), { progress: quiet() });
    const ctl = new AbortController();
    await expect(
      runPipeline(config('ft-stopped'), {
        signal: ctl.signal,
        progress: quiet((stage, done) => {
          if (stage === 'gpt' && done >= 2) ctl.abort();
        }),
      }),
    ).rejects.toThrow(TrainingInterruptedError);
    const stopped = new RunFolder(path.join(tmp, 'ft-stopped'));
    expect(stopped.readMarker('gpt')).toBeNull();
    expect(resolveCheckpointDir(stopped.gpt.checkpoints)).toMatch(/step-0+2$/);
    const resumed = await runPipeline(config('ft-stopped'), { progress: quiet() });
    expect(resumed.markers.gpt.summary.steps).toBe(4);
    await expectSameWeights(straight.run.gpt.checkpoint, stopped.gpt.checkpoint);
  });

  it('names the bad row of a TSV before importing anything', async () => {
    const f = await releasedFiles();
    fs.appendFileSync(f.train, `9\t坏的\tnot*base64\n`);
    await expect(
      buildProgram().parseAsync(finetuneArgs(f, path.join(f.released, 'pytorch_model.bin'), 'bad')),
    ).rejects.toThrow(/T2I_train\.tsv:4:3/);
    expect(fs.existsSync(new RunFolder(path.join(tmp, 'bad')).init.dir)).toBe(false);
  });
});
