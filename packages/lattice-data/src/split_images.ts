/**
 * A split's images as one uint8 NHWC array (what the VQGAN stage, evaluation and the benchmarks
 * read), one of them back as PNG, and PSNR between two such arrays.
 */
import { encodePng, imageFromBase64 } from './image';
import { TsvReader } from './tsv';

export interface SplitImages {
  idx: string[];
  texts: string[];
  /** [n, size, size, 3] uint8 */
  pixels: Uint8Array;
  count: number;
  size: number;
}

/**
 * Every image of an `idx\ttext\timgbase64` TSV, resized (bilinear, shorter side) and centre-cropped
 * to `size` x `size` RGB. `limit` keeps the first rows.
 */
export async function readSplitImages(
  file: string,
  size: number,
  limit = Number.POSITIVE_INFINITY,
): Promise<SplitImages> {
  const idx: string[] = [];
  const texts: string[] = [];
  const chunks: Uint8Array[] = [];
  for await (const row of new TsvReader(file, 'text-image')) {
    if (idx.length >= limit) break;
    const img = await imageFromBase64(row.imageBase64, { size, crop: 'center', kernel: 'linear' });
    if (img.channels !== 3 || img.width !== size || img.height !== size) {
      throw new Error(
        `${file}:${row.line}: image decoded to ${img.width}x${img.height}x${img.channels}, expected ${size}x${size}x3`,
      );
    }
    idx.push(row.idx);
    texts.push(row.text);
    chunks.push(img.data);
  }
  const per = size * size * 3;
  const pixels = new Uint8Array(chunks.length * per);
  for (const [i, c] of chunks.entries()) pixels.set(c, i * per);
  return { idx, texts, pixels, count: chunks.length, size };
}

/** Image `i` of an NHWC uint8 batch as PNG bytes. */
export async function pngOf(pixels: Uint8Array, i: number, size: number): Promise<Uint8Array> {
  const per = size * size * 3;
  return encodePng({
    data: pixels.subarray(i * per, (i + 1) * per),
    width: size,
    height: size,
    channels: 3,
  });
}

/** PSNR in dB between two uint8 image arrays of the same length (peak 255). */
export function psnrUint8(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`psnr: sizes differ (${a.length} vs ${b.length})`);
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse);
}
