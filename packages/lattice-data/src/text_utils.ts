/**
 * Python string semantics that EasyNLP's scripts rely on: `str.isspace`, `str.strip()` and
 * `str.split()` without arguments, over Unicode code points.
 */

/** Code points for which Python 3's `str.isspace()` is true. */
export const PY_WHITESPACE: ReadonlySet<number> = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001,
  0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f,
  0x205f, 0x3000,
]);

export function isPyWhitespace(cp: number): boolean {
  return PY_WHITESPACE.has(cp);
}

/** Python `s.strip()`: removes leading and trailing whitespace (all `str.isspace` characters). */
export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  // None of Python's whitespace characters is astral, so UTF-16 units suffice here.
  while (a < b && PY_WHITESPACE.has(s.charCodeAt(a))) a++;
  while (b > a && PY_WHITESPACE.has(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Python `s.split()`: splits on runs of whitespace, dropping empty pieces. */
export function pySplitWhitespace(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    if (PY_WHITESPACE.has(s.charCodeAt(i))) {
      if (start >= 0) {
        out.push(s.slice(start, i));
        start = -1;
      }
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(s.slice(start));
  return out;
}

/** Number of Unicode code points (Python `len(str)`). */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** The single code point of `s`, or -1 if `s` is not exactly one code point. */
export function singleCodePoint(s: string): number {
  if (s.length === 1) return s.charCodeAt(0);
  if (s.length === 2) {
    const c = s.codePointAt(0)!;
    if (c > 0xffff) return c;
  }
  return -1;
}
