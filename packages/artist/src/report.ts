/**
 * `<run>/report.html`: one self-contained page (inline SVG plots, images as data URIs) with the
 * loss curves of every stage, TransE metrics, codebook health, reconstructions beside originals,
 * generated images beside the reference for each held-out caption, and FID/KID with their
 * protocol fingerprints.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@artist-ts/core/files';
import { pngOf, readSplitImages, TsvReader } from '@artist-ts/lattice-data';
import {
  escapeHtml,
  htmlPage,
  htmlTable,
  type ImageCell,
  imageGrid,
  pngDataUri,
  type Series,
  svgLinePlot,
} from './report_html';
import type { MetricRecord, RunFolder } from './run_folder';
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

export interface AblationRow {
  fusion: string;
  fid: number | null;
  habitat: number | null;
  colour: number | null;
  shape: number | null;
}

export async function writeReport(
  run: RunFolder,
  options: { title?: string; maxRows?: number; ablation?: AblationRow[] } = {},
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
      html +=
        '<h3>kg-shapes-zh scores</h3>' +
        htmlTable(['group', 'images', 'habitat', 'colour', 'shape'], rows);
    }
    sections.push({ title: 'Evaluation', html });
    const pred = run.eval.predictions;
    if (fs.existsSync(pred) && fs.existsSync(testTsv)) {
      const maxRows = options.maxRows ?? 24;
      const byIdx = new Map<string, string[]>();
      for await (const row of new TsvReader(pred, 'prediction')) {
        const list = byIdx.get(row.idx) ?? [];
        list.push(...row.images);
        byIdx.set(row.idx, list);
        if (byIdx.size > maxRows) break;
      }
      const real = await readSplitImages(testTsv, size, maxRows);
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
      sections.push({
        title: 'Held-out captions: reference and generated',
        html: imageGrid(rows, 72),
      });
    }
  }
  if (options.ablation && options.ablation.length > 0) {
    sections.push({
      title: 'Knowledge ablation',
      html: htmlTable(
        ['fusion', 'FID', 'habitat acc.', 'colour acc.', 'shape acc.'],
        options.ablation.map((r) => [
          r.fusion,
          r.fid ?? '',
          r.habitat ?? '',
          r.colour ?? '',
          r.shape ?? '',
        ]),
      ),
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
