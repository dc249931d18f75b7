/**
 * Images of TSV columns (base64 of a PNG, JPEG or WebP file; the column itself is parsed in
 * image_column.ts), decoded with sharp (libvips) to uint8 RGB in HWC order. `preprocessImage` reproduces ARTIST's
 * training transform: the shorter side is resized to `size` (albumentations `SmallestMaxSize`, whose
 * output size rounds half to even), then a center crop of `size × size`.
 *
 * Resampling filter: sharp's `linear` kernel (bilinear) by default, matching the cv2 `INTER_LINEAR`
 * choice of EasyNLP in kind. libvips anti-aliases when it shrinks (the triangle filter widens with
 * the scale), while cv2's INTER_LINEAR samples without anti-aliasing, so downscaled pixels differ
 * slightly from EasyNLP's; JPEG shrink-on-load is disabled so results do not depend on the codec.
 */
import type { Rng } from '@artist-ts/core/rng';
import type { Sharp, SharpOptions } from 'sharp';
import { ConfigError } from './errors';
import { decodeBase64 } from './image_column';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** Decoded pixels: row-major `[height, width, channels]` uint8. */
export interface ImagePixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

type SharpFactory = (input?: Buffer | Uint8Array, options?: SharpOptions) => Sharp;
let sharpFactory: SharpFactory | undefined;
/** sharp is loaded on first use, so text-only users never load libvips. */
function sharp(): SharpFactory {
  if (!sharpFactory) sharpFactory = require('sharp') as SharpFactory;
  return sharpFactory;
}

/** The container format from the magic bytes, or undefined. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (
    bytes.length >= 8 &&
    bytes[0] === 0x89 &&
    bytes[1] === 0x50 &&
    bytes[2] === 0x4e &&
    bytes[3] === 0x47
  ) {
    return 'png';
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff)
    return 'jpeg';
  if (
    bytes.length >= 12 &&
    String.fromCharCode(...bytes.subarray(0, 4)) === 'RIFF' &&
    String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP'
  ) {
    return 'webp';
  }
  return undefined;
}

function checkFormat(bytes: Uint8Array): ImageFormat {
  const f = detectImageFormat(bytes);
  if (!f) throw new Error('not a PNG, JPEG or WebP image (unknown magic bytes)');
  return f;
}

function rgbPipeline(bytes: Uint8Array): Sharp {
  checkFormat(bytes);
  // Like PIL's convert("RGB"): alpha is dropped (not composited), grey and palette become RGB.
  return sharp()(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    failOn: 'error',
  })
    .removeAlpha()
    .toColourspace('srgb');
}

async function toPixels(pipeline: Sharp): Promise<ImagePixels> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3)
    throw new Error(`expected 3 channels after RGB conversion, got ${info.channels}`);
  // Copy out of libvips' buffer into a plain array owned by the caller.
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: 3 };
}

/** Decodes PNG/JPEG/WebP bytes to RGB uint8 HWC. EXIF orientation is ignored, as PIL does. */
export async function decodeImage(bytes: Uint8Array): Promise<ImagePixels> {
  return toPixels(rgbPipeline(bytes));
}

/** Image width and height from the header, without decoding pixels. */
export async function imageSize(
  bytes: Uint8Array,
): Promise<{ width: number; height: number; format: ImageFormat }> {
  const format = checkFormat(bytes);
  const meta = await sharp()(
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  ).metadata();
  if (!meta.width || !meta.height) throw new Error('image has no dimensions');
  return { width: meta.width, height: meta.height, format };
}

export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';

export interface PreprocessConfig {
  /** Output side (ARTIST: 256). */
  size: number;
  /** 'center' (ARTIST's default), 'random' (needs `rng`) or 'none' (resize shorter side only). */
  crop: 'center' | 'random' | 'none';
  /** Resampling kernel (default 'linear' = bilinear). */
  kernel: ResizeKernel;
}

export const DEFAULT_PREPROCESS_CONFIG: Readonly<PreprocessConfig> = Object.freeze({
  size: 256,
  crop: 'center',
  kernel: 'linear',
});

const KERNELS: readonly ResizeKernel[] = [
  'nearest',
  'linear',
  'cubic',
  'mitchell',
  'lanczos2',
  'lanczos3',
];

