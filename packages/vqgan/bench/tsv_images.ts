/**
 * Bench-only reader for EasyNLP image TSVs (`idx\ttext\timgbase64`): decodes 8-bit PNGs with
 * node:zlib (the datasets package writes PNG) and box-resizes them to a square side.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes a non-interlaced 8-bit grey/RGB/RGBA/grey+alpha PNG to RGB (alpha over white). */
export function decodePngRgb(
  buf: Buffer,
  where: string,
): { width: number; height: number; rgb: Uint8Array } {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error(`${where}: not a PNG`);
  let off = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('ascii', off + 4, off + 8);
    const body = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8];
      colorType = body[9];
      if (depth !== 8 || body[12] !== 0 || ![0, 2, 4, 6].includes(colorType)) {
        throw new Error(
          `${where}: unsupported PNG (bit depth ${depth}, colour type ${colorType}, interlace ${body[12]})`,
        );
      }
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const ch = { 0: 1, 2: 3, 4: 2, 6: 4 }[colorType] as number;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * ch;
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= ch ? px[y * stride + x - ch] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= ch && y > 0 ? px[(y - 1) * stride + x - ch] : 0;
      const pred =
        f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
      px[y * stride + x] = (src[x] + pred) & 255;
    }
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const alpha = ch === 2 ? px[i * 2 + 1] : ch === 4 ? px[i * 4 + 3] : 255;
    for (let k = 0; k < 3; k++) {
      const v = ch <= 2 ? px[i * ch] : px[i * ch + k];
      rgb[i * 3 + k] = Math.round((v * alpha + 255 * (255 - alpha)) / 255);
    }
  }
  return { width, height, rgb };
}

/** Area-average resize of the centre square crop to side x side. */
export function squareResize(
  img: { width: number; height: number; rgb: Uint8Array },
  side: number,
): Uint8Array {
  const s = Math.min(img.width, img.height);
  const x0 = Math.floor((img.width - s) / 2);
  const y0 = Math.floor((img.height - s) / 2);
  const out = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const ya = y0 + Math.floor((y * s) / side);
      const yb = Math.max(ya + 1, y0 + Math.floor(((y + 1) * s) / side));
      const xa = x0 + Math.floor((x * s) / side);
      const xb = Math.max(xa + 1, x0 + Math.floor(((x + 1) * s) / side));
      for (let k = 0; k < 3; k++) {
        let sum = 0;
        for (let yy = ya; yy < yb; yy++)
          for (let xx = xa; xx < xb; xx++) sum += img.rgb[(yy * img.width + xx) * 3 + k];
        out[(y * side + x) * 3 + k] = Math.round(sum / ((yb - ya) * (xb - xa)));
      }
    }
  }
  return out;
}

/** Reads up to `limit` images of an `idx\ttext\timgbase64` TSV as one uint8 [n, side, side, 3] array. */
export function readTsvImages(
  file: string,
  side: number,
  limit = Number.POSITIVE_INFINITY,
): { pixels: Uint8Array; count: number } {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const images: Uint8Array[] = [];
  lines.forEach((line, i) => {
    if (images.length >= limit || line.trim() === '') return;
    const cols = line.split('\t');
    if (cols.length < 3)
      throw new Error(
        `${file}:${i + 1}: expected idx\\ttext\\timgbase64, got ${cols.length} columns`,
      );
    const b64 = cols[2].trim().replace(/-/g, '+').replace(/_/g, '/');
    images.push(
      squareResize(decodePngRgb(Buffer.from(b64, 'base64'), `${file}:${i + 1}: imgbase64`), side),
    );
  });
  const pixels = new Uint8Array(images.length * side * side * 3);
  images.forEach((im, i) => {
    pixels.set(im, i * im.length);
  });
  return { pixels, count: images.length };
}
