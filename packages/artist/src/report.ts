/**
 * `<run>/report.html`: one self-contained page (inline SVG plots, images as data URIs) with the
 * loss curves of every stage, TransE metrics, codebook health, reconstructions beside originals,
 * generated images beside the reference for each held-out caption, and FID/KID with their
 * protocol fingerprints.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@artist-ts/core/files';
import { loadKgShapesWorld, parseCaption, renderScene } from '@artist-ts/datasets/kg-shapes';
import { pngOf, readSplitImages, TsvReader } from '@artist-ts/lattice-data';
import {
  type AblationSummary,
  CEILING_LABEL,
  formatSeconds,
  formatStat,
  guidanceRows,
  HIT_COLUMNS,
  hitRows,
  SPREAD_NOTE,
} from './ablation';
import {
  escapeHtml,
  htmlPage,
  htmlTable,
  type ImageCell,
  imageGrid,
  pngDataUri,
  type Series,
  svgBarChart,
  svgLinePlot,
} from './report_html';
import { type MetricRecord, RunFolder } from './run_folder';
import { STAGE_NAMES } from './run_layout';

function series(metrics: MetricRecord[], stage: string, name: string, label = name): Series {
  return {
    name: label,
    points: metrics
      .filter((m) => m.stage === stage && m.name === name)
      .map((m) => [m.step, m.value]),
  };
}

function plots(items: string[]): string {
  const drawn = items.filter(Boolean);
  return drawn.length
    ? `<div class="plots">${drawn.join('')}</div>`
    : '<p class="note">No metrics recorded.</p>';
}

/** The reference image of each caption: the kg-shapes-zh scorer's render when the data has a world. */
function referenceRenderer(dataDir: string, size: number) {
  if (!fs.existsSync(path.join(dataDir, 'world.json'))) return null;
  const world = loadKgShapesWorld(dataDir);
  return async (caption: string): Promise<Uint8Array | null> => {
    try {
      return await pngOf(renderScene(world, parseCaption(world, caption), size).data, 0, size);
    } catch {
      return null; // a caption outside the three templates: no render
    }
  };
}

/** The first image generated for each caption index, in a run's predictions.tsv. */
async function firstImages(predictions: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!fs.existsSync(predictions)) return out;
  for await (const row of new TsvReader(predictions, 'prediction'))
    if (!out.has(row.idx) && row.images.length > 0) out.set(row.idx, row.images[0]);
  return out;
}

const ATTRIBUTES = [
  ['habitat', 'habitat accuracy'],
  ['colour', 'colour accuracy'],
  ['shape', 'shape accuracy'],
] as const;

/** The ablation's section: aggregate tables, bars per attribute, val-loss curves, image grid. */
/** What the emoji-zh keyword-hit columns mean. */
const HIT_NOTE =
  "Each image against every emoji picture of the dataset (2x2-averaged RGB distance): its caption's emoji is the nearest (hit@1), among the 5 nearest (hit@5) or the nearest 1 % (hit@1%); rank pct.: the share of pictures farther than the caption's emoji (0.5 is chance); subgroup hit@1: the nearest is of the caption emoji's CLDR subgroup.";

/**
 * One row per caption of `predictions` (up to `maxRows`, in the split's order): the split's real
 * image, then every generated one. Null when either file is missing.
 */
