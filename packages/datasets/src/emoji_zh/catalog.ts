/**
 * Joins the emoji images of emoji-datasource-google with the CLDR Chinese names and keywords of
 * emojibase-data (on the code-point sequence with FE0F removed, upper-case hex).
 */
import path from 'node:path';
import type { EmojibaseEntry, EmojiSources } from './sources';

export interface EmojiItem {
  /** Code points, upper-case hex joined by '-', without FE0F. */
  hex: string;
  /** Caption and entity name: the CLDR zh label, whitespace normalised. */
  label: string;
  /** The CLDR label as published. */
  rawLabel: string;
  /** Absolute path of the 64x64 RGBA PNG. */
  imageFile: string;
  /** hex of the base emoji (itself for a base emoji). */
  baseHex: string;
  isVariant: boolean;
  /** CLDR zh keywords (base emoji only; normalised, without the label itself). */
  tags: string[];
  group: string;
  subgroup: string;
}

export function normaliseHex(hex: string): string {
  return hex
    .toUpperCase()
    .split('-')
    .filter((cp) => cp !== 'FE0F')
    .join('-');
}

const ASCII_WORD = /[A-Za-z0-9]/;

/**
 * Removes whitespace from a CLDR label except a single space between two ASCII letters/digits.
 * Chinese text carries no spaces and BERT tokenisation drops them, so an entity name with a space
 * ("旗: 约旦") could never be matched in a caption; "旗:约旦" can.
 */
export function normaliseLabel(label: string): string {
  const s = label.trim();
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (/\s/.test(ch)) {
      let j = i;
      while (j < s.length && /\s/.test(s[j])) j++;
      const before = out[out.length - 1] ?? '';
      const after = s[j] ?? '';
      if (ASCII_WORD.test(before) && ASCII_WORD.test(after)) out += ' ';
      i = j - 1;
      continue;
    }
    out += ch;
  }
  return out;
}

export interface EmojibaseIndex {
  byHex: Map<string, EmojibaseEntry>;
  baseOf: Map<string, EmojibaseEntry>;
}

export function indexEmojibase(entries: readonly EmojibaseEntry[]): EmojibaseIndex {
  const byHex = new Map<string, EmojibaseEntry>();
  const baseOf = new Map<string, EmojibaseEntry>();
  for (const e of entries) {
    byHex.set(normaliseHex(e.hexcode), e);
    for (const s of e.skins ?? []) {
      byHex.set(normaliseHex(s.hexcode), s);
      baseOf.set(normaliseHex(s.hexcode), e);
    }
  }
  return { byHex, baseOf };
}

export interface EmojiCatalog {
  items: EmojiItem[];
  /** Images that found no zh label (expected empty for the pinned versions). */
  unmatched: string[];
}

export function buildCatalog(sources: EmojiSources): EmojiCatalog {
  const index = indexEmojibase(sources.emojibase);
  const { groups, subgroups } = sources.groups;
  const items: EmojiItem[] = [];
  const unmatched: string[] = [];
  const ordered = [...sources.datasource].sort((a, b) => a.sort_order - b.sort_order);
  for (const emoji of ordered) {
    const baseHex = normaliseHex(emoji.unified);
    const baseEntry = index.byHex.get(baseHex);
    const images = [
      { img: emoji, variant: false },
      ...Object.keys(emoji.skin_variations ?? {})
        .sort()
        .map((k) => ({ img: emoji.skin_variations![k], variant: true })),
    ];
    for (const { img, variant } of images) {
      const hex = normaliseHex(img.unified);
      const entry = index.byHex.get(hex);
      if (!entry || !baseEntry || img.has_img_google === false) {
        unmatched.push(img.unified);
        continue;
      }
      const label = normaliseLabel(entry.label);
      const tags = variant
        ? []
        : [...new Set((entry.tags ?? []).map(normaliseLabel))].filter(
            (t) => t.length > 0 && t !== label,
          );
      items.push({
        hex,
        label,
        rawLabel: entry.label,
        imageFile: path.join(sources.imageDir, img.image),
        baseHex,
        isVariant: variant,
        tags,
        group: groups[String(entry.group ?? baseEntry.group)] ?? 'unknown',
        subgroup: subgroups[String(entry.subgroup ?? baseEntry.subgroup)] ?? 'unknown',
      });
    }
  }
  return { items, unmatched };
}
