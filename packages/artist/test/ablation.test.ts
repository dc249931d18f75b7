/**
 * The ablation's aggregate over seeds, and the report's drawing helpers. Means and sample standard
 * deviations below are numpy's (`np.mean`, `np.std(ddof=1)`), committed as values.
 */
import {
  type AblationSummary,
  ablationRunResult,
  aggregateAblation,
  aggregateCeiling,
  aggregateHitsCeiling,
  formatAblationTable,
  formatSeconds,
  formatStat,
  hitRows,
  parseModes,
  parseSeeds,
  seedStat,
} from '../src/ablation';
import { downsampleMinMax, svgBarChart, svgLinePlot } from '../src/report_html';

/** An eval summary as the eval stage writes it for kg-shapes-zh. */
function evalSummary(
  overall: [number, number, number, number],
  byGroup: Record<string, [number, number, number, number]>,
  extra: Record<string, unknown> = {},
) {
  const s = ([images, h, c, sh]: [number, number, number, number]) => ({
    images,
    habitatAccuracy: h,
    colourAccuracy: c,
    shapeAccuracy: sh,
    allCorrect: 0,
    chance: { habitat: 0.25, colour: 0.125, shape: 0.125 },
  });
  return {
    captions: overall[0] / 2,
    imagesPerCaption: 2,
    ...extra,
    kgShapes: {
      overall: s(overall),
      byGroup: Object.fromEntries(Object.entries(byGroup).map(([g, v]) => [g, s(v)])),
    },
  };
}

describe('parseSeeds', () => {
  it('reads a count as seeds 1..n and a list as given', () => {
    expect(parseSeeds('1')).toEqual([1]);
    expect(parseSeeds('3')).toEqual([1, 2, 3]);
    expect(parseSeeds('7, 8,9')).toEqual([7, 8, 9]);
    expect(parseSeeds('0,5')).toEqual([0, 5]);
  });
  it('says what is expected on bad input', () => {
    for (const bad of ['x', '1,,2', '-1', '1.5'])
      expect(() => parseSeeds(bad)).toThrow(`a count (3) or a comma-separated list`);
    expect(() => parseSeeds('0')).toThrow("a count must be at least 1, got '0'");
    expect(() => parseSeeds('3,3')).toThrow("seeds must be distinct, got '3,3'");
  });
});

describe('formatSeconds', () => {
  it('rounds before splitting minutes and seconds', () => {
    expect(formatSeconds(52.34)).toBe('52.3 s');
    expect(formatSeconds(59.97)).toBe('1 min 0 s');
    expect(formatSeconds(659.6)).toBe('11 min 0 s');
    expect(formatSeconds(885)).toBe('14 min 45 s');
    expect(formatSeconds(2 * 3600 + 5 * 60 + 10)).toBe('2 h 5 min');
  });
});

describe('parseModes', () => {
  it('reads distinct fusion modes; names the allowed ones on bad input', () => {
    expect(parseModes('lattice, easynlp,none')).toEqual(['lattice', 'easynlp', 'none']);
    expect(() => parseModes('lattice,graph')).toThrow(
      "fusion modes are lattice, easynlp, none; got 'graph' in 'lattice,graph'",
    );
    expect(() => parseModes('none,none')).toThrow("fusion modes must be distinct, got 'none,none'");
  });
});

describe('seedStat', () => {
  it('mean, sample sd (n - 1), min, max over the numbers', () => {
    const s = seedStat([0.61, 0.58, 0.66]);
    expect(s.n).toBe(3);
    expect(s.mean).toBeCloseTo(0.6166666666666667, 12);
    expect(s.sd).toBeCloseTo(0.040414518843273836, 12);
    expect([s.min, s.max]).toEqual([0.58, 0.66]);
  });
  it('skips missing values; one value has no spread; none has no mean', () => {
    const s = seedStat([0.3, null, 0.7, undefined, Number.NaN]);
    expect(s.n).toBe(2);
    expect(s.mean).toBeCloseTo(0.5, 12);
    expect(s.sd).toBeCloseTo(0.282842712474619, 12);
    expect(seedStat([0.4])).toEqual({ n: 1, mean: 0.4, sd: null, min: 0.4, max: 0.4 });
    expect(seedStat([null])).toEqual({ n: 0, mean: null, sd: null, min: null, max: null });
  });
  it('formats mean ± sd, a bare mean, or a dash', () => {
    expect(formatStat(seedStat([0.5, 0.75, 0.625]))).toBe('0.625 ± 0.125');
    expect(formatStat(seedStat([0.4]))).toBe('0.400');
    expect(formatStat(seedStat([]))).toBe('-');
  });
});

