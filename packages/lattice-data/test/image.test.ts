import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  base64Problem,
  cropPixels,
  decodeBase64,
  decodeImage,
  decodeRowImage,
  detectImageFormat,
  encodeBase64,
  encodeImage,
  encodePng,
  type ImagePixels,
  preprocessImage,
  readTsv,
  roundHalfEven,
  smallestMaxSize,
  validatePreprocessConfig,
} from '../src';

function gradient(width: number, height: number): ImagePixels {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 255) / (width - 1);
      data[o + 1] = (y * 255) / (height - 1);
      data[o + 2] = (x * 7 + y * 13) % 256;
    }
  }
  return { data, width, height, channels: 3 };
}

describe('base64', () => {
  it('accepts both alphabets, padded or not, and rejects anything else', () => {
    const bytes = Uint8Array.from([0xfb, 0xff, 0xbf, 0x01]);
    const std = encodeBase64(bytes);
    const url = encodeBase64(bytes, { urlSafe: true });
    expect(std).toBe('+/+/AQ==');
    expect(url).toBe('-_-_AQ');
    expect(Array.from(decodeBase64(std))).toEqual(Array.from(bytes));
    expect(Array.from(decodeBase64(url))).toEqual(Array.from(bytes));
    expect(base64Problem('')).toBe('empty base64 string');
    expect(base64Problem('abc!')).toMatch(/invalid base64 character "!" at offset 3/);
    expect(base64Problem('abcde')).toMatch(/multiple of 4 plus 1/);
    expect(base64Problem('abc==')).toBe('invalid base64 padding');
    expect(() => decodeBase64('a b=')).toThrow(/invalid base64 character/);
  });
});

describe('images', () => {
  const img = gradient(40, 20);

  it('decodes PNG and lossless WebP exactly, JPEG approximately', async () => {
    const png = await encodePng(img);
    expect(detectImageFormat(png)).toBe('png');
    const back = await decodeImage(decodeBase64(encodeBase64(png, { urlSafe: true })));
    expect(back).toMatchObject({ width: 40, height: 20, channels: 3 });
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
    const webp = await encodeImage(img, 'webp', { lossless: true });
    expect(detectImageFormat(webp)).toBe('webp');
    expect(Buffer.from((await decodeImage(webp)).data).equals(Buffer.from(img.data))).toBe(true);
    const jpeg = await encodeImage(img, 'jpeg', { quality: 95 });
    expect(detectImageFormat(jpeg)).toBe('jpeg');
    const j = await decodeImage(jpeg);
    let err = 0;
    for (let i = 0; i < j.data.length; i++) err += Math.abs(j.data[i]! - img.data[i]!);
    // 4:2:0 chroma subsampling blurs the sawtooth blue channel; a channel mix-up would be far off.
    expect(err / j.data.length).toBeLessThan(12);
  });

  it('drops alpha and expands grey to RGB, as PIL convert("RGB")', async () => {
    const rgba: ImagePixels = {
      data: new Uint8Array(4 * 4 * 4).fill(200),
      width: 4,
      height: 4,
      channels: 4,
    };
    for (let i = 3; i < rgba.data.length; i += 4) rgba.data[i] = 0;
    const a = await decodeImage(await encodePng(rgba));
    expect(a.channels).toBe(3);
    expect(Array.from(new Set(a.data))).toEqual([200]);
    const grey: ImagePixels = {
      data: Uint8Array.from({ length: 9 }, (_, i) => i * 20),
      width: 3,
      height: 3,
      channels: 1,
    };
    const g = await decodeImage(await encodePng(grey));
    expect(Array.from(g.data.slice(0, 6))).toEqual([0, 0, 0, 20, 20, 20]);
  });

  it('rejects bytes that are not a decodable image', async () => {
    await expect(decodeImage(Buffer.from('hello world'))).rejects.toThrow(/unknown magic bytes/);
    const png = await encodePng(img);
    await expect(decodeImage(png.subarray(0, 40))).rejects.toThrow();
  });

  it('resizes the shorter side (half-to-even rounding) then center-crops', async () => {
    expect(smallestMaxSize(40, 20, 16)).toEqual({ width: 32, height: 16 });
    expect(smallestMaxSize(3, 2, 3)).toEqual({ width: 4, height: 3 }); // 4.5 -> 4
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(3.5)).toBe(4);
    expect(roundHalfEven(-0.4)).toBe(-0);
    const png = await encodePng(img);
    const resized = await preprocessImage(png, { size: 16, crop: 'none' });
    expect(resized).toMatchObject({ width: 32, height: 16 });
    const crop = await preprocessImage(png, { size: 16 });
    expect(crop).toMatchObject({ width: 16, height: 16, channels: 3 });
    expect(Buffer.from(crop.data).equals(Buffer.from(cropPixels(resized, 8, 0, 16, 16).data))).toBe(
      true,
    );
    // A flat image stays flat under any kernel.
    const flat: ImagePixels = {
      data: new Uint8Array(30 * 50 * 3).fill(77),
      width: 30,
      height: 50,
      channels: 3,
    };
    const f = await preprocessImage(await encodePng(flat), { size: 8, kernel: 'lanczos3' });
    expect(f).toMatchObject({ width: 8, height: 8 });
    expect(Array.from(new Set(f.data))).toEqual([77]);
    expect(() => validatePreprocessConfig({ kernel: 'box' as never })).toThrow(
      /kernel: must be one of/,
    );
  });
});

describe('images in TSV rows', () => {
  it('names file, line and column of an undecodable image, or skips it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'img-'));
    const good = encodeBase64(await encodePng(gradient(8, 6)));
    const truncated = encodeBase64((await encodePng(gradient(8, 6))).subarray(0, 30));
    const file = path.join(dir, 't.tsv');
    fs.writeFileSync(file, `1\ta\t${good}\n2\tb\t${truncated}\n`);
    const { rows } = await readTsv(file, 'text-image');
    expect((await decodeRowImage(file, rows[0]!, { size: 4 })).width).toBe(4);
    await expect(decodeRowImage(file, rows[1]!)).rejects.toThrow(
      `${file}:2:3 (imgbase64): undecodable image`,
    );
    await expect(readTsv(file, 'text-image', { validateImages: 'decode' })).rejects.toThrow(
      `${file}:2:3 (imgbase64): undecodable image`,
    );
    const skipped = await readTsv(file, 'text-image', {
      validateImages: 'decode',
      onBadRow: 'skip',
    });
    expect(skipped.rows.map((r) => r.idx)).toEqual(['1']);
    expect(skipped.summary.skipped).toBe(1);
    fs.rmSync(dir, { recursive: true });
  });
});