async function referenceGrid(
  predictions: string,
  splitTsv: string,
  size: number,
  maxRows: number,
): Promise<string | null> {
  if (!fs.existsSync(predictions) || !fs.existsSync(splitTsv)) return null;
  const byIdx = new Map<string, string[]>();
  for await (const row of new TsvReader(predictions, 'prediction')) {
    const list = byIdx.get(row.idx) ?? [];
    list.push(...row.images);
    byIdx.set(row.idx, list);
    if (byIdx.size > maxRows) break;
  }
  const real = await readSplitImages(splitTsv, size, maxRows);
  const rows: { label: string; cells: ImageCell[] }[] = [];
  for (let i = 0; i < real.count && rows.length < maxRows; i++) {
    const gen = byIdx.get(real.idx[i]);
    if (!gen) continue;
    rows.push({
      label: real.texts[i],
      cells: [
        { src: pngDataUri(await pngOf(real.pixels, i, size)), caption: 'reference' },
        ...gen.map((b64, j) => ({
          src: `data:image/png;base64,${b64}`,
          caption: `sample ${j + 1}`,
        })),
      ],
    });
  }
  return imageGrid(rows, 72);
}

async function ablationSection(
  run: RunFolder,
  summary: AblationSummary,
  size: number,
  maxRows: number,
): Promise<string> {
  const note =
    `Seeds ${summary.seeds.join(', ')} (data built once, seed ${summary.dataSeed}); ` +
    `values are mean ± ${SPREAD_NOTE}. Wall time ${formatSeconds(summary.wallSeconds)} ` +
    `(the command that finished it), stage time ${formatSeconds(summary.stageSeconds)} (all repetitions).`;
  let html = `<p class="note">${escapeHtml(note)}</p>`;
  html += htmlTable(
    ['fusion', 'runs', 'val loss', 'FID', 'KID'],
    summary.byMode.map((m) => [
      m.fusion,
      m.runs,
      formatStat(m.valLoss),
      formatStat(m.fid, 2),
      formatStat(m.kid, 4),
    ]),
  );
  const groupNames = [...new Set(summary.byMode.flatMap((m) => m.groups.map((g) => g.group)))];
  if (groupNames.length > 0) {
    html +=
      '<h3>kg-shapes-zh scores per group</h3>' +
      htmlTable(
        ['fusion', 'group', 'captions', 'habitat acc.', 'colour acc.', 'shape acc.'],
        [
          ...summary.byMode.flatMap((m) => m.groups.map((g) => ({ label: m.fusion, g }))),
          ...(summary.ceiling ?? []).map((g) => ({ label: CEILING_LABEL, g })),
        ].map(({ label, g }) => [
          label,
          g.group,
          g.captions ?? '',
          formatStat(g.habitat),
          formatStat(g.colour),
          formatStat(g.shape),
        ]),
      );
    html += plots(
      ATTRIBUTES.map(([key, title]) =>
        svgBarChart(
          groupNames.map((group) => ({
            label: group,
            bars: summary.byMode.map((m) => {
              const st = m.groups.find((g) => g.group === group)?.[key];
              const sd = st?.sd ?? null;
              const mean = st?.mean ?? null;
              return mean === null || sd === null
                ? { value: mean }
                : { value: mean, lo: mean - sd, hi: mean + sd };
            }),
          })),
          {
            title,
            series: summary.modes,
            max: 1,
            note: summary.seeds.length > 1 ? 'bars: mean; lines: ± 1 sd' : 'one seed',
          },
        ),
      ),
    );
  }
  const hits = hitRows(summary);
  if (hits.length > 0) {
    html +=
      `<h3>emoji-zh keyword hit</h3><p class="note">${HIT_NOTE}</p>` +
      htmlTable(['fusion', 'group', 'images', ...HIT_COLUMNS], hits);
  }
  const guided = guidanceRows(summary);
  if (guided.length > 0) {
    html +=
      '<h3>Knowledge-aware guidance</h3><p class="note">logits = u + s_text (c_text − u) + s_kg (c_text+kg − c_text), s_text as eval.sample.guidanceScale; s_kg = none is the table above.</p>' +
      htmlTable(['fusion', 's_kg', 'group', 'habitat acc.', 'colour acc.', 'shape acc.'], guided);
  }
  // Validation loss over training, one curve per (mode, seed).
  html += plots([
    svgLinePlot(
      summary.runs.map((r) => ({
        name: `${r.fusion} seed ${r.seed}`,
        points: new RunFolder(path.join(run.root, r.dir))
          .readMetrics()
          .filter((m) => m.stage === 'gpt' && m.name === 'val_loss')
          .map((m) => [m.step, m.value] as [number, number]),
      })),
      { title: 'GPT validation loss over training', xLabel: 'step' },
    ),
  ]);
  // Held-out captions: the reference, and each mode's first image for the first seed.
  const testTsv = run.data.split('test');
  if (fs.existsSync(testTsv)) {
    const first = summary.seeds[0];
    const perMode = await Promise.all(
      summary.modes.map(async (mode) => {
        const r = summary.runs.find((x) => x.seed === first && x.fusion === mode);
        return r
          ? firstImages(new RunFolder(path.join(run.root, r.dir)).eval.predictions)
          : new Map<string, string>();
      }),
    );
    const render = referenceRenderer(run.data.dir, size);
    const real = await readSplitImages(testTsv, size, maxRows);
    const rows: { label: string; cells: ImageCell[] }[] = [];
    for (let i = 0; i < real.count; i++) {
      if (!perMode.some((m) => m.has(real.idx[i]))) continue;
      const ref = render ? await render(real.texts[i]) : await pngOf(real.pixels, i, size);
      const cells: ImageCell[] = ref
        ? [{ src: pngDataUri(ref), caption: render ? 'scorer render' : 'reference' }]
        : [];
      summary.modes.forEach((mode, k) => {
        const b64 = perMode[k].get(real.idx[i]);
        if (b64) cells.push({ src: `data:image/png;base64,${b64}`, caption: mode });
      });
      rows.push({ label: real.texts[i], cells });
    }
    if (rows.length > 0)
      html += `<h3>Held-out captions (seed ${first}): reference, then one image per fusion mode</h3>${imageGrid(rows, 72)}`;
  }
  return html;
}

