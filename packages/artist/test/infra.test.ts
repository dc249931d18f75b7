import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TrainingInterruptedError } from '@artist-ts/core/train-loop';
import { resolveConfig } from '../src/config';
import {
  ConfigError,
  canonicalJson,
  hashConfig,
  mergeConfig,
  parseOverride,
} from '../src/config_tree';
import { omitWhileDefault, runStages, type Stage, throwIfAborted } from '../src/pipeline';
import { formatDuration, LineProgress, type ProgressView, TensorWatch } from '../src/progress';
import { htmlPage, htmlTable, svgLinePlot } from '../src/report_html';
import { RunFolder } from '../src/run_folder';
import { dataStage } from '../src/stages/data';
import { evalStage } from '../src/stages/eval';
import { gptStage } from '../src/stages/gpt';
import { kgStage, readKgFolder } from '../src/stages/kg';
import { kgNeighbours, latticeStage } from '../src/stages/lattice';
import { vqganStage } from '../src/stages/vqgan';

const defaults = {
  name: 'demo',
  seed: 1,
  gpt: { nLayer: 2, fusion: 'lattice', lr: 0.001, dims: [1, 2] },
  data: { limit: null },
};

describe('config trees', () => {
  it('merges user values over defaults', () => {
    const c = mergeConfig(defaults, { gpt: { nLayer: 4 }, data: { limit: 50 } });
    expect(c.gpt).toEqual({ nLayer: 4, fusion: 'lattice', lr: 0.001, dims: [1, 2] });
    expect(c.data.limit).toBe(50);
    expect(defaults.gpt.nLayer).toBe(2);
  });

  it('names unknown keys with a suggestion, and wrong kinds', () => {
    expect(() => mergeConfig(defaults, { gpt: { nLayr: 4 } }, 'run.json')).toThrow(
      "run.json: config field 'gpt.nLayr': unknown key (did you mean 'nLayer'?)",
    );
    expect(() => mergeConfig(defaults, { gpt: { lr: '0.1' } })).toThrow(
      'config field \'gpt.lr\': must be number, got string "0.1"',
    );
    expect(() => mergeConfig(defaults, { gpt: 3 })).toThrow(ConfigError);
  });

  it('parses dotted overrides as JSON or strings', () => {
    expect(parseOverride('gpt.nLayer=4')).toEqual({ gpt: { nLayer: 4 } });
    expect(parseOverride('gpt.fusion=none')).toEqual({ gpt: { fusion: 'none' } });
    expect(parseOverride('gpt.dims=[3,4]')).toEqual({ gpt: { dims: [3, 4] } });
    expect(() => parseOverride('gpt.nLayer')).toThrow(/section.key=value/);
    const merged = mergeConfig(
      mergeConfig(defaults, parseOverride('gpt.nLayer=4')),
      parseOverride('gpt.lr=0.1'),
    );
    expect([merged.gpt.nLayer, merged.gpt.lr]).toEqual([4, 0.1]);
  });

  it('hashes configs independently of key order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
    expect(hashConfig({ a: 1, b: 2 })).toBe(hashConfig({ b: 2, a: 1 }));
    expect(hashConfig({ a: 1 })).not.toBe(hashConfig({ a: 2 }));
  });
});

function silent(): ProgressView {
  return { begin() {}, update() {}, end() {}, log() {} };
}

