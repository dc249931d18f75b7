/**
 * THE parser of EasyNLP's image columns: `imgbase64` in train/val TSVs and `gen_imgbase64` in
 * prediction TSVs. A cell is base64 (standard or URL-safe alphabet, padded or not: EasyNLP decodes
 * with `base64.urlsafe_b64decode`, which accepts both) of one image file, or, in EasyNLP's own
 * prediction output, a Python list repr of such strings (`['iVBOR…', 'iVBOR…']`; a JSON list
 * parses too). Every reader of these columns in artist-ts (this package's TSV reader, the datasets
 * builder's reader, eval-fid's image sources) goes through {@link parseImageColumn} and
 * {@link decodeBase64}; errors are plain reasons that the caller prefixes with file:line:column.
 */

const B64_BODY = /^[A-Za-z0-9+/_-]*$/;

/** Why `s` is not base64 (standard or URL-safe, padded or not), or undefined if it is. */
export function base64Problem(s: string): string | undefined {
  if (s.length === 0) return 'empty base64 string';
  let end = s.length;
  let pad = 0;
  while (end > 0 && s.charCodeAt(end - 1) === 61 /* = */ && pad < 3) {
    end--;
    pad++;
  }
  const body = end === s.length ? s : s.slice(0, end);
  if (!B64_BODY.test(body)) {
    const bad = body.search(/[^A-Za-z0-9+/_-]/);
    return `invalid base64 character ${JSON.stringify(body[bad])} at offset ${bad}`;
  }
  const rem = body.length % 4;
  if (rem === 1) return `invalid base64 length ${body.length} (a multiple of 4 plus 1)`;
  if (pad > 0 && (body.length + pad) % 4 !== 0) return 'invalid base64 padding';
  return undefined;
}

/** Decodes standard or URL-safe base64 strictly; throws on any other character or bad length. */
export function decodeBase64(s: string): Buffer {
  const problem = base64Problem(s);
  if (problem) throw new Error(problem);
  return Buffer.from(s, 'base64');
}

/** Base64 of `bytes` (standard alphabet with padding, or URL-safe without padding). */
export function encodeBase64(bytes: Uint8Array, { urlSafe = false } = {}): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buf.toString(urlSafe ? 'base64url' : 'base64');
}

/**
 * The base64 strings of an image cell: `[cell]` for plain base64, every item for a Python/JSON list
 * repr (`[]` for an empty list). Items are not checked here: see {@link base64Problem}. Throws an
 * Error whose message is the reason (an unterminated list, an unquoted item).
 */
export function parseImageColumn(cell: string): string[] {
  const t = cell.trim();
  if (!t.startsWith('[')) return [cell];
  if (!t.endsWith(']')) throw new Error('unterminated Python list (no closing "]")');
  const inner = t.slice(1, -1).trim();
  if (inner === '') return [];
  return inner.split(',').map((item) => {
    const s = item.trim();
    const q = s[0];
    if ((q !== "'" && q !== '"') || s[s.length - 1] !== q || s.length < 2) {
      throw new Error(`list item is not a quoted string: ${s.slice(0, 20)}`);
    }
    return s.slice(1, -1);
  });
}

/** @deprecated The old name of {@link parseImageColumn}. */
export const parseGeneratedImages = parseImageColumn;

/**
 * The image files of a cell ({@link parseImageColumn}, then strict {@link decodeBase64} of each
 * item). Throws an Error whose message is the reason, naming the list item when there are several.
 */
export function decodeImageColumn(cell: string): Buffer[] {
  const items = parseImageColumn(cell);
  return items.map((b64, k) => {
    try {
      return decodeBase64(b64);
    } catch (err) {
      if (items.length === 1) throw err;
      throw new Error(`image ${k + 1}: ${(err as Error).message}`);
    }
  });
}
