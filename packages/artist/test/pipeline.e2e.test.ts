/**
 * End to end on real data: emoji-zh (a small subset), every stage with micro models, then a run
 * stopped in the middle of the gpt stage and started again, which must end exactly where an
 * uninterrupted run ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TrainingInterruptedError } from '@artist-ts/core/train-loop';
import { initRuntime, type RuntimeInfo } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { runPipeline } from '../src/app';
import { resolveConfig, type TrainerConfig } from '../src/config';
import { Generator } from '../src/generator';
import type { ProgressView } from '../src/progress';
import { MICRO } from './micro_config';

function microJson(runsDir: string, name: string, gpt = MICRO.gpt) {
  return { ...MICRO, gpt, name, runsDir };
}

function microConfig(runsDir: string, name: string, gpt = MICRO.gpt): TrainerConfig {
  return resolveConfig({
    preset: 'demo',
    file: { path: 'micro.json', json: microJson(runsDir, name, gpt) },
  });
}

/** The stages before gpt are deterministic and tested by the first case: copy them from `full`. */
async function copyStagesBeforeGpt(runsDir: string, to: string): Promise<void> {
  for (const s of ['data', 'kg', 'lattice', 'vqgan', 'encode']) {
    await fs.promises.cp(path.join(runsDir, 'full', s), path.join(runsDir, to, s), {
      recursive: true,
    });
  }
}

function latestWeights(runDir: string): Buffer {
  const root = path.join(runDir, 'gpt', 'checkpoint');
  const latest = fs.readFileSync(path.join(root, 'latest'), 'utf8').trim();
  return fs.readFileSync(path.join(root, latest, 'weights.bin'));
}

/** `artist-train run --config <file>` in a child process, from the TypeScript sources. */
function spawnCli(configFile: string): ChildProcess {
  return spawn(
    process.execPath,
    [
      '-r',
      require.resolve('ts-node/register/transpile-only'),
      path.join(__dirname, '..', 'src', 'train_cli.ts'),
      'run',
      '--config',
      configFile,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TS_NODE_PROJECT: '' } },
  );
}

interface Exit {
  code: number | null;
  signal: string | null;
  /** stdout and stderr, interleaved as they came. */
  output: string;
}

/** Resolves when the child exits, with everything it printed. */
function exitOf(child: ChildProcess): Promise<Exit> {
  let output = '';
  const take = (d: Buffer) => {
    output += String(d);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, output })),
  );
}

/**
 * Spawns `artist-train run --config <file>`, sends SIGINT (Ctrl-C) once `when(output so far)`
 * holds, and resolves with how the child exited (or how it ended on its own, if it never held).
 */
async function interruptWhen(configFile: string, when: (output: string) => boolean): Promise<Exit> {
  const child = spawnCli(configFile);
  let output = '';
  const take = (d: Buffer) => {
    output += String(d);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const exited = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, output })),
  );
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  while (alive && !when(output)) await new Promise((r) => setTimeout(r, 5));
  if (alive) child.kill('SIGINT');
  return exited;
}

/** A progress view that records lines, and aborts when a stage reaches a given step. */
function recorder(abort?: { stage: string; at: number; ctl: AbortController }) {
  const lines: string[] = [];
  let stage = '';
  const view: ProgressView = {
    begin: (s) => {
      stage = s;
    },
    update: (done) => {
      if (abort && stage === abort.stage && done >= abort.at) abort.ctl.abort();
    },
    end: () => {},
    log: (m) => lines.push(m),
  };
  return { view, lines };
}

// Minutes on an idle 2-core machine; generous for a loaded one.
jest.setTimeout(15 * 60 * 1000);