export async function writeReport(
  run: RunFolder,
  options: { title?: string; maxRows?: number } = {},
): Promise<string> {
  const metrics = run.readMetrics();
  const config = run.readResolvedConfig() as { name?: string; data?: { size?: number } } | null;
  const size = config?.data?.size ?? 32;
  const sections: { title: string; html: string }[] = [];
  const markers = STAGE_NAMES.map((s) => run.readMarker(s));
  sections.push({
    title: 'Stages',
    html: htmlTable(
      ['stage', 'status', 'seconds', 'finished'],
      STAGE_NAMES.map((s, i) => {
        const m = markers[i];
        return [s, m ? 'done' : 'not run', m ? m.seconds.toFixed(1) : '', m ? m.finishedAt : ''];
      }),
    ),
  });
  const data = run.readMarker('data');
  if (data)
    sections.push({
      title: 'Data',
      html: `<pre>${escapeHtml(JSON.stringify(data.summary, null, 2))}</pre>`,
    });

  const kg = run.readMarker('kg');
  sections.push({
    title: 'Knowledge graph embeddings (TransE)',
    html:
      plots([
        svgLinePlot([series(metrics, 'kg', 'loss')], {
          title: 'TransE loss per positive',
          xLabel: 'epoch',
        }),
      ]) +
      (kg
        ? htmlTable(
            ['entities', 'relations', 'triples', 'probe', 'MRR', 'Hits@1', 'Hits@10', 'MR'],
            [
              [
                kg.summary.entities as number,
                kg.summary.relations as number,
                kg.summary.triples as number,
                String(kg.summary.probe),
                kg.summary.mrr as number,
                kg.summary.hits1 as number,
                kg.summary.hits10 as number,
                kg.summary.mr as number,
              ],
            ],
          ) + '<p class="note">Filtered link prediction, realistic tie ranks.</p>'
        : ''),
  });

  const vq = run.readMarker('vqgan');
  let vqHtml = plots([
    svgLinePlot([series(metrics, 'vqgan', 'loss'), series(metrics, 'vqgan', 'l1')], {
      title: 'VQGAN losses',
      xLabel: 'step',
    }),
    svgLinePlot([series(metrics, 'vqgan', 'codebook_usage', 'usage')], {
      title: 'Codebook usage (fraction of codes used per epoch)',
      xLabel: 'step',
    }),
    svgLinePlot([series(metrics, 'vqgan', 'perplexity')], {
      title: 'Codebook perplexity',
      xLabel: 'step',
    }),
  ]);
  if (vq) {
    vqHtml += htmlTable(
      [
        'steps',
        'parameters',
        'val PSNR (dB)',
        'codebook size',
        'usage (last epoch)',
        'perplexity (last epoch)',
        'usage (val images)',
        'perplexity (val images)',
      ],
      [
        [
          vq.summary.steps as number,
          vq.summary.parameters as number,
          (vq.summary.valPsnr as number) ?? '',
          vq.summary.codebookSize as number,
          (vq.summary.usage as number) ?? 'no full epoch',
          (vq.summary.perplexity as number) ?? '',
          (vq.summary.valUsage as number) ?? '',
          (vq.summary.valPerplexity as number) ?? '',
        ],
      ],
    );
  }
  const recFile = run.eval.reconstructions;
  const testTsv = run.data.split('test');
  if (fs.existsSync(recFile) && fs.existsSync(testTsv)) {
    const rec = new Uint8Array(fs.readFileSync(recFile));
    const per = size * size * 3;
    const n = Math.min(12, rec.length / per);
    const real = await readSplitImages(testTsv, size, n);
    const orig: ImageCell[] = [];
    const recon: ImageCell[] = [];
    for (let i = 0; i < n; i++) {
      orig.push({ src: pngDataUri(await pngOf(real.pixels, i, size)), caption: real.texts[i] });
      recon.push({ src: pngDataUri(await pngOf(rec, i, size)), caption: 'reconstruction' });
    }
    vqHtml += imageGrid(
      [
        { label: 'original', cells: orig },
        { label: 'VQGAN', cells: recon },
      ],
      72,
    );
  }
  sections.push({ title: 'Image tokenizer (VQGAN)', html: vqHtml });

  const gpt = run.readMarker('gpt');
  sections.push({
    title: 'Text-to-codes transformer (GPT-knowl)',
    html:
      plots([
        svgLinePlot(
          [
            series(metrics, 'gpt', 'loss', 'train loss'),
            series(metrics, 'gpt', 'val_loss', 'val loss'),
          ],
          { title: 'GPT cross-entropy of image codes', xLabel: 'step' },
        ),
        svgLinePlot([series(metrics, 'gpt', 'lr')], { title: 'Learning rate', xLabel: 'step' }),
      ]) +
      (gpt
        ? htmlTable(
            ['steps', 'parameters', 'fusion', 'val loss'],
            [
              [
                gpt.summary.steps as number,
                gpt.summary.parameters as number,
                String(gpt.summary.fusion),
                gpt.summary.valLoss as number,
              ],
            ],
          )
        : ''),
  });

  const ev = run.readMarker('eval');
  if (ev) {
    const s = ev.summary as Record<string, unknown>;
    let html = '';
    if (s.fid !== undefined) {
      html += htmlTable(
        ['metric', 'value'],
        [
          ['FID (generated vs real test images)', s.fid as number],
          ['KID', (s.kid as number) ?? ''],
          ['FID of VQGAN reconstructions (upper bound)', (s.reconstructionFid as number) ?? ''],
          ['image tokens sampled per second', s.tokensPerSecond as number],
        ],
      );
      const lines = [
        ...((s.fidSummary as string[]) ?? []),
        ...((s.reconstructionSummary as string[]) ?? []),
      ];
      html += `<p class="note">Protocol fingerprints:</p><pre>${escapeHtml(lines.join('\n'))}</pre>`;
    } else {
      html += '<p class="note">FID/KID not computed (extractor off or too few images).</p>';
    }
    const kgs = s.kgShapes as
      | { overall: Record<string, number>; byGroup: Record<string, Record<string, number>> }
      | undefined;
    if (kgs) {
      const rows: (string | number)[][] = [
        [
          'all',
          kgs.overall.images,
          kgs.overall.habitatAccuracy,
          kgs.overall.colourAccuracy,
          kgs.overall.shapeAccuracy,
        ],
      ];
      for (const [g, v] of Object.entries(kgs.byGroup))
        rows.push([g, v.images, v.habitatAccuracy, v.colourAccuracy, v.shapeAccuracy]);
      const rec = s.kgShapesReconstructions as typeof kgs | undefined;
      if (rec) {
        const o = rec.overall;
        rows.push([
          `${CEILING_LABEL}, all`,
          o.images,
          o.habitatAccuracy,
          o.colourAccuracy,
          o.shapeAccuracy,
        ]);
      }
      const sweep = s.knowledgeGuidance as
        | { scales: Array<{ knowledgeGuidanceScale: number; overall: Record<string, number> }> }
        | undefined;
      for (const g of sweep?.scales ?? []) {
        const o = g.overall;
        rows.push([
          `s_kg = ${g.knowledgeGuidanceScale}, all`,
          o.images,
          o.habitatAccuracy,
          o.colourAccuracy,
          o.shapeAccuracy,
        ]);
      }
      html +=
        '<h3>kg-shapes-zh scores</h3>' +
        htmlTable(['group', 'images', 'habitat', 'colour', 'shape'], rows);
    }
    const hits = s.emojiHits as
      | { overall: Record<string, number>; byGroup: Record<string, Record<string, number>> }
      | undefined;
    if (hits) {
      const row = (g: string, v: Record<string, number>) => [
        g,
        v.images,
        v.hit1,
        v.hit5,
        v.hitTop1Percent ?? '',
        v.rankPercentile ?? '',
        v.subgroupHit1,
      ];
      const rows = [
        row('all', hits.overall),
        ...Object.entries(hits.byGroup).map(([g, v]) => row(g, v)),
      ];
      const rec = s.emojiHitsReconstructions as typeof hits | undefined;
      if (rec) rows.push(row(`${CEILING_LABEL}, all`, rec.overall));
      html +=
        `<h3>emoji-zh keyword hit (${hits.overall.gallery} pictures)</h3><p class="note">${HIT_NOTE}</p>` +
        htmlTable(['group', 'images', ...HIT_COLUMNS], rows);
    }
    sections.push({ title: 'Evaluation', html });
    const maxRows = options.maxRows ?? 24;
    const trainGrid = await referenceGrid(
      run.eval.trainPredictions,
      run.data.split('train'),
      size,
      Math.min(maxRows, 12),
    );
    if (trainGrid) {
      sections.push({ title: 'Training captions: reference and generated', html: trainGrid });
    }
    const heldOut = await referenceGrid(run.eval.predictions, testTsv, size, maxRows);
    if (heldOut) {
      sections.push({ title: 'Held-out captions: reference and generated', html: heldOut });
    }
  }
  if (fs.existsSync(run.ablationFile)) {
    const summary = JSON.parse(fs.readFileSync(run.ablationFile, 'utf8')) as AblationSummary;
    sections.push({
      title: 'Knowledge ablation',
      html: await ablationSection(run, summary, size, options.maxRows ?? 24),
    });
  }
  sections.push({
    title: 'Configuration',
    html: `<pre>${escapeHtml(JSON.stringify(config, null, 2))}</pre>`,
  });
  const file = run.reportFile;
  await atomicWriteFile(
    file,
    htmlPage(options.title ?? `artist-ts run ${config?.name ?? path.basename(run.root)}`, sections),
  );
  return file;
}
