import { decodeImageColumn, encodeBase64, parseImageColumn } from '../src';

describe("EasyNLP's image column", () => {
  const a = encodeBase64(Uint8Array.from([1, 2, 3, 250]));
  const b = encodeBase64(Uint8Array.from([0xfb, 0xff]), { urlSafe: true });

  it('parses plain base64 and Python / JSON list reprs', () => {
    expect(parseImageColumn(a)).toEqual([a]);
    expect(parseImageColumn(`['${a}', '${b}']`)).toEqual([a, b]);
    expect(parseImageColumn(`["${a}"]`)).toEqual([a]);
    expect(parseImageColumn(' [ ] ')).toEqual([]);
    expect(() => parseImageColumn(`['${a}'`)).toThrow(/unterminated/);
    expect(() => parseImageColumn(`[${a}]`)).toThrow(/not a quoted string/);
  });

  it('decodes both alphabets strictly and names the bad list item', () => {
    expect(decodeImageColumn(`['${a}', '${b}']`).map((x) => [...x])).toEqual([
      [1, 2, 3, 250],
      [0xfb, 0xff],
    ]);
    expect(() => decodeImageColumn('AB*D')).toThrow('invalid base64 character "*" at offset 2');
    expect(() => decodeImageColumn(`['${a}', 'A']`)).toThrow(
      'image 2: invalid base64 length 1 (a multiple of 4 plus 1)',
    );
  });
});