export function validatePreprocessConfig(config: Partial<PreprocessConfig> = {}): PreprocessConfig {
  const c = { ...DEFAULT_PREPROCESS_CONFIG, ...config };
  if (!Number.isInteger(c.size) || c.size < 1)
    throw new ConfigError('size', `must be a positive integer, got ${c.size}`);
  if (!['center', 'random', 'none'].includes(c.crop)) {
    throw new ConfigError(
      'crop',
      `must be 'center', 'random' or 'none', got ${JSON.stringify(c.crop)}`,
    );
  }
  if (!KERNELS.includes(c.kernel)) {
    throw new ConfigError(
      'kernel',
      `must be one of ${KERNELS.join(', ')}, got ${JSON.stringify(c.kernel)}`,
    );
  }
  return c;
}

/** Python 3 `round` (half to even), as albumentations' `py3round`. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(r - x) === 0.5) return 2 * Math.round(x / 2);
  return r;
}

/** Size after albumentations `SmallestMaxSize(maxSize)`. */
export function smallestMaxSize(
  width: number,
  height: number,
  maxSize: number,
): { width: number; height: number } {
  const scale = maxSize / Math.min(width, height);
  return { width: roundHalfEven(width * scale), height: roundHalfEven(height * scale) };
}

/**
 * Decodes and transforms an image as ARTIST's training data loader: shorter side to `size`, then a
 * center (or seeded random) crop. Returns uint8 RGB `[size, size, 3]`.
 */
export async function preprocessImage(
  bytes: Uint8Array,
  config: Partial<PreprocessConfig> = {},
  rng?: Rng,
): Promise<ImagePixels> {
  const c = validatePreprocessConfig(config);
  const { width, height } = await imageSize(bytes);
  const target = smallestMaxSize(width, height, c.size);
  let p = rgbPipeline(bytes);
  if (target.width !== width || target.height !== height) {
    p = p.resize(target.width, target.height, {
      kernel: c.kernel,
      fit: 'fill',
      fastShrinkOnLoad: false,
    });
  }
  if (c.crop !== 'none') {
    let left = Math.floor((target.width - c.size) / 2);
    let top = Math.floor((target.height - c.size) / 2);
    if (c.crop === 'random') {
      if (!rng) throw new ConfigError('crop', "'random' needs an Rng");
      left = rng.int(target.width - c.size + 1);
      top = rng.int(target.height - c.size + 1);
    }
    if (left !== 0 || top !== 0 || target.width !== c.size || target.height !== c.size) {
      // extract after resize needs a materialized intermediate in sharp: resize first, then crop.
      const resized = await toPixels(p);
      return cropPixels(resized, left, top, c.size, c.size);
    }
  }
  return toPixels(p);
}

/** Crops `[top, top+h) × [left, left+w)` out of HWC pixels. */
export function cropPixels(
  img: ImagePixels,
  left: number,
  top: number,
  w: number,
  h: number,
): ImagePixels {
  if (left < 0 || top < 0 || left + w > img.width || top + h > img.height) {
    throw new RangeError(`crop ${w}x${h}+${left}+${top} outside ${img.width}x${img.height}`);
  }
  const ch = img.channels;
  const out = new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    const src = ((top + y) * img.width + left) * ch;
    out.set(img.data.subarray(src, src + w * ch), y * w * ch);
  }
  return { data: out, width: w, height: h, channels: ch };
}

/**
 * Decodes a TSV image column (base64, either alphabet) and applies ARTIST's transform
 * ({@link preprocessImage}): the usual way to get training pixels for a row.
 */
export async function imageFromBase64(
  b64: string,
  config: Partial<PreprocessConfig> = {},
  rng?: Rng,
): Promise<ImagePixels> {
  return preprocessImage(decodeBase64(b64), config, rng);
}

/** PNG bytes of HWC uint8 pixels (1, 3 or 4 channels). */
export async function encodePng(img: ImagePixels): Promise<Buffer> {
  const { data, width, height, channels } = img;
  if (data.length !== width * height * channels) {
    throw new RangeError(`pixels: ${data.length} bytes for ${width}x${height}x${channels}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4)
    throw new RangeError(`channels must be 1, 3 or 4`);
  return sharp()(Buffer.from(data.buffer, data.byteOffset, data.byteLength), {
    raw: { width, height, channels },
  })
    .png()
    .toBuffer();
}

/** Encodes pixels as JPEG (quality 1-100) or WebP, e.g. for test fixtures and previews. */
export async function encodeImage(
  img: ImagePixels,
  format: ImageFormat,
  { quality = 90, lossless = false } = {},
): Promise<Buffer> {
  if (format === 'png') return encodePng(img);
  const { data, width, height, channels } = img;
  const p = sharp()(Buffer.from(data.buffer, data.byteOffset, data.byteLength), {
    raw: { width, height, channels: channels as 1 | 3 | 4 },
  });
  return format === 'jpeg'
    ? p.jpeg({ quality }).toBuffer()
    : p.webp({ quality, lossless }).toBuffer();
}
