/**
 * The knowledge ablation end to end on kg-shapes-zh (a small subset, micro models): 2 seeds x 2
 * fusion modes, stopped in the middle of the second seed and run again, which continues where it
 * stopped (the first seed is not recomputed) and writes ablation.json and the report.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TrainingInterruptedError } from '@artist-ts/core/train-loop';
import { initRuntime, type RuntimeInfo } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import type { AblationSummary } from '../src/ablation';
import { runAblation } from '../src/app';
import { resolveConfig } from '../src/config';
import { Generator } from '../src/generator';
import type { ProgressView } from '../src/progress';
import { RunFolder, type StageMarker } from '../src/run_folder';
import { readExamples } from '../src/stages/gpt';
import { MICRO } from './micro_config';

/**
 * The pipeline tests' micro settings, on kg-shapes-zh, with a shorter VQGAN; with the knowledge
 * options on (one-hop expansion, independent knowledge dropout, a knowledge guidance sweep).
 */
const ABLATION_MICRO = {
  ...MICRO,
  seed: 1,
  data: { dataset: 'kg-shapes-zh', limit: 12 },
  // colour, shape and the distractor enemy (not habitat): the relation filter is visible
  lattice: { neighbours: 3, relations: ['颜色是', '形状是', '天敌是'] },
  vqgan: { ...MICRO.vqgan, steps: 4, checkpointEvery: 2 },
  gpt: {
    ...MICRO.gpt,
    train: {
      ...MICRO.gpt.train,
      textDropout: 0.3,
      knowledgeDropout: 0.3,
      attributeDropout: 0.2,
      factDropout: 0.3,
    },
  },
  eval: {
    ...MICRO.eval,
    maxCaptions: 4,
    reconstructions: 2,
    sample: { batchSize: 4, topK: 8 },
    knowledgeGuidance: [2],
  },
};

/** Records log lines; aborts when the `nth` gpt stage to start reaches step `at`. */
function recorder(abort?: { nth: number; at: number; ctl: AbortController }) {
  const lines: string[] = [];
  let stage = '';
  let gptRuns = 0;
  const view: ProgressView = {
    begin: (s) => {
      stage = s;
      if (s === 'gpt') gptRuns++;
    },
    update: (done) => {
      if (abort && stage === 'gpt' && gptRuns === abort.nth && done >= abort.at) abort.ctl.abort();
    },
    end: () => {},
    log: (m) => lines.push(m),
  };
  return { view, lines };
}

function marker(dir: string, stage: string): StageMarker {
  return JSON.parse(fs.readFileSync(path.join(dir, stage, 'DONE.json'), 'utf8')) as StageMarker;
}

// Minutes on a loaded 2-core machine.
jest.setTimeout(15 * 60 * 1000);

