/**
 * Stage `eval`: generates images for held-out (test) captions through the Generator (the same text
 * path as artist-generate), scores them with FID/KID against the real test images (and the VQGAN
 * reconstructions as the upper bound), scores kg-shapes-zh images by their KG facts, and writes
 * the eval folder (samples, predictions.tsv, reconstructions, metrics.json).
 */
import { atomicWriteFile } from '@artist-ts/core/files';
import { scoreEmojiZhImages, scoreKgShapesImages } from '@artist-ts/datasets';
import { evaluateImages, type FeatureExtractor, loadNsfwjsInceptionV3 } from '@artist-ts/eval-fid';
import { encodeBase64, pngOf, readSplitImages, TsvWriter } from '@artist-ts/lattice-data';
import { toUint8Pixels } from '@artist-ts/vqgan';
import type { TrainerConfig } from '../config';
import { Generator } from '../generator';
import { omitWhileDefault, type Stage } from '../pipeline';

/** The images' pixels, in order, in one [n, size, size, 3] array (`per` bytes an image). */
function pixelsOf(images: ReadonlyArray<{ pixels: Uint8Array }>, per: number): Uint8Array {
  const out = new Uint8Array(images.length * per);
  for (const [i, img] of images.entries()) out.set(img.pixels, i * per);
  return out;
}

interface PredictionRow {
  idx: string;
  text: string;
  png: Uint8Array;
}

/** EasyNLP's prediction TSV, atomically: one row per image (EasyNLP lists a text's images in one). */
async function writePredictions(file: string, rows: readonly PredictionRow[]): Promise<void> {
  const out = await TsvWriter.open(file, 'prediction');
  try {
    for (const r of rows)
      await out.write({ idx: r.idx, text: r.text, images: [encodeBase64(r.png)] });
    await out.close();
  } catch (err) {
    await out.abort();
    throw err;
  }
}

export const evalStage: Stage<TrainerConfig> = {
  name: 'eval',
  after: ['gpt', 'vqgan', 'encode'],
  configSlice: (c) => ({
    ...c.eval,
    sample: omitWhileDefault(c.eval.sample, { composeScale: null }),
  }),
  async run(ctx) {
    const cfg = ctx.config.eval;
    const size = ctx.config.data.size;
    const run = ctx.run;
    run.stageDir('eval');
    const generator = await Generator.load(run.root);
    const vqgan = generator.vqgan;
    let extractor: FeatureExtractor | null = null;
    try {
      // Real test images (FID reference, reconstructions) and the captions to generate for.
      const real = await readSplitImages(run.data.split('test'), size);
      const n = Math.min(cfg.maxCaptions, real.count);
      const { numSamples: k, ...sample } = cfg.sample;
      ctx.progress.begin('eval:sample', n * k * generator.gpt.config.imageLen, 'tokens');
      let tokensPerSecond = 0;
      const images = await generator.generate(real.texts.slice(0, n), {
        ...sample,
        numImages: k,
        signal: ctx.signal,
        onProgress: (p) => {
          tokensPerSecond = p.tokensPerSecond;
          ctx.progress.update(p.tokens, { images: `${p.images}/${p.totalImages}` });
        },
      });
      ctx.progress.end(`${tokensPerSecond.toFixed(1)} tokens/s`);
      const per = size * size * 3;
      const generated = pixelsOf(images, per);
      const textOf = images.map((img) => img.textIndex);
      const rows: PredictionRow[] = [];
      for (const [i, img] of images.entries()) {
        const png = await pngOf(generated, i, size);
        const idx = real.idx[img.textIndex];
        await atomicWriteFile(run.eval.sample(idx, img.sample), png);
        rows.push({ idx, text: real.texts[img.textIndex], png });
      }
      await writePredictions(run.eval.predictions, rows);
      // The first training captions too: what the model learned, beside what it transfers.
      if (cfg.trainCaptions > 0) {
        const train = await readSplitImages(run.data.split('train'), size, cfg.trainCaptions);
        ctx.progress.begin('eval:train', train.count * k * generator.gpt.config.imageLen, 'tokens');
        const seen = await generator.generate(train.texts, {
          ...sample,
          numImages: k,
          format: 'png',
          signal: ctx.signal,
          onProgress: (p) => ctx.progress.update(p.tokens),
        });
        ctx.progress.end();
        await writePredictions(
          run.eval.trainPredictions,
          seen.map((img) => ({
            idx: train.idx[img.textIndex],
            text: train.texts[img.textIndex],
            png: img.png,
          })),
        );
      }
      const nRec = Math.min(cfg.reconstructions, real.count);
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
      await atomicWriteFile(run.eval.reconstructions, rec);
      const summary: Record<string, unknown> = {
        captions: n,
        imagesPerCaption: k,
        tokensPerSecond,
        fusion: generator.gpt.config.fusion,
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
          realCachePath: run.eval.realStats,
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
      const dataset = run.readMarker('data')?.summary.dataset;
      if (dataset === 'kg-shapes-zh') {
        const s = scoreKgShapesImages(run.data.dir, real, generated, images.length, size, textOf);
        summary.kgShapes = { overall: s.overall, byGroup: s.byGroup };
        // The VQGAN's ceiling: the same scorer on reconstructions of the real test images.
        if (nRec > 0) {
          const r = scoreKgShapesImages(run.data.dir, real, rec, nRec, size);
          summary.kgShapesReconstructions = { overall: r.overall, byGroup: r.byGroup };
        }
        if (cfg.knowledgeGuidance.length > 0 && generator.gpt.config.fusion !== 'none') {
          const sweep = [];
          for (const scale of cfg.knowledgeGuidance) {
            ctx.progress.begin(
              `eval:s_kg=${scale}`,
              n * k * generator.gpt.config.imageLen,
              'tokens',
            );
            const guided = await generator.generate(real.texts.slice(0, n), {
              ...sample,
              composeScale: null,
              knowledgeGuidanceScale: scale,
              numImages: k,
              signal: ctx.signal,
              onProgress: (p) => ctx.progress.update(p.tokens),
            });
            ctx.progress.end();
            const g = scoreKgShapesImages(
              run.data.dir,
              real,
              pixelsOf(guided, per),
              guided.length,
              size,
              guided.map((img) => img.textIndex),
            );
            sweep.push({ knowledgeGuidanceScale: scale, overall: g.overall, byGroup: g.byGroup });
          }
          summary.knowledgeGuidance = { guidanceScale: sample.guidanceScale, scales: sweep };
        }
      }
      if (dataset === 'emoji-zh') {
        // Keyword hit: is each image nearest to its caption's emoji among all the dataset's emoji?
        summary.emojiHits = scoreEmojiZhImages(
          run.data.dir,
          real,
          generated,
          images.length,
          size,
          textOf,
        );
        if (nRec > 0) {
          summary.emojiHitsReconstructions = scoreEmojiZhImages(
            run.data.dir,
            real,
            rec,
            nRec,
            size,
          );
        }
      }
      await atomicWriteFile(run.eval.metrics, `${JSON.stringify(summary, null, 2)}\n`);
      return summary;
    } finally {
      extractor?.dispose();
      generator.dispose();
    }
  },
};
