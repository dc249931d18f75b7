/**
 * Writing generated images: PNG files plus a grid, or an EasyNLP prediction TSV.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@artist-ts/core/files';
import {
  encodeBase64,
  encodePng,
  openInputTsv,
  type TextRow,
  TsvWriter,
} from '@artist-ts/lattice-data';
import type { GeneratedImage, GenerateOptions, Generator } from './generator';

/** A grid of same-sized RGB images, `cols` per row, with 2 px white gutters. */
export function gridOf(
  images: Uint8Array[],
  size: number,
  cols: number,
): { data: Uint8Array; width: number; height: number } {
  const rows = Math.max(1, Math.ceil(images.length / cols));
  const gap = 2;
  const width = cols * size + (cols + 1) * gap;
  const height = rows * size + (rows + 1) * gap;
  const out = new Uint8Array(width * height * 3).fill(255);
  for (const [k, img] of images.entries()) {
    const r = Math.floor(k / cols);
    const c = k % cols;
    for (let y = 0; y < size; y++) {
      const dst = ((gap + r * (size + gap) + y) * width + gap + c * (size + gap)) * 3;
      out.set(img.subarray(y * size * 3, (y + 1) * size * 3), dst);
    }
  }
  return { data: out, width, height };
}

/**
 * Writes `<out>/<t>-<s>.png` per image (text index padded to 3 digits, sample) and `<out>/grid.png`
 * (one row per text, `imagesPerText` columns). Returns the files, grid last.
 */
export async function writePngs(
  out: string,
  images: GeneratedImage[],
  imagesPerText: number,
): Promise<string[]> {
  fs.mkdirSync(out, { recursive: true });
  const files: string[] = [];
  for (const img of images) {
    const file = path.join(out, `${String(img.textIndex).padStart(3, '0')}-${img.sample}.png`);
    await atomicWriteFile(
      file,
      await encodePng({ data: img.pixels, width: img.width, height: img.height, channels: 3 }),
    );
    files.push(file);
  }
  if (images.length === 0) return files;
  const grid = gridOf(
    images.map((i) => i.pixels),
    images[0].width,
    imagesPerText,
  );
  const gridFile = path.join(out, 'grid.png');
  await atomicWriteFile(gridFile, await encodePng({ ...grid, channels: 3 }));
  files.push(gridFile);
  return files;
}

/**
 * EasyNLP's test TSV (`idx\ttext`, or any input layout: with images, or the knowledge TSV of
 * `preprocess_data_knowl.py`, whose idx and text are used) in, prediction TSV out: `idx\ttext\tgen_imgbase64`, one row per
 * image (EasyNLP writes one row per text with a Python list repr of all images in one column;
 * our reader accepts both). The whole input is read (and checked) before sampling starts; texts are
 * then sampled in chunks of `chunk` rows (default 32), and `onProgress` counts over the whole file.
 */
export async function generateTsv(
  generator: Generator,
  input: string,
  output: string,
  options: Omit<GenerateOptions, 'format'> & { chunk?: number } = {},
): Promise<{ texts: number; images: number }> {
  const { chunk = 32, onProgress, ...sample } = options;
  const rows: TextRow[] = [];
  const { reader } = await openInputTsv(input, { validateImages: 'none' });
  for await (const row of reader) rows.push({ idx: row.idx, text: row.text });
  const perText = sample.numImages ?? 1;
  const imageLen = generator.gpt.config.imageLen;
  const writer = await TsvWriter.open(output, 'prediction');
  let images = 0;
  try {
    for (let start = 0; start < rows.length; start += chunk) {
      const part = rows.slice(start, start + chunk);
      const before = { images, tokens: images * imageLen };
      const gen = await generator.generate(
        part.map((r) => r.text),
        {
          ...sample,
          format: 'png',
          onProgress:
            onProgress &&
            ((p) =>
              onProgress({
                ...p,
                tokens: before.tokens + p.tokens,
                totalTokens: rows.length * perText * imageLen,
                images: before.images + p.images,
                totalImages: rows.length * perText,
              })),
        },
      );
      for (const g of gen) {
        const row = part[g.textIndex];
        await writer.write({ idx: row.idx, text: row.text, images: [encodeBase64(g.png)] });
        images++;
      }
    }
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return { texts: rows.length, images };
}