describe('artist-train ablation (micro, kg-shapes-zh subset)', () => {
  let runtime: RuntimeInfo;
  let runsDir: string;
  beforeAll(async () => {
    runtime = await initRuntime({ backend: 'cpu' });
    runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-ablation-'));
  });
  afterAll(() => fs.rmSync(runsDir, { recursive: true, force: true }));

  it('2 seeds x 2 modes: stopped in seed 2, the same call continues; ablation.json and report', async () => {
    const config = resolveConfig({
      preset: 'demo',
      file: { path: 'micro.json', json: { ...ABLATION_MICRO, name: 'abl', runsDir } },
    });
    const root = path.join(runsDir, 'abl');
    const seed1 = root; // the config's own seed: its shared stages are the run's
    const seed2 = path.join(root, 'ablation', 'seed-2', 'shared');
    const mode = (s: number, m: string) => path.join(root, 'ablation', `seed-${s}`, m);
    const tensorsBefore = tf.memory().numTensors;

    // Stop seed 2's first fusion mode (the third gpt stage) after a checkpoint.
    const ctl = new AbortController();
    const stopped = recorder({ nth: 3, at: 3, ctl });
    const err = await runAblation(config, ['lattice', 'none'], {
      seeds: [1, 2],
      signal: ctl.signal,
      progress: stopped.view,
      runtime,
      argv: [],
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrainingInterruptedError);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    for (const m of ['lattice', 'none'])
      expect(fs.existsSync(path.join(mode(1, m), 'eval', 'DONE.json'))).toBe(true);
    expect(fs.existsSync(path.join(mode(2, 'lattice'), 'gpt', 'DONE.json'))).toBe(false);
    expect(fs.existsSync(path.join(mode(2, 'lattice'), 'gpt', 'checkpoints', 'latest'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'ablation.json'))).toBe(false);

    const again = recorder();
    const { summary, report } = await runAblation(config, ['lattice', 'none'], {
      seeds: [1, 2],
      progress: again.view,
      runtime,
      argv: [],
    });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    // Nothing finished is recomputed: only seed 2's two gpt and eval stages run.
    expect(again.lines.filter((l) => / running \(/.test(l))).toEqual([
      '[gpt] running (not run yet)',
      '[eval] running (not run yet)',
      '[gpt] running (not run yet)',
      '[eval] running (not run yet)',
    ]);
    expect(again.lines.some((l) => /gpt: resuming from .*seed-2.lattice/.test(l))).toBe(true);

    // Each seed is its own repetition on the same data.
    expect(fs.readFileSync(path.join(seed2, 'data', 'test.tsv'))).toEqual(
      fs.readFileSync(path.join(seed1, 'data', 'test.tsv')),
    );
    expect(marker(seed2, 'vqgan').inputHash).not.toBe(marker(seed1, 'vqgan').inputHash);
    expect(marker(seed2, 'kg').inputHash).not.toBe(marker(seed1, 'kg').inputHash);
    const cfg2 = JSON.parse(fs.readFileSync(path.join(mode(2, 'none'), 'config.json'), 'utf8'));
    expect([cfg2.seed, cfg2.kg.seed, cfg2.gpt.train.seed, cfg2.eval.sample.seed]).toEqual([
      2, 2, 2, 2,
    ]);
    expect(cfg2.gpt.model.fusion).toBe('none');

    // ablation.json: what the CLI returned, and its means are those of the markers' values.
    const file = JSON.parse(
      fs.readFileSync(path.join(root, 'ablation.json'), 'utf8'),
    ) as AblationSummary;
    expect(file).toEqual(summary);
    expect(summary.seeds).toEqual([1, 2]);
    expect(summary.runs.map((r) => [r.seed, r.fusion, r.dir])).toEqual([
      [1, 'lattice', path.join('ablation', 'seed-1', 'lattice')],
      [1, 'none', path.join('ablation', 'seed-1', 'none')],
      [2, 'lattice', path.join('ablation', 'seed-2', 'lattice')],
      [2, 'none', path.join('ablation', 'seed-2', 'none')],
    ]);
    for (const [k, m] of ['lattice', 'none'].entries()) {
      const stats = summary.byMode[k];
      expect(stats.fusion).toBe(m);
      const evals = [1, 2].map((s) => marker(mode(s, m), 'eval').summary);
      const kgs = evals.map(
        (e) => (e.kgShapes as { overall: { habitatAccuracy: number; images: number } }).overall,
      );
      const all = stats.groups[0];
      expect(all.group).toBe('all');
      expect(all.images).toBe(kgs[0].images);
      expect(all.captions).toBe(4);
      expect(all.habitat.n).toBe(2);
      expect(all.habitat.mean).toBeCloseTo((kgs[0].habitatAccuracy + kgs[1].habitatAccuracy) / 2);
      const losses = [1, 2].map((s) => marker(mode(s, m), 'gpt').summary.valLoss as number);
      expect(stats.valLoss.mean).toBeCloseTo((losses[0] + losses[1]) / 2);
      expect(stats.valLoss.sd).toBeCloseTo(Math.abs(losses[0] - losses[1]) / Math.SQRT2);
      expect(stats.groups.length).toBeGreaterThan(1);
    }
    expect(summary.wallSeconds).toBeGreaterThan(0);
    expect(summary.stageSeconds).toBeGreaterThan(0);
    // Knowledge guidance is measured where there is knowledge; the VQGAN's ceiling everywhere.
    expect(summary.byMode[0].guidance.map((g) => [g.scale, g.groups[0].habitat.n])).toEqual([
      [2, 2],
    ]);
    expect(summary.byMode[1].guidance).toEqual([]);
    const ev1 = marker(mode(1, 'lattice'), 'eval').summary;
    expect(ev1.kgShapesReconstructions).toMatchObject({ overall: { images: 2 } });
    expect(summary.ceiling.map((g) => [g.group, g.habitat.n])[0]).toEqual(['all', 2]);
    // One-hop expansion: the lattice stage keeps the table, and the knowledge TSV has more
    // entities than matches (each creature brings its colour, shape and habitat).
    const nb = fs
      .readFileSync(path.join(seed1, 'lattice', 'neighbours.tsv'), 'utf8')
      .trim()
      .split('\n');
    expect(nb.length).toBe(64); // every creature has facts
    // ids: creatures 0-63, colours 64-71, shapes 72-79, habitats 80-83; the relation filter keeps
    // colour, shape and enemy, in fact order
    for (const line of nb) {
      const [, list] = line.split('\t');
      const [colour, shape, enemy] = list.split(' ').map(Number);
      expect([colour >= 64 && colour < 72, shape >= 72 && shape < 80, enemy < 64]).toEqual([
        true,
        true,
        true,
      ]);
    }
    const knowl = fs
      .readFileSync(path.join(seed1, 'lattice', 'test.knowl.tsv'), 'utf8')
      .split('\n')[0]
      .split('\t');
    expect(knowl[2].split(' ').length).toBe(4 * (knowl[1].includes('左边') ? 2 : 1));
    // The GPT's examples know which entries are matches (1 or 2 creatures) and which attached.
    const { examples } = await readExamples(new RunFolder(mode(1, 'lattice')), 'train');
    expect(examples.length).toBeGreaterThan(0);
    for (const ex of examples) {
      expect([1, 2]).toContain(ex.matchedEntities);
      expect(ex.lattice!.lexIds.length).toBe(4 * ex.matchedEntities!);
    }
    // ... and generation expands a caption the same way.
    const gen = await Generator.load(mode(1, 'lattice'));
    const encoded = gen.encodeTexts([knowl[1]])[0];
    expect(encoded.lattice!.lexIds).toEqual(knowl[2].split(' '));
    expect(encoded.matched).toBe(knowl[1].includes('左边') ? 2 : 1);
    // compositional sampling (one condition per attached fact) runs through the generator
    const [composed] = await gen.generate([knowl[1]], { composeScale: 1, seed: 2, topK: 8 });
    const [plain] = await gen.generate([knowl[1]], { seed: 2, topK: 8 });
    expect(composed.pixels.length).toBe(plain.pixels.length);
    gen.dispose();

    // The validation curve has a point per checkpoint, not one.
    const metrics = fs
      .readFileSync(path.join(mode(2, 'lattice'), 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { stage: string; name: string; step: number });
    const valSteps = new Set(
      metrics.filter((m) => m.stage === 'gpt' && m.name === 'val_loss').map((m) => m.step),
    );
    // (plus the step the stop wrote its checkpoint at)
    expect([...valSteps]).toEqual(expect.arrayContaining([2, 4, 6]));

    const html = fs.readFileSync(report, 'utf8');
    expect(report).toBe(path.join(root, 'report.html'));
    expect(html).toContain('Knowledge ablation');
    expect(html).toContain('GPT validation loss over training');
    expect(html).toContain('colour accuracy');
    expect(html).toContain('scorer render');
    const caption = fs.readFileSync(path.join(seed1, 'data', 'test.tsv'), 'utf8').split('\t')[1];
    expect(html).toContain(caption);

    // The same command again: nothing runs.
    const third = recorder();
    await runAblation(config, ['lattice', 'none'], {
      seeds: [1, 2],
      progress: third.view,
      runtime,
      argv: [],
    });
    expect(third.lines.filter((l) => / running \(/.test(l))).toEqual([]);

    // Other data: the repetition's copy of it is replaced, and what depends on it re-runs.
    const fewer = resolveConfig({
      preset: 'demo',
      file: {
        path: 'micro.json',
        json: {
          ...ABLATION_MICRO,
          data: { ...ABLATION_MICRO.data, limit: 8 },
          name: 'abl',
          runsDir,
        },
      },
    });
    const fourth = recorder();
    await runAblation(fewer, ['none'], { seeds: [2], progress: fourth.view, runtime, argv: [] });
    expect(fs.readFileSync(path.join(seed2, 'data', 'test.tsv'))).toEqual(
      fs.readFileSync(path.join(seed1, 'data', 'test.tsv')),
    );
    expect(marker(seed2, 'data').inputHash).toBe(marker(seed1, 'data').inputHash);
    expect(fourth.lines.filter((l) => / running \(/.test(l))).toEqual([
      '[data] running (inputs or config changed)',
      '[kg] running (inputs or config changed)',
      '[lattice] running (inputs or config changed)',
      '[vqgan] running (inputs or config changed)',
      '[encode] running (inputs or config changed)',
      '[gpt] running (inputs or config changed)',
      '[eval] running (inputs or config changed)',
    ]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