describe('aggregateAblation', () => {
  // Two seeds x two modes; seed 2 of `none` has no FID and no `unseen-two` group.
  type Quad = [number, number, number, number];
  const result = (
    seed: number,
    fusion: string,
    valLoss: number,
    overall: Quad,
    byGroup: Record<string, Quad>,
    extra: Record<string, unknown> = {},
  ) =>
    ablationRunResult({
      seed,
      fusion,
      dir: `ablation/seed-${seed}/${fusion}`,
      seconds: 10,
      gpt: { valLoss },
      eval: evalSummary(overall, byGroup, extra),
    });
  const runs = [
    result(
      1,
      'lattice',
      1.234,
      [12, 0.5, 0.125, 0.25],
      { 'unseen-one': [4, 0.5, 0.25, 0.25], 'seen-one': [8, 0.5, 0.0625, 0.25] },
      { fid: 40.5, kid: 0.01 },
    ),
    result(
      2,
      'lattice',
      1.301,
      [12, 0.75, 0.25, 0.125],
      { 'unseen-one': [4, 0.75, 0.125, 0.25], 'seen-one': [8, 0.75, 0.3125, 0.0625] },
      { fid: 38.25, kid: 0.03 },
    ),
    result(
      1,
      'none',
      1.187,
      [12, 0.3, 0.125, 0.125],
      { 'unseen-two': [2, 0.5, 0, 0], 'seen-one': [10, 0.26, 0.15, 0.15] },
      { fid: 50 },
    ),
    result(2, 'none', 1.25, [10, 0.7, 0.25, 0.125], { 'seen-one': [10, 0.7, 0.25, 0.125] }),
  ];
  const stats = aggregateAblation(runs, ['lattice', 'none']);

  it('keeps what each run measured', () => {
    expect(runs[0]).toEqual({
      seed: 1,
      fusion: 'lattice',
      dir: 'ablation/seed-1/lattice',
      valLoss: 1.234,
      fid: 40.5,
      kid: 0.01,
      imagesPerCaption: 2,
      seconds: 10,
      groups: {
        all: { images: 12, habitat: 0.5, colour: 0.125, shape: 0.25 },
        'unseen-one': { images: 4, habitat: 0.5, colour: 0.25, shape: 0.25 },
        'seen-one': { images: 8, habitat: 0.5, colour: 0.0625, shape: 0.25 },
      },
      guidance: [],
      hits: {},
      hitsCeiling: {},
      ceiling: {},
    });
    expect(runs[3].fid).toBeNull();
    expect(runs[3].kid).toBeNull();
  });

  it('per mode: val loss, FID and KID over seeds', () => {
    expect(stats.map((m) => [m.fusion, m.runs])).toEqual([
      ['lattice', 2],
      ['none', 2],
    ]);
    const [lattice, none] = stats;
    expect(lattice.valLoss.mean).toBeCloseTo(1.2675, 12);
    expect(lattice.fid.mean).toBeCloseTo(39.375, 12);
    expect(lattice.fid.sd).toBeCloseTo(1.590990257669732, 12);
    expect(lattice.kid.n).toBe(2);
    expect(none.fid).toEqual({ n: 1, mean: 50, sd: null, min: 50, max: 50 });
    expect(none.kid.n).toBe(0);
  });

  it('per group (all first, then by name), with captions and the seeds that have the group', () => {
    const [lattice, none] = stats;
    expect(lattice.groups.map((g) => [g.group, g.captions, g.images])).toEqual([
      ['all', 6, 12],
      ['seen-one', 4, 8],
      ['unseen-one', 2, 4],
    ]);
    const all = lattice.groups[0];
    expect(all.habitat.mean).toBeCloseTo(0.625, 12);
    expect(all.habitat.sd).toBeCloseTo(0.1767766952966369, 12);
    expect(all.colour.mean).toBeCloseTo(0.1875, 12);
    expect(all.colour.sd).toBeCloseTo(0.08838834764831845, 12);
    expect(lattice.groups[1].colour.mean).toBeCloseTo(0.1875, 12);
    const unseenTwo = none.groups.find((g) => g.group === 'unseen-two')!;
    expect(unseenTwo.habitat).toEqual({ n: 1, mean: 0.5, sd: null, min: 0.5, max: 0.5 });
    expect(none.groups[0].habitat.mean).toBeCloseTo(0.5, 12);
    expect(none.groups[0].habitat.sd).toBeCloseTo(0.282842712474619, 12);
  });

  it('a run without kg-shapes scores has no groups', () => {
    const plain = ablationRunResult({
      seed: 1,
      fusion: 'none',
      dir: 'x',
      seconds: 1,
      gpt: { valLoss: 2 },
      eval: { fid: 3, imagesPerCaption: 1 },
    });
    expect(plain.groups).toEqual({});
    expect(aggregateAblation([plain], ['none'])[0].groups).toEqual([]);
  });

  it('knowledge guidance: per scale (ascending) over the seeds that measured it', () => {
    const sweep = (scales: Array<[number, Quad]>) => ({
      knowledgeGuidance: {
        guidanceScale: 1,
        scales: scales.map(([scale, [images, h, c, sh]]) => ({
          knowledgeGuidanceScale: scale,
          overall: { images, habitatAccuracy: h, colourAccuracy: c, shapeAccuracy: sh },
          byGroup: {},
        })),
      },
    });
    const guided = [
      result(
        1,
        'lattice',
        1,
        [4, 0.5, 0.5, 0.5],
        {},
        sweep([
          [3, [4, 1, 0.75, 0.5]],
          [2, [4, 0.5, 0.5, 0.25]],
        ]),
      ),
      result(2, 'lattice', 1, [4, 0.5, 0.5, 0.5], {}, sweep([[3, [4, 0.5, 0.25, 0.5]]])),
    ];
    expect(guided[0].guidance.map((g) => g.scale)).toEqual([3, 2]);
    const [m] = aggregateAblation(guided, ['lattice']);
    expect(m.guidance.map((g) => g.scale)).toEqual([2, 3]);
    const three = m.guidance[1].groups[0];
    expect(three.group).toBe('all');
    expect(three.habitat.n).toBe(2);
    expect(three.colour.mean).toBeCloseTo(0.5, 12);
    expect(three.colour.sd).toBeCloseTo(Math.SQRT1_2 / 2, 12);
    expect(m.guidance[0].groups[0].shape).toEqual({
      n: 1,
      mean: 0.25,
      sd: null,
      min: 0.25,
      max: 0.25,
    });
    const text = formatAblationTable({
      seeds: [1, 2],
      modes: ['lattice'],
      dataSeed: 1,
      spread: 'sd',
      wallSeconds: 1,
      stageSeconds: 1,
      runs: guided,
      byMode: [m],
      ceiling: [],
    });
    expect(text).toContain('knowledge-aware guidance');
    expect(text).toMatch(/lattice\s+3\s+all\s+0\.750 ± 0\.354\s+0\.500 ± 0\.354\s+0\.500 ± 0\.000/);
    expect(stats[0].guidance).toEqual([]);
  });

  it('emoji-zh keyword hits: all first, then the groups, over the seeds', () => {
    const hit = (images: number, hit1: number, hit5: number, sub: number) => ({
      images,
      hit1,
      hit5,
      hitTop1Percent: hit5,
      rankPercentile: 0.75,
      subgroupHit1: sub,
      gallery: 100,
      chance: { hit1: 0.01, hit5: 0.05 },
    });
    const emoji = (seed: number, h1: number, fusion = 'lattice') =>
      ablationRunResult({
        seed,
        fusion,
        dir: 'x',
        seconds: 1,
        gpt: { valLoss: 1 },
        eval: {
          imagesPerCaption: 1,
          emojiHits: {
            overall: hit(10, h1, 0.5, 0.5),
            byGroup: { 'unseen-keyword': hit(8, h1, 0.5, 0.25), 'unseen-emoji': hit(2, 0, 0, 1) },
          },
          // reconstructions of the real images: the same in every mode of a seed
          emojiHitsReconstructions: { overall: hit(10, seed / 4, 1, 1), byGroup: {} },
        },
      });
    const runs2 = [emoji(1, 0.25), emoji(2, 0.75)];
    // the VQGAN's ceiling counts one run per seed (seed 1's 'none' run shares its VQGAN)
    const ceiling = aggregateHitsCeiling([...runs2, emoji(1, 0, 'none')]);
    expect(ceiling.map((h) => [h.group, h.images, h.hit1.n, h.hit1.mean])).toEqual([
      ['all', 10, 2, 0.375],
    ]);
    expect(runs2[0].hits['unseen-keyword']).toEqual({
      images: 8,
      hit1: 0.25,
      hit5: 0.5,
      hitTop1Percent: 0.5,
      rankPercentile: 0.75,
      subgroupHit1: 0.25,
    });
    expect(runs2[0].groups).toEqual({});
    const [m] = aggregateAblation(runs2, ['lattice']);
    expect(m.hits.map((h) => [h.group, h.images])).toEqual([
      ['all', 10],
      ['unseen-emoji', 2],
      ['unseen-keyword', 8],
    ]);
    expect(m.hits[0].hit1.mean).toBeCloseTo(0.5, 12);
    expect(m.hits[0].hit1.sd).toBeCloseTo(Math.SQRT1_2 / 2, 12);
    // as an ablation.json written before the ceiling was aggregated (no hitsCeiling) has it
    const older = {
      seeds: [1, 2],
      modes: ['lattice'],
      dataSeed: 1,
      spread: 'sd',
      wallSeconds: 1,
      stageSeconds: 1,
      runs: runs2,
      byMode: [m],
      ceiling: [],
    };
    const text = formatAblationTable({ ...older, hitsCeiling: ceiling });
    expect(text).toMatch(
      /lattice\s+unseen-keyword\s+8\s+0\.500 ± 0\.354\s+0\.500 ± 0\.000\s+0\.500 ± 0\.000\s+0\.750 ± 0\.000\s+0\.250 ± 0\.000/,
    );
    expect(text).toMatch(/VQGAN reconstructions \(ceiling\)\s+all\s+10\s+0\.375 ± 0\.177\s+1\.000/);
    // and that older summary still reads: the modes' rows, no ceiling rows
    expect(hitRows(older).map((r) => r[0])).toEqual(['lattice', 'lattice', 'lattice']);
  });

  it('VQGAN ceiling: one run per seed, shown as its own rows', () => {
    const rec = (seed: number, fusion: string, colour: number) =>
      ablationRunResult({
        seed,
        fusion,
        dir: 'x',
        seconds: 1,
        gpt: { valLoss: 1 },
        eval: {
          imagesPerCaption: 1,
          kgShapesReconstructions: {
            overall: { images: 4, habitatAccuracy: 1, colourAccuracy: colour, shapeAccuracy: 1 },
            byGroup: {},
          },
        },
      });
    // seed 1's two modes share a VQGAN: counted once
    const c = aggregateCeiling([rec(1, 'lattice', 0.5), rec(1, 'none', 0.5), rec(2, 'lattice', 1)]);
    expect(c.map((g) => [g.group, g.colour.n, g.colour.mean])).toEqual([['all', 2, 0.75]]);
    expect(aggregateCeiling(runs)).toEqual([]);
  });

  it('prints one table per mode and one per (mode, group)', () => {
    const summary: AblationSummary = {
      seeds: [1, 2],
      modes: ['lattice', 'none'],
      dataSeed: 1234,
      spread: 'sd',
      wallSeconds: 885,
      stageSeconds: 39,
      runs,
      byMode: stats,
      ceiling: aggregateCeiling(runs),
    };
    const text = formatAblationTable(summary);
    expect(text).toContain('seeds 1, 2');
    expect(text).toMatch(/lattice\s+2\s+1\.268 ± 0\.047\s+39\.38 ± 1\.59/);
    expect(text).toMatch(/none\s+unseen-two\s+1\s+0\.500\s+0\.000\s+0\.000/);
    expect(text).toContain('wall time 14 min 45 s');
  });
});

