/**
 * PNG encoding and decoding for dataset images.
 *
 * The encoder is a small deterministic writer (8-bit RGB, adaptive per-row filter chosen by the
 * minimum sum of absolute differences, zlib at a fixed level), so the same pixels always give the
 * same bytes. Decoding goes through pngjs, an independent implementation, which also accepts every
 * colour type, bit depth and interlacing that real files use.
 */
import zlib from 'node:zlib';
import { decodeBase64 } from '@artist-ts/lattice-data';
import { PNG } from 'pngjs';

/** An 8-bit image, row-major, `channels` bytes per pixel (3 = RGB, 4 = RGBA). */
export interface RasterImage {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array; // [height, width, channels]
}

const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface EncodePngOptions {
  /** zlib level 0-9. Default 6. */
  level?: number;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + body.length)) >>> 0, 8 + body.length);
  return out;
}

/**
 * Writes row `cur` filtered with `type` into `out` (no type byte) and returns the sum of the
 * filtered bytes read as signed values, libpng's heuristic for choosing a filter.
 */
function filterRow(
  type: number,
  cur: Uint8Array,
  prev: Uint8Array | null,
  bpp: number,
  out: Uint8Array,
): number {
  const n = cur.length;
  let sum = 0;
  let v = 0;
  if (type === 0) {
    for (let i = 0; i < n; i++) {
      v = cur[i];
      out[i] = v;
      sum += v < 128 ? v : 256 - v;
    }
  } else if (type === 1) {
    for (let i = 0; i < n; i++) {
      v = (cur[i] - (i >= bpp ? cur[i - bpp] : 0)) & 0xff;
      out[i] = v;
      sum += v < 128 ? v : 256 - v;
    }
  } else if (type === 2) {
    for (let i = 0; i < n; i++) {
      v = (cur[i] - (prev ? prev[i] : 0)) & 0xff;
      out[i] = v;
      sum += v < 128 ? v : 256 - v;
    }
  } else if (type === 3) {
    for (let i = 0; i < n; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = prev ? prev[i] : 0;
      v = (cur[i] - ((a + b) >> 1)) & 0xff;
      out[i] = v;
      sum += v < 128 ? v : 256 - v;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = prev ? prev[i] : 0;
      const c = prev && i >= bpp ? prev[i - bpp] : 0;
      const p = a + b - c;
      const pa = p > a ? p - a : a - p;
      const pb = p > b ? p - b : b - p;
      const pc = p > c ? p - c : c - p;
      const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      v = (cur[i] - pred) & 0xff;
      out[i] = v;
      sum += v < 128 ? v : 256 - v;
    }
  }
  return sum;
}

/** The filter type with the smallest sum of |signed residual| for one row (one fused pass over all five). */
function chooseFilter(cur: Uint8Array, prev: Uint8Array | null, bpp: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  const n = cur.length;
  for (let i = 0; i < n; i++) {
    const x = cur[i];
    const a = i >= bpp ? cur[i - bpp] : 0;
    const b = prev ? prev[i] : 0;
    const c = prev && i >= bpp ? prev[i - bpp] : 0;
    const p = a + b - c;
    const pa = p > a ? p - a : a - p;
    const pb = p > b ? p - b : b - p;
    const pc = p > c ? p - c : c - p;
    const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    let v = x;
    s0 += v < 128 ? v : 256 - v;
    v = (x - a) & 0xff;
    s1 += v < 128 ? v : 256 - v;
    v = (x - b) & 0xff;
    s2 += v < 128 ? v : 256 - v;
    v = (x - ((a + b) >> 1)) & 0xff;
    s3 += v < 128 ? v : 256 - v;
    v = (x - pred) & 0xff;
    s4 += v < 128 ? v : 256 - v;
  }
  // Ties go to the lowest type, as in a sequential scan.
  let best = 0;
  let bestSum = s0;
  if (s1 < bestSum) {
    best = 1;
    bestSum = s1;
  }
  if (s2 < bestSum) {
    best = 2;
    bestSum = s2;
  }
  if (s3 < bestSum) {
    best = 3;
    bestSum = s3;
  }
  if (s4 < bestSum) best = 4;
  return best;
}

/** Encodes an RGB or RGBA raster as PNG bytes. Same input, same bytes. */
export function encodePng(image: RasterImage, options: EncodePngOptions = {}): Buffer {
  const { width, height, channels, data } = image;
  const level = options.level ?? 6;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(
      `encodePng: width and height must be positive integers, got ${width}x${height}`,
    );
  }
  if (channels !== 3 && channels !== 4) {
    throw new RangeError(`encodePng: channels must be 3 or 4, got ${channels}`);
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(
      `encodePng: data has ${data.length} bytes, expected ${width}x${height}x${channels} = ${width * height * channels}`,
    );
  }
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new RangeError(`encodePng: level must be an integer 0..9, got ${level}`);
  }
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const cur = data.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? data.subarray((y - 1) * stride, y * stride) : null;
    const best = chooseFilter(cur, prev, channels);
    raw[y * (stride + 1)] = best;
    filterRow(
      best,
      cur,
      prev,
      channels,
      raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)),
    );
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 3 ? 2 : 6; // colour type: RGB or RGBA
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const idat = zlib.deflateSync(raw, { level });
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Decodes PNG bytes to an 8-bit RGBA raster (any PNG colour type/bit depth). */
export function decodePng(bytes: Uint8Array, source = 'png'): RasterImage {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new Error(`${source}: not a readable PNG (${(err as Error).message})`);
  }
  return {
    width: png.width,
    height: png.height,
    channels: 4,
    data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength),
  };
}

/** Decodes standard or URL-safe base64 (EasyNLP accepts both) PNG to RGBA. */
export function decodePngBase64(text: string, source = 'imgbase64'): RasterImage {
  let bytes: Buffer;
  try {
    bytes = decodeBase64(text.trim());
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`);
  }
  return decodePng(bytes, source);
}

/** Drops alpha (after compositing onto `background`) and returns an RGB raster. */
export function toRgb(
  image: RasterImage,
  background: [number, number, number] = [255, 255, 255],
): RasterImage {
  if (image.channels === 3) return image;
  const n = image.width * image.height;
  const out = new Uint8Array(n * 3);
  const src = image.data;
  for (let i = 0; i < n; i++) {
    const a = src[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      // Exact integer compositing: (s*a + bg*(255-a)) / 255, rounded half up.
      out[i * 3 + c] = Math.floor((src[i * 4 + c] * a + background[c] * (255 - a) + 127) / 255);
    }
  }
  return { width: image.width, height: image.height, channels: 3, data: out };
}
