import { PNG } from 'pngjs';
import { decodePng, decodePngBase64, encodePng, type RasterImage, toRgb } from '../src/png';
import { resizeImage } from '../src/resize';

function pattern(width: number, height: number, channels: 3 | 4): RasterImage {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + ((i / 7) | 0) * 11) & 0xff;
  return { width, height, channels, data };
}

describe('encodePng', () => {
  it.each([
    [1, 1, 3],
    [7, 5, 3],
    [16, 16, 4],
    [33, 9, 4],
  ] as const)('round-trips %ix%i with %i channels through pngjs', (w, h, ch) => {
    const img = pattern(w, h, ch);
    const png = PNG.sync.read(encodePng(img));
    expect([png.width, png.height]).toEqual([w, h]);
    for (let i = 0; i < w * h; i++) {
      for (let c = 0; c < ch; c++) expect(png.data[i * 4 + c]).toBe(img.data[i * ch + c]);
      if (ch === 3) expect(png.data[i * 4 + 3]).toBe(255);
    }
  });

  it('gives the same bytes for the same pixels and different bytes for different levels', () => {
    const img = pattern(32, 32, 3);
    expect(Buffer.compare(encodePng(img), encodePng(pattern(32, 32, 3)))).toBe(0);
    expect(decodePng(encodePng(img, { level: 0 })).data).toEqual(
      decodePng(encodePng(img, { level: 9 })).data,
    );
  });

  it('rejects inconsistent input, naming the problem', () => {
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) })).toThrow(
      /12/,
    );
    expect(() => encodePng({ ...pattern(2, 2, 3), channels: 2 as 3 })).toThrow(/channels/);
    expect(() => encodePng(pattern(2, 2, 3), { level: 10 })).toThrow(/level/);
  });
});

describe('decode helpers', () => {
  it('accepts standard and URL-safe base64', () => {
    const bytes = encodePng(pattern(9, 9, 3));
    const std = bytes.toString('base64');
    const url = std.replace(/\+/g, '-').replace(/\//g, '_');
    expect(decodePngBase64(url).data).toEqual(decodePngBase64(std).data);
    // Anything else is an error naming the source (lattice-data's strict decoder).
    expect(() => decodePngBase64(`${std.slice(0, 8)}*`, 'x.tsv:2:3')).toThrow(
      'x.tsv:2:3: invalid base64 character "*" at offset 8',
    );
  });

  it('names the source of an unreadable PNG', () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3]), 'x.tsv:4')).toThrow(/x\.tsv:4/);
  });

  it('composites alpha onto white exactly', () => {
    const rgba: RasterImage = {
      width: 3,
      height: 1,
      channels: 4,
      data: Uint8Array.from([255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128]),
    };
    // 0*128 + 255*127 = 32385; (32385 + 127) / 255 = 127.5 -> 127
    expect(Array.from(toRgb(rgba).data)).toEqual([255, 0, 0, 255, 255, 255, 127, 127, 127]);
  });
});

describe('resizeImage', () => {
  it('shrinks by exact area averaging', () => {
    const img: RasterImage = {
      width: 2,
      height: 2,
      channels: 3,
      data: Uint8Array.from([0, 0, 0, 10, 20, 30, 20, 40, 60, 30, 60, 90]),
    };
    expect(Array.from(resizeImage(img, 1, 1).data)).toEqual([15, 30, 45]);
    // 3 -> 2: output pixel 0 covers input 0 fully and half of input 1 (weights 2/3, 1/3).
    const row: RasterImage = {
      width: 3,
      height: 1,
      channels: 3,
      data: Uint8Array.from([0, 0, 0, 90, 90, 90, 180, 180, 180]),
    };
    expect(Array.from(resizeImage(row, 2, 1).data)).toEqual([30, 30, 30, 150, 150, 150]);
  });

  it('keeps constant images constant and stays in range when enlarging', () => {
    const flat: RasterImage = {
      width: 4,
      height: 4,
      channels: 3,
      data: new Uint8Array(48).fill(77),
    };
    expect(resizeImage(flat, 16, 16).data.every((v) => v === 77)).toBe(true);
    const sharp: RasterImage = {
      width: 2,
      height: 1,
      channels: 3,
      data: Uint8Array.from([0, 0, 0, 255, 255, 255]),
    };
    const up = resizeImage(sharp, 8, 1).data;
    expect(up[0]).toBe(0);
    expect(up[up.length - 1]).toBe(255);
    for (let x = 1; x < 8; x++) expect(up[x * 3]).toBeGreaterThanOrEqual(up[(x - 1) * 3]);
  });

  it('copies when the size is unchanged', () => {
    const img = pattern(5, 5, 3);
    const same = resizeImage(img, 5, 5);
    expect(same.data).toEqual(img.data);
    expect(same.data).not.toBe(img.data);
  });
});