describe('config slices of options added later', () => {
  it('leave a field out while it holds its default, keep it otherwise', () => {
    const o = { a: 1, b: 0, c: 'x' };
    expect(omitWhileDefault(o, { b: 0 })).toEqual({ a: 1, c: 'x' });
    expect(omitWhileDefault({ ...o, b: 2 }, { b: 0 })).toEqual({ a: 1, b: 2, c: 'x' });
    expect(o).toEqual({ a: 1, b: 0, c: 'x' });
  });

  it('keep the stage hashes of runs made before neighbours, relations, epoch order, attribute and fact dropout, compositional sampling, VQGAN recompute', () => {
    const c = resolveConfig({ preset: 'demo' });
    const json = (v: unknown) => canonicalJson(v);
    const { neighbours, relations, ...lattice } = c.lattice;
    expect([neighbours, relations]).toEqual([0, null]);
    expect(json(latticeStage.configSlice(c))).toBe(json(lattice));
    const { epochOrder, blockBytes, ...kg } = c.kg;
    expect([epochOrder, blockBytes]).toEqual(['auto', 1024 * 1024]);
    expect(json(kgStage.configSlice(c))).toBe(json(kg));
    const { attributeDropout, factDropout, ...train } = c.gpt.train;
    expect([attributeDropout, factDropout]).toEqual([0, 0]);
    expect(json(gptStage.configSlice(c))).toBe(
      json({ gpt: { ...c.gpt, train }, textLen: c.lattice.textLen }),
    );
    const { composeScale, ...sample } = c.eval.sample;
    expect(composeScale).toBeNull();
    expect(json(evalStage.configSlice(c))).toBe(json({ ...c.eval, sample }));
    const { recompute, ...vqTrain } = c.vqgan.train;
    expect(recompute).toBe(false);
    expect(json(vqganStage.configSlice(c))).toBe(
      json({ vqgan: { ...c.vqgan, train: vqTrain }, size: c.data.size }),
    );
    // Set, they count.
    const set = resolveConfig({
      preset: 'demo',
      overrides: [
        'lattice.neighbours=4',
        'lattice.relations=["形状是"]',
        'kg.epochOrder=shuffled',
        'gpt.train.attributeDropout=0.3',
        'gpt.train.factDropout=0.5',
        'eval.sample.composeScale=1',
        'vqgan.train.recompute=true',
      ],
    });
    expect(vqganStage.configSlice(set)).toMatchObject({ vqgan: { train: { recompute: true } } });
    expect(latticeStage.configSlice(set)).toMatchObject({ neighbours: 4, relations: ['形状是'] });
    expect(gptStage.configSlice(set)).toMatchObject({ gpt: { train: { factDropout: 0.5 } } });
    expect(evalStage.configSlice(set)).toMatchObject({ sample: { composeScale: 1 } });
    expect(kgStage.configSlice(set)).toMatchObject({ epochOrder: 'shuffled' });
    expect(gptStage.configSlice(set)).toMatchObject({ gpt: { train: { attributeDropout: 0.3 } } });
  });
});

describe('knowledge expansion', () => {
  it('follows only the named relations, in fact order, and names an unknown one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-kg-relations-'));
    fs.writeFileSync(
      path.join(dir, 'triples.tsv'),
      ['甲\t颜色是\t红色', '甲\t天敌是\t乙', '甲\t形状是\t圆形', '乙\t颜色是\t蓝色', ''].join('\n'),
    );
    const names = (await readKgFolder(dir)).entities;
    const byName = async (relations: string[] | null) => {
      const table = await kgNeighbours(dir, 4, relations);
      return Object.fromEntries(
        [...table].map(([h, list]) => [names[Number(h)], list.map((t) => names[Number(t)])]),
      );
    };
    expect(await byName(null)).toEqual({ 甲: ['红色', '乙', '圆形'], 乙: ['蓝色'] });
    expect(await byName(['形状是', '颜色是'])).toEqual({ 甲: ['红色', '圆形'], 乙: ['蓝色'] });
    await expect(kgNeighbours(dir, 4, ['生活在'])).rejects.toThrow(
      /lattice.relations.*"生活在" is not a relation of .* \(it has 颜色是, 天敌是, 形状是\)/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('stages and run folders', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-trainer-test-'));
  });

  function makeStages(
    counter: Record<string, number>,
    abortAt?: { stage: string; ctl: AbortController },
  ) {
    const mk = (name: string, after: string[]): Stage<{ a: number; b: number }> => ({
      name,
      after,
      configSlice: (c) => (name === 'one' ? c.a : c.b),
      async run(ctx) {
        counter[name] = (counter[name] ?? 0) + 1;
        fs.writeFileSync(path.join(ctx.run.stageDir(name), 'out.txt'), name);
        ctx.metrics([{ stage: name, name: 'loss', step: 1, value: 0.5 }]);
        if (abortAt?.stage === name) abortAt.ctl.abort();
        throwIfAborted(ctx.signal, name);
        return { ok: true };
      },
    });
    return [mk('one', []), mk('two', ['one'])];
  }

  it('skips unchanged stages and reruns a stage and its dependents when config changes', async () => {
    const run = new RunFolder(dir);
    const counter: Record<string, number> = {};
    const ctx = { run, signal: new AbortController().signal, progress: silent() };
    await runStages({ ...ctx, config: { a: 1, b: 1 } }, { stages: makeStages(counter) });
    await runStages({ ...ctx, config: { a: 1, b: 1 } }, { stages: makeStages(counter) });
    expect(counter).toEqual({ one: 1, two: 1 });
    await runStages({ ...ctx, config: { a: 2, b: 1 } }, { stages: makeStages(counter) });
    expect(counter).toEqual({ one: 2, two: 2 });
    await runStages({ ...ctx, config: { a: 2, b: 3 } }, { stages: makeStages(counter) });
    expect(counter).toEqual({ one: 2, two: 3 });
    expect(run.readMarker('two')?.summary).toEqual({ ok: true });
  });

  it('an aborted stage is not marked done and runs again next time', async () => {
    const run = new RunFolder(dir);
    const counter: Record<string, number> = {};
    const ctl = new AbortController();
    await expect(
      runStages(
        { run, signal: ctl.signal, progress: silent(), config: { a: 1, b: 1 } },
        { stages: makeStages(counter, { stage: 'two', ctl }) },
      ),
    ).rejects.toThrow(new TrainingInterruptedError("stage 'two'"));
    expect(run.readMarker('one')).not.toBeNull();
    expect(run.readMarker('two')).toBeNull();
    await runStages(
      { run, signal: new AbortController().signal, progress: silent(), config: { a: 1, b: 1 } },
      { stages: makeStages(counter) },
    );
    expect(counter).toEqual({ one: 1, two: 2 });
  });

  it('the kg stage refuses an unknown lattice.relations before TransE trains', async () => {
    const run = new RunFolder(dir);
    const config = resolveConfig({
      preset: 'demo',
      overrides: [
        'data.dataset=kg-shapes-zh',
        'data.limit=4',
        'lattice.relations=["生活在","住在"]',
      ],
    });
    await expect(
      runStages(
        { run, signal: new AbortController().signal, progress: silent(), config },
        { stages: [dataStage, kgStage] },
      ),
    ).rejects.toThrow(/lattice.relations.*"住在" is not a relation of .*kg \(it has .*生活在/);
    expect(run.readMarker('data')).not.toBeNull();
    expect(fs.existsSync(run.kg.checkpoints)).toBe(false);
  });

  it('refuses a stage whose dependency never ran', async () => {
    const run = new RunFolder(dir);
    await expect(
      runStages(
        { run, signal: new AbortController().signal, progress: silent(), config: { a: 1, b: 1 } },
        { stages: makeStages({}), only: ['two'] },
      ),
    ).rejects.toThrow("stage 'two' needs stage 'one' to have run first");
  });

  it('metrics keep the last value per step and survive a torn last line', () => {
    const run = new RunFolder(dir);
    run.appendMetrics([
      { stage: 'gpt', name: 'loss', step: 1, value: 3 },
      { stage: 'gpt', name: 'loss', step: 2, value: 2.5 },
    ]);
    run.appendMetrics([{ stage: 'gpt', name: 'loss', step: 2, value: 2.4 }]);
    fs.appendFileSync(run.metricsFile, '{"stage":"gpt","na');
    expect(run.readMetrics().map((m) => [m.step, m.value])).toEqual([
      [1, 3],
      [2, 2.4],
    ]);
  });
});

