import fs from 'node:fs';
import { decodePng, encodePng, toRgb } from '../png';
import { resizeImage } from '../resize';

/** Source PNG -> composited on white -> resized to size x size -> PNG bytes. Pure and deterministic. */
export function renderEmojiPng(file: string, size: number, level: number): Uint8Array {
  // Synchronous read: thousands of 4 KB files are faster without the thread-pool round trip.
  const rgba = decodePng(fs.readFileSync(file), file);
  let rgb = toRgb(rgba);
  if (rgb.width !== size || rgb.height !== size) rgb = resizeImage(rgb, size, size);
  return encodePng(rgb, { level });
}