describe('report drawing', () => {
  it('downsampleMinMax keeps each pixel column envelope, in x order', () => {
    const pts: [number, number][] = Array.from({ length: 100_000 }, (_, i) => [
      i,
      Math.sin(i / 50) + (i === 31_337 ? 5 : 0),
    ]);
    const cols = (p: [number, number]) => Math.floor(p[0] / 250); // 400 columns
    const out = downsampleMinMax(pts, cols, (p) => p[1]);
    expect(out.length).toBeLessThanOrEqual(800);
    expect(out.some((p) => p[0] === 31_337)).toBe(true);
    for (let i = 1; i < out.length; i++) expect(out[i][0]).toBeGreaterThan(out[i - 1][0]);
    const one: [number, number][] = [[3, 1]];
    expect(downsampleMinMax(one, cols, (p) => p[1])).toEqual(one);
  });

  it('a line plot of 100 k points draws a few hundred; one point draws a dot', () => {
    const many = svgLinePlot(
      [{ name: 'val loss', points: Array.from({ length: 100_000 }, (_, i) => [i, 1 / (i + 1)]) }],
      { title: 't' },
    );
    const pts = /points="([^"]*)"/.exec(many)![1].split(' ');
    expect(pts.length).toBeLessThanOrEqual(2 * 520);
    expect(pts.length).toBeGreaterThan(100);
    const one = svgLinePlot([{ name: 'val loss', points: [[200, 3.5]] }], { title: 't' });
    expect(one).toContain('<circle');
  });

  it('bar chart: one bar per series and group, error bars, escaped CJK labels', () => {
    const svg = svgBarChart(
      [
        { label: '一只X <unseen>', bars: [{ value: 0.5, lo: 0.4, hi: 0.6 }, { value: 0.25 }] },
        { label: '两只X', bars: [{ value: null }, { value: 1 }] },
      ],
      { title: 'colour accuracy', series: ['lattice', 'none'], max: 1 },
    );
    expect(svg).toContain('一只X &#60;unseen&#62;');
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(3);
    expect(svg.match(/stroke="#222"/g)).toHaveLength(1);
    expect(svgBarChart([], { title: 't', series: ['a'] })).toBe('');
  });
});