describe('progress', () => {
  it('prints plain lines at most every interval, with rate and ETA', () => {
    const lines: string[] = [];
    let t = 0;
    const p = new LineProgress({ write: (l) => lines.push(l), intervalMs: 1000, now: () => t });
    p.begin('gpt', 10, 'steps');
    for (let i = 1; i <= 10; i++) {
      t += 400;
      p.update(i, { loss: 1 / i, tensors: 120 });
    }
    p.end('done');
    expect(lines[0]).toBe('[gpt] 1/10 steps (10%) loss=1 tensors=120 2.50 steps/s ETA 4s');
    expect(lines.length).toBeLessThan(8);
    expect(lines[lines.length - 2]).toMatch(/^\[gpt\] 10\/10 steps \(100%\)/);
    expect(lines[lines.length - 1]).toBe('[gpt] done');
    expect(formatDuration(3725)).toBe('1h02m');
  });

  it('flags a tensor count that grows every step', () => {
    const w = new TensorWatch(2);
    const steady = [100, 140, 150, 150, 151, 150, 150, 150];
    expect(steady.map((n) => w.sample(n)).filter(Boolean)).toEqual([]);
    const leak = new TensorWatch(0);
    const msgs = [10, 11, 12, 13, 14].map((n) => leak.sample(n));
    expect(msgs[4]).toMatch(/grows every step: 10 -> 11 -> 12 -> 13 -> 14/);
  });
});

describe('report html', () => {
  it('draws an SVG polyline per series and escapes text', () => {
    const svg = svgLinePlot(
      [
        {
          name: 'train <loss>',
          points: [
            [0, 3],
            [1, 2],
            [2, 1],
          ],
        },
        {
          name: 'val',
          points: [
            [0, 3.5],
            [2, 1.5],
          ],
        },
      ],
      { title: 'GPT loss', xLabel: 'step' },
    );
    expect(svg.match(/<polyline/g)?.length).toBe(2);
    expect(svg.match(/<circle/g)?.length).toBe(5); // markers on sparse series
    expect(svgLinePlot([{ name: 'once', points: [[10, 2]] }], { title: 'one point' })).toContain(
      '<circle',
    );
    expect(svg).toContain('train &#60;loss&#62;');
    expect(svgLinePlot([], { title: 'x' })).toBe('');
    const page = htmlPage('run demo', [
      { title: 'Metrics', html: htmlTable(['k', 'v'], [['fid', 12.3456789]]) },
    ]);
    expect(page).toContain('<td>12.3457</td>');
    expect(page.startsWith('<!doctype html>')).toBe(true);
  });
});
