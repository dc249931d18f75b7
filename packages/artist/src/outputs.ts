/**
 * Writing generated images: PNG files plus a grid, or an EasyNLP prediction TSV.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@artist-ts/core/files';
import type { SampleConfig } from '@artist-ts/gpt-knowl';
import {
  encodeBase64,
  encodePng,
  type TextRow,
  TsvReader,
  TsvWriter,
} from '@artist-ts/lattice-data';
import type { GeneratedImage, GenerateProgress, Generator } from './generator';

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

/** Writes `<out>/<t>-<s>.png` per image and `<out>/grid.png` (one row per text). Returns the files. */
export async function writePngs(
  out: string,
  images: GeneratedImage[],
  size: number,
  samplesPerText: number,
): Promise<string[]> {
  fs.mkdirSync(out, { recursive: true });
  const files: string[] = [];
  for (const img of images) {
    const file = path.join(out, `${String(img.textIndex).padStart(3, '0')}-${img.sample}.png`);
    await atomicWriteFile(
      file,
      await encodePng({ data: img.pixels, width: size, height: size, channels: 3 }),
    );
    files.push(file);
  }
  const grid = gridOf(
    images.map((i) => i.pixels),
    size,
    samplesPerText,
  );
  const gridFile = path.join(out, 'grid.png');
  await atomicWriteFile(gridFile, await encodePng({ ...grid, channels: 3 }));
  files.push(gridFile);
  return files;
}

/**
 * EasyNLP's test TSV (`idx\ttext`) in, prediction TSV out: `idx\ttext\tgen_imgbase64`, one row per
 * image (EasyNLP writes one row per text with a Python list repr of all images in one column;
 * our reader accepts both). Texts are sampled in chunks of `chunk` rows.
 */
export async function generateTsv(
  generator: Generator,
  input: string,
  output: string,
  sample: Partial<SampleConfig>,
  options: { chunk?: number; onImage?: (p: GenerateProgress) => void; signal?: AbortSignal } = {},
): Promise<{ texts: number; images: number }> {
  const chunk = options.chunk ?? 32;
  const writer = await TsvWriter.open(output, 'prediction');
  let texts = 0;
  let images = 0;
  const size = generator.imageSize;
  const flush = async (rows: TextRow[]) => {
    if (rows.length === 0) return;
    const gen = await generator.generate(
      rows.map((r) => r.text),
      sample,
      options,
    );
    for (const g of gen) {
      const png = await encodePng({ data: g.pixels, width: size, height: size, channels: 3 });
      const row = rows[g.textIndex];
      await writer.write({ idx: row.idx, text: row.text, images: [encodeBase64(png)] });
      images++;
    }
    texts += rows.length;
  };
  try {
    let rows: TextRow[] = [];
    for await (const row of new TsvReader(input, 'text')) {
      rows.push({ idx: row.idx, text: row.text });
      if (rows.length >= chunk) {
        await flush(rows);
        rows = [];
      }
    }
    await flush(rows);
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return { texts, images };
}