describe('artist-train pipeline (micro, emoji-zh subset)', () => {
  let runsDir: string;
  let runtime: RuntimeInfo;
  beforeAll(async () => {
    runtime = await initRuntime({ backend: 'cpu' });
    runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-e2e-'));
  });

  it('runs every stage, writes the report, skips everything on a second run', async () => {
    const config = microConfig(runsDir, 'full');
    const first = recorder();
    const tensorsBefore = tf.memory().numTensors;
    const r = await runPipeline(config, { progress: first.view, runtime, argv: [] });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    for (const s of ['data', 'kg', 'lattice', 'vqgan', 'encode', 'gpt', 'eval']) {
      expect(r.markers[s]).toBeDefined();
    }
    const run = r.run;
    for (const f of [
      'config.json',
      'metrics.jsonl',
      'data/train.tsv',
      'kg/vectors/entity_vectors.bin',
      'lattice/vocab.txt',
      'lattice/test.knowl.tsv',
      'vqgan/checkpoint/latest',
      'encode/codes/train/index.json',
      'gpt/checkpoint/latest',
      'eval/predictions.tsv',
      'eval/metrics.json',
      'report.html',
    ]) {
      expect(fs.existsSync(path.join(run.root, f))).toBe(true);
    }
    const preds = fs.readFileSync(run.eval.predictions, 'utf8').trim().split('\n');
    expect(preds).toHaveLength(3);
    // Evaluation and generation share one text path: the Generator on the same captions with the
    // eval's sampling options makes exactly the images the eval stage wrote.
    const rows = preds.map((l) => l.split('\t'));
    const generator = await Generator.load(run.root);
    try {
      const { numSamples, ...sample } = config.eval.sample;
      const images = await generator.generate(
        rows.map((r) => r[1]),
        { ...sample, numImages: numSamples, format: 'png' },
      );
      expect(images.map((i) => Buffer.from(i.png).toString('base64'))).toEqual(
        rows.map((r) => r[2]),
      );
    } finally {
      generator.dispose();
    }
    // Training captions too (eval.trainCaptions): the first ones of the train split.
    const train = fs.readFileSync(run.eval.trainPredictions, 'utf8').trim().split('\n');
    const trainTexts = fs.readFileSync(run.data.split('train'), 'utf8').split('\n').slice(0, 2);
    expect(train.map((l) => l.split('\t')[1])).toEqual(trainTexts.map((l) => l.split('\t')[1]));
    const html = fs.readFileSync(run.reportFile, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('data:image/png;base64,');
    expect(html).toContain('Training captions: reference and generated');
    expect(html).toContain('Held-out captions: reference and generated');
    const again = recorder();
    await runPipeline(config, { progress: again.view, runtime, argv: [] });
    expect(again.lines.filter((l) => l.includes('up to date'))).toHaveLength(7);
  });

  it('stopped mid-gpt and run again, ends with the same model and samples as an uninterrupted run', async () => {
    const full = microConfig(runsDir, 'full');
    const config = microConfig(runsDir, 'resumed');
    await copyStagesBeforeGpt(runsDir, 'resumed');
    const ctl = new AbortController();
    const stopped = recorder({ stage: 'gpt', at: 3, ctl });
    const err = await runPipeline(config, {
      progress: stopped.view,
      runtime,
      signal: ctl.signal,
      argv: [],
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as Error).message).toBe(
      "stage 'gpt' stopped: run the same command again to continue",
    );
    expect(err).toBeInstanceOf(TrainingInterruptedError);
    const resumedDir = path.join(runsDir, 'resumed');
    expect(fs.existsSync(path.join(resumedDir, 'gpt', 'DONE.json'))).toBe(false);
    expect(fs.existsSync(path.join(resumedDir, 'gpt', 'checkpoints', 'latest'))).toBe(true);
    const r = await runPipeline(config, { progress: recorder().view, runtime, argv: [] });
    const fullGpt = JSON.parse(
      fs.readFileSync(path.join(runsDir, 'full', 'gpt', 'DONE.json'), 'utf8'),
    );
    expect(r.markers.gpt.summary.valLoss).toBe(fullGpt.summary.valLoss);
    expect(r.markers.gpt.summary.steps).toBe(full.gpt.train.totalSteps);
    const a = fs.readFileSync(path.join(runsDir, 'full', 'eval', 'predictions.tsv'), 'utf8');
    const b = fs.readFileSync(path.join(resumedDir, 'eval', 'predictions.tsv'), 'utf8');
    expect(b).toBe(a);
    expect(
      Buffer.compare(latestWeights(path.join(runsDir, 'full')), latestWeights(resumedDir)),
    ).toBe(0);
  });

  it('killed with SIGKILL mid-gpt, the same command run again ends as an uninterrupted run', async () => {
    // Longer gpt so that the kill lands after a checkpoint and well before the end.
    const gpt = { ...MICRO.gpt, train: { ...MICRO.gpt.train, totalSteps: 40 }, checkpointEvery: 3 };
    await copyStagesBeforeGpt(runsDir, 'killed');
    await copyStagesBeforeGpt(runsDir, 'straight');
    const killedDir = path.join(runsDir, 'killed');
    const configFile = path.join(runsDir, 'killed.json');
    fs.writeFileSync(configFile, JSON.stringify(microJson(runsDir, 'killed', gpt)));

    const child = spawnCli(configFile);
    const exited = exitOf(child);
    let alive = true;
    void exited.then(() => {
      alive = false;
    });
    // Kill at the first sight of a second checkpoint: possibly in the middle of writing a third.
    const checkpoints = path.join(killedDir, 'gpt', 'checkpoints');
    while (alive && !(fs.existsSync(checkpoints) && fs.readdirSync(checkpoints).length >= 2)) {
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    const killed = await exited;
    expect({ signal: killed.signal, output: killed.output }).toEqual({
      signal: 'SIGKILL',
      output: killed.output,
    });
    expect(fs.existsSync(path.join(killedDir, 'gpt', 'DONE.json'))).toBe(false);

    const again = await exitOf(spawnCli(configFile));
    expect({ code: again.code, output: again.output }).toEqual({ code: 0, output: again.output });
    expect(again.output).toMatch(/gpt: resuming from \S*step-0*[1-9]/);

    const r = await runPipeline(microConfig(runsDir, 'straight', gpt), {
      progress: recorder().view,
      runtime,
      argv: [],
    });
    const killedGpt = JSON.parse(fs.readFileSync(path.join(killedDir, 'gpt', 'DONE.json'), 'utf8'));
    expect(killedGpt.summary.valLoss).toBe(r.markers.gpt.summary.valLoss);
    expect(Buffer.compare(latestWeights(killedDir), latestWeights(r.run.root))).toBe(0);
    const a = fs.readFileSync(path.join(r.run.root, 'eval', 'predictions.tsv'), 'utf8');
    const b = fs.readFileSync(path.join(killedDir, 'eval', 'predictions.tsv'), 'utf8');
    expect(b).toBe(a);
  });
  it('Ctrl-C mid-gpt and mid-eval exits 130 with "run the same command again"; the same command continues', async () => {
    // Longer gpt (stopped after a checkpoint) and a slower eval (one image per forward pass).
    const gpt = { ...MICRO.gpt, train: { ...MICRO.gpt.train, totalSteps: 40 }, checkpointEvery: 3 };
    const evalCfg = {
      ...MICRO.eval,
      maxCaptions: 12,
      sample: { batchSize: 1, topK: 8, numSamples: 4 },
    };
    await copyStagesBeforeGpt(runsDir, 'ctrlc');
    const dir = path.join(runsDir, 'ctrlc');
    const configFile = path.join(runsDir, 'ctrlc.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({ ...microJson(runsDir, 'ctrlc', gpt), eval: evalCfg }),
    );
    const checkpoints = path.join(dir, 'gpt', 'checkpoints');

    const inGpt = await interruptWhen(
      configFile,
      () => fs.existsSync(checkpoints) && fs.readdirSync(checkpoints).length >= 1,
    );
    expect({ code: inGpt.code, output: inGpt.output }).toEqual({
      code: 130,
      output: expect.stringContaining(
        "stage 'gpt' stopped: run the same command again to continue",
      ),
    });
    expect(fs.existsSync(path.join(dir, 'gpt', 'DONE.json'))).toBe(false);

    const inEval = await interruptWhen(configFile, (out) => out.includes('[eval] running'));
    expect({ code: inEval.code, output: inEval.output }).toEqual({
      code: 130,
      output: expect.stringContaining(
        "stage 'eval' stopped: run the same command again to continue",
      ),
    });
    expect(inEval.output).toMatch(/gpt: resuming from \S*step-0*[1-9]/);
    expect(inEval.output).not.toMatch(/aborted/);
    expect(fs.existsSync(path.join(dir, 'gpt', 'DONE.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'eval', 'DONE.json'))).toBe(false);

    const again = await exitOf(spawnCli(configFile));
    expect({ code: again.code, output: again.output }).toEqual({ code: 0, output: again.output });
    expect(again.output).toContain('[gpt] up to date');
    const preds = fs.readFileSync(path.join(dir, 'eval', 'predictions.tsv'), 'utf8').trim();
    expect(preds.split('\n')).toHaveLength(12 * 4);
  });
});
