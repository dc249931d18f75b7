/**
 * Deterministic image resampling in plain float64 JavaScript (same bytes on every machine).
 * Shrinking uses exact area averaging (each output pixel is the coverage-weighted mean of the input
 * pixels under it); enlarging uses Keys bicubic interpolation (a = -0.5) on pixel centres with
 * clamped edges, as PIL/OpenCV do. Both are separable: rows first, then columns.
 */
import type { RasterImage } from './png';

interface Taps {
  index: Int32Array; // [out, k] source indices
  weight: Float64Array; // [out, k]
  k: number;
}

function areaTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const k = Math.ceil(scale) + 1;
  const index = new Int32Array(outSize * k);
  const weight = new Float64Array(outSize * k);
  for (let o = 0; o < outSize; o++) {
    const lo = o * scale;
    const hi = lo + scale;
    let j = 0;
    for (let s = Math.floor(lo); s < Math.ceil(hi) && j < k; s++, j++) {
      const w = Math.min(hi, s + 1) - Math.max(lo, s);
      index[o * k + j] = Math.min(inSize - 1, s);
      weight[o * k + j] = w / scale;
    }
  }
  return { index, weight, k };
}

function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

function cubicTaps(inSize: number, outSize: number): Taps {
  const k = 4;
  const index = new Int32Array(outSize * k);
  const weight = new Float64Array(outSize * k);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale - 0.5;
    const base = Math.floor(centre);
    let total = 0;
    for (let j = 0; j < k; j++) {
      const s = base - 1 + j;
      const w = cubic(centre - s);
      index[o * k + j] = Math.min(inSize - 1, Math.max(0, s));
      weight[o * k + j] = w;
      total += w;
    }
    for (let j = 0; j < k; j++) weight[o * k + j] /= total;
  }
  return { index, weight, k };
}

function taps(inSize: number, outSize: number): Taps {
  return outSize < inSize ? areaTaps(inSize, outSize) : cubicTaps(inSize, outSize);
}

/** Resizes an 8-bit image to `width` x `height` (area when shrinking, bicubic when enlarging). */
export function resizeImage(image: RasterImage, width: number, height: number): RasterImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resizeImage: target must be positive integers, got ${width}x${height}`);
  }
  const { width: w0, height: h0, channels: ch, data } = image;
  if (w0 === width && h0 === height) return { ...image, data: Uint8Array.from(data) };
  const tx = taps(w0, width);
  const ty = taps(h0, height);
  // Horizontal pass: [h0, width, ch] in float64.
  const mid = new Float64Array(h0 * width * ch);
  const kx = tx.k;
  for (let y = 0; y < h0; y++) {
    const rowIn = y * w0 * ch;
    const rowOut = y * width * ch;
    for (let x = 0; x < width; x++) {
      const o = rowOut + x * ch;
      for (let j = 0; j < kx; j++) {
        const w = tx.weight[x * kx + j];
        if (w === 0) continue;
        const s = rowIn + tx.index[x * kx + j] * ch;
        for (let c = 0; c < ch; c++) mid[o + c] += w * data[s + c];
      }
    }
  }
  // Vertical pass: [height, width, ch], rounded and clamped to bytes.
  const out = new Uint8Array(height * width * ch);
  const acc = new Float64Array(width * ch);
  const ky = ty.k;
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    for (let j = 0; j < ky; j++) {
      const w = ty.weight[y * ky + j];
      if (w === 0) continue;
      const s = ty.index[y * ky + j] * width * ch;
      for (let i = 0; i < acc.length; i++) acc[i] += w * mid[s + i];
    }
    const o = y * width * ch;
    for (let i = 0; i < acc.length; i++) {
      const v = Math.round(acc[i]);
      out[o + i] = v < 0 ? 0 : Math.min(v, 255);
    }
  }
  return { width, height, channels: ch, data: out };
}
