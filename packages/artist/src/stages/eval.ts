/**
 * Stage `eval`: generates images for held-out (test) captions, scores them with FID/KID against the
 * real test images (and the VQGAN reconstructions as the upper bound), scores kg-shapes-zh images
 * by their KG facts, and writes `<run>/eval/{samples/, predictions.tsv, metrics.json}`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@artist-ts/core/files';
import { scoreKgShapesTsv } from '@artist-ts/datasets';
import { evaluateImages, type FeatureExtractor, loadNsfwjsInceptionV3 } from '@artist-ts/eval-fid';
import { loadGpt, sampleCodes } from '@artist-ts/gpt-knowl';
import { encodeBase64, TsvWriter } from '@artist-ts/lattice-data';
import { toUint8Pixels, Vqgan } from '@artist-ts/vqgan';
import type { TrainerConfig } from '../config';
import { type Stage, throwIfAborted } from '../pipeline';
import { pngOf, readSplitImages } from '../split_images';
import { readEntityTable, readExamples } from './gpt';

export const evalStage: Stage<TrainerConfig> = {
  name: 'eval',
  after: ['gpt', 'vqgan', 'encode'],
  configSlice: (c) => c.eval,
  async run(ctx) {
    const cfg = ctx.config.eval;
    const size = ctx.config.data.size;
    const dir = ctx.run.stageDir('eval');
    const vqgan = await Vqgan.load(ctx.run.path('vqgan', 'checkpoint'));
    const gpt = await loadGpt(ctx.run.path('gpt', 'checkpoint'));
    let extractor: FeatureExtractor | null = null;
    try {
      const table = await readEntityTable(ctx.run);
      const test = await readExamples(ctx.run, 'test');
      const n = Math.min(cfg.maxCaptions, test.examples.length);
      const examples = test.examples.slice(0, n);
      const k = cfg.sample.numSamples;
      ctx.progress.begin('eval:sample', n * k * gpt.config.imageLen, 'tokens');
      let doneTokens = 0;
      const sampled = await sampleCodes(
        gpt,
        {
          texts: examples.map((e) => e.text),
          lattices: examples.map((e) => e.lattice ?? null),
          entityTable: table,
        },
        cfg.sample,
        {
          signal: ctx.signal,
          onToken: (p) => {
            doneTokens += p.images;
            ctx.progress.update(doneTokens, { batch: `${p.batch + 1}/${p.numBatches}` });
          },
        },
      );
      ctx.progress.end(`${sampled.tokensPerSecond.toFixed(1)} tokens/s`);
      throwIfAborted(ctx.signal, 'eval');
      const generated = await vqgan.decodeToPixels(sampled.codes, { batchSize: 16 });
      const samplesDir = path.join(dir, 'samples');
      fs.mkdirSync(samplesDir, { recursive: true });
      const pred = await TsvWriter.open(path.join(dir, 'predictions.tsv'), 'prediction');
      try {
        for (let t = 0; t < n; t++) {
          for (let j = 0; j < k; j++) {
            const png = await pngOf(generated, t * k + j, size);
            await atomicWriteFile(path.join(samplesDir, `${test.idx[t]}-${j}.png`), png);
            // One row per image (EasyNLP writes a Python list of all images in one column).
            await pred.write({
              idx: test.idx[t],
              text: test.texts[t],
              images: [encodeBase64(png)],
            });
          }
        }
        await pred.close();
      } catch (err) {
        await pred.abort();
        throw err;
      }
      // Real test images and their VQGAN reconstructions.
      const real = await readSplitImages(ctx.run.path('data', 'test.tsv'), size);
      const nRec = Math.min(cfg.reconstructions, real.count);
      const per = size * size * 3;
      const rec = new Uint8Array(nRec * per);
      for (let i = 0; i < nRec; i += 16) {
        const m = Math.min(16, nRec - i);
        const out = vqgan.reconstruct({
          data: real.pixels.subarray(i * per, (i + m) * per),
          shape: [m, size, size, 3],
        });
        rec.set(toUint8Pixels(out), i * per);
        out.dispose();
      }
      await atomicWriteFile(path.join(dir, 'reconstructions.bin'), rec);
      const summary: Record<string, unknown> = {
        captions: n,
        imagesPerCaption: k,
        tokensPerSecond: sampled.tokensPerSecond,
        fusion: gpt.config.fusion,
      };
      const nReal = Math.min(cfg.realImages ?? real.count, real.count);
      if (cfg.extractor !== 'none' && n * k >= 2 && nReal >= 2) {
        extractor = await loadNsfwjsInceptionV3();
        const realSource = {
          kind: 'array' as const,
          data: real.pixels.subarray(0, nReal * per),
          count: nReal,
          height: size,
          width: size,
        };
        ctx.progress.log(
          `[eval] FID/KID: ${n * k} generated and ${nRec} reconstructed images against ${nReal} real test images`,
        );
        // One bar over the three extractions: real (unless cached), generated, reconstructions.
        const nUp = nRec >= 2 ? nRec : 0;
        ctx.progress.begin('eval:fid', nReal + n * k + nUp, 'images');
        const gen = await evaluateImages({
          extractor,
          real: realSource,
          fake: { kind: 'array', data: generated, count: n * k, height: size, width: size },
          realCachePath: path.join(dir, 'real_stats.npz'),
          extract: { signal: ctx.signal },
          onProgress: (side, done) => ctx.progress.update(side === 'real' ? done : nReal + done),
        });
        summary.fid = gen.fid.fid;
        summary.kid = gen.kid?.kid ?? null;
        summary.fidSummary = gen.summary;
        if (nRec >= 2) {
          const up = await evaluateImages({
            extractor,
            real: gen.real,
            fake: { kind: 'array', data: rec, count: nRec, height: size, width: size },
            kid: false,
            extract: { signal: ctx.signal },
            onProgress: (_side, done) => ctx.progress.update(nReal + n * k + done),
          });
          summary.reconstructionFid = up.fid.fid;
          summary.reconstructionSummary = up.summary;
        }
        ctx.progress.end();
        summary.realImages = nReal;
      }
      const dataset = ctx.run.readMarker('data')?.summary.dataset;
      if (dataset === 'kg-shapes-zh') {
        const s = scoreKgShapesTsv(ctx.run.path('data'), path.join(dir, 'predictions.tsv'), 'test');
        summary.kgShapes = { overall: s.overall, byGroup: s.byGroup };
      }
      await atomicWriteFile(
        path.join(dir, 'metrics.json'),
        `${JSON.stringify(summary, null, 2)}\n`,
      );
      return summary;
    } finally {
      extractor?.dispose();
      gpt.dispose();
      vqgan.dispose();
    }
  },
};
