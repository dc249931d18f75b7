/**
 * Image sets for scoring: a folder of image files (as pytorch-fid reads them), an EasyNLP TSV with
 * base64 images (train/val/test and prediction outputs), or uint8 NHWC arrays already in memory.
 * Decoding goes through sharp (RGB; alpha dropped without compositing, as PIL's convert('RGB')).
 * Does not load tfjs.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { decodeImageColumn } from '@artist-ts/lattice-data';

/** One decoded RGB image, row-major HWC uint8. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Extensions pytorch-fid accepts (`IMAGE_EXTENSIONS`) plus gif/avif, which sharp decodes too. */
export const IMAGE_EXTENSIONS = [
  'bmp',
  'jpg',
  'jpeg',
  'pgm',
  'png',
  'ppm',
  'tif',
  'tiff',
  'webp',
  'gif',
  'avif',
];

export type ImageSource =
  /** Every image file in a folder, sorted by name (as pytorch-fid), optionally recursive. */
  | { kind: 'folder'; path: string; recursive?: boolean }
  /**
   * An EasyNLP TSV: the image column is base64 (standard or url-safe); by default the last column.
   * A Python list repr (`['iVBOR…', '…']`, EasyNLP's prediction output) yields every image in it.
   */
  | { kind: 'tsv'; path: string; column?: number }
  /** `count` images of `height` x `width` RGB, uint8 NHWC. */
  | { kind: 'array'; data: Uint8Array; count: number; height: number; width: number }
  /** Images already decoded. */
  | { kind: 'images'; images: RgbImage[] };

/** Bad input: the message names the file, the line and the field where known. */
export class ImageSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageSourceError';
  }
}

/** A folder path or a `.tsv` file path as an {@link ImageSource}. */
export async function imageSourceFromPath(path: string): Promise<ImageSource> {
  const s = await stat(path).catch(() => null);
  if (!s) throw new ImageSourceError(`${path}: no such file or folder`);
  if (s.isDirectory()) return { kind: 'folder', path };
  if (/\.(tsv|txt)$/i.test(path)) return { kind: 'tsv', path };
  throw new ImageSourceError(`${path}: expected a folder of images or an EasyNLP .tsv file`);
}

type SharpFactory = (input: Buffer) => {
  removeAlpha(): ReturnType<SharpFactory>;
  toColourspace(s: string): ReturnType<SharpFactory>;
  raw(): ReturnType<SharpFactory>;
  toBuffer(o: {
    resolveWithObject: true;
  }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
};

let sharpFactory: SharpFactory | null = null;
function sharp(): SharpFactory {
  if (!sharpFactory) sharpFactory = require('sharp') as SharpFactory;
  return sharpFactory;
}

/** Decodes PNG/JPEG/WebP/TIFF/GIF/AVIF bytes to RGB; `where` names the source in errors. */
export async function decodeImage(bytes: Uint8Array, where: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp()(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    )
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
    };
  } catch (e) {
    throw new ImageSourceError(`${where}: not a decodable image (${(e as Error).message})`);
  }
}

async function listImages(dir: string, recursive: boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) out.push(...(await listImages(p, true)));
    } else if (IMAGE_EXTENSIONS.includes(extname(e.name).slice(1).toLowerCase())) {
      out.push(p);
    }
  }
  return out.sort();
}

/**
 * Decoded images of a source, in order, with a label naming each (file, or file:line).
 * `limit` stops after that many images.
 */
export async function* readImages(
  source: ImageSource,
  limit = Number.POSITIVE_INFINITY,
): AsyncGenerator<{ image: RgbImage; label: string }> {
  let n = 0;
  if (source.kind === 'folder') {
    const files = await listImages(source.path, source.recursive ?? false);
    if (files.length === 0)
      throw new ImageSourceError(`${source.path}: no image files (${IMAGE_EXTENSIONS.join(', ')})`);
    for (const f of files) {
      if (n++ >= limit) return;
      yield { image: await decodeImage(new Uint8Array(await readFile(f)), f), label: f };
    }
  } else if (source.kind === 'tsv') {
    const rl = createInterface({
      input: createReadStream(source.path, 'utf8'),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let line = 0;
    try {
      for await (const text of rl) {
        line++;
        if (text.trim().length === 0) continue;
        const cols = text.split('\t');
        const ci = source.column ?? cols.length - 1;
        if (cols.length < 2 || ci >= cols.length || ci < 0) {
          throw new ImageSourceError(
            `${source.path}:${line}: expected an image column ${ci + 1}, the line has ${cols.length} columns`,
          );
        }
        const cell = cols[ci]!;
        let files: Buffer[];
        try {
          // EasyNLP's image column, parsed by lattice-data's one parser.
          files = cell.trim() === '' ? [] : decodeImageColumn(cell.trim());
        } catch (e) {
          throw new ImageSourceError(
            `${source.path}:${line}:${ci + 1} (image): ${(e as Error).message}`,
          );
        }
        if (files.length === 0)
          throw new ImageSourceError(`${source.path}:${line}: column ${ci + 1} (image) is empty`);
        for (let k = 0; k < files.length; k++) {
          if (n++ >= limit) return;
          const where = `${source.path}:${line}: column ${ci + 1}${files.length > 1 ? ` image ${k}` : ''}`;
          yield { image: await decodeImage(new Uint8Array(files[k]!), where), label: where };
        }
      }
    } finally {
      rl.close();
    }
  } else if (source.kind === 'array') {
    const { data, count, height, width } = source;
    if (data.length !== count * height * width * 3) {
      throw new ImageSourceError(
        `array source: expected ${count}x${height}x${width}x3 = ${count * height * width * 3} bytes, got ${data.length}`,
      );
    }
    const size = height * width * 3;
    for (let i = 0; i < count; i++) {
      if (n++ >= limit) return;
      yield {
        image: { data: data.subarray(i * size, (i + 1) * size), width, height },
        label: `array[${i}]`,
      };
    }
  } else {
    for (let i = 0; i < source.images.length; i++) {
      if (n++ >= limit) return;
      const img = source.images[i]!;
      if (img.data.length !== img.width * img.height * 3) {
        throw new ImageSourceError(
          `images[${i}]: expected ${img.width}x${img.height}x3 bytes, got ${img.data.length}`,
        );
      }
      yield { image: img, label: `images[${i}]` };
    }
  }
}

/**
 * A short identity of a source's content for cache validation: folder = names, sizes and mtimes;
 * TSV = size and mtime; arrays = sha256 of the pixels.
 */
export async function describeSource(source: ImageSource): Promise<string> {
  const h = createHash('sha256');
  if (source.kind === 'folder') {
    for (const f of await listImages(source.path, source.recursive ?? false)) {
      const s = await stat(f);
      h.update(`${f}|${s.size}|${s.mtimeMs}\n`);
    }
    return `folder:${source.path}:${h.digest('hex').slice(0, 16)}`;
  }
  if (source.kind === 'tsv') {
    const s = await stat(source.path);
    return `tsv:${source.path}:${source.column ?? 'last'}:${s.size}:${s.mtimeMs}`;
  }
  if (source.kind === 'array') {
    h.update(source.data);
    return `array:${source.count}x${source.height}x${source.width}:${h.digest('hex').slice(0, 16)}`;
  }
  for (const img of source.images) h.update(img.data);
  return `images:${source.images.length}:${h.digest('hex').slice(0, 16)}`;
}
