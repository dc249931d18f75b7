/**
 * The emoji-zh "keyword hit": does a generated image show the emoji its caption names? Every
 * distinct emoji picture of the built dataset (all splits) forms a gallery; a generated image's
 * nearest gallery pictures (squared RGB distance after a 2x2 box average, so a one-pixel shift
 * costs little) are ranked, and the image hits when the caption's own emoji is among the first k.
 * `subgroupHit1`: the nearest picture is at least of the caption emoji's CLDR subgroup (e.g.
 * animal-mammal), which is what an unseen emoji can be expected to get right. With thousands of
 * pictures exact hits are rare for small, blurry models: `hitTop1Percent` and `rankPercentile`
 * (where the caption's emoji ranks among all pictures; 0.5 is chance) say how close it came.
 *
 * Chance is k / gallery size for the hits, 0.5 for the rank percentile.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SplitName } from '../output';
import { decodePngBase64, toRgb } from '../png';
import { readImageTsv, readMeta } from '../read';
import { resizeImage } from '../resize';

export interface EmojiHitSummary {
  images: number;
  /** Caption's emoji is the nearest gallery picture. */
  hit1: number;
  /** ... among the 5 nearest. */
  hit5: number;
  /** ... among the nearest 1 % of the gallery. */
  hitTop1Percent: number;
  /**
   * Mean over images of the share of the gallery farther from the image than its caption's emoji
   * (1: always the nearest; 0.5: chance). Tolerant of the blur that makes exact hits rare.
   */
  rankPercentile: number;
  /** The nearest picture is of the caption emoji's subgroup. */
  subgroupHit1: number;
  /** Distinct emoji pictures compared against. */
  gallery: number;
  chance: { hit1: number; hit5: number; hitTop1Percent: number; rankPercentile: number };
}

export interface EmojiHitScore {
  overall: EmojiHitSummary;
  byGroup: Record<string, EmojiHitSummary>;
}

interface Gallery {
  hex: string[];
  subgroup: string[];
  /** [n, (size/2)^2 * 3] box-averaged pixels. */
  features: Float32Array;
  dim: number;
}

/** 2x2 box average of an RGB [size, size, 3] image: [(size/2)^2 * 3]. */
function boxFeatures(rgb: Uint8Array, size: number, out: Float32Array, offset: number): void {
  const h = size >> 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < h; x++) {
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => rgb[((2 * y + yy) * size + 2 * x + xx) * 3 + c];
        out[offset + (y * h + x) * 3 + c] = (p(0, 0) + p(0, 1) + p(1, 0) + p(1, 1)) / 4;
      }
    }
  }
}

const galleries = new Map<string, { stamp: string; gallery: Gallery }>();

const SPLITS = ['train', 'val', 'test'] as const;

/** Size and modification time of every file the gallery reads: a rebuilt folder differs. */
function folderStamp(dataDir: string): string {
  return SPLITS.flatMap((s) => [`${s}.tsv`, `${s}.meta.tsv`])
    .map((f) => {
      const st = fs.statSync(path.join(dataDir, f));
      return `${f}:${st.size}:${st.mtimeMs}`;
    })
    .join(',');
}

/**
 * Every distinct emoji picture of the dataset at `size` (cached per folder and size while the
 * folder's files are unchanged).
 */
function loadGallery(dataDir: string, size: number): Gallery {
  const key = `${path.resolve(dataDir)}@${size}`;
  const stamp = folderStamp(dataDir);
  const cached = galleries.get(key);
  if (cached && cached.stamp === stamp) return cached.gallery;
  const hex: string[] = [];
  const subgroup: string[] = [];
  const pictures: Uint8Array[] = [];
  const seen = new Set<string>();
  for (const split of SPLITS) {
    const meta = readMeta(dataDir, split);
    for (const row of readImageTsv(path.join(dataDir, `${split}.tsv`))) {
      const m = meta.get(row.idx);
      if (!m?.emoji || seen.has(m.emoji)) continue;
      seen.add(m.emoji);
      let img = toRgb(decodePngBase64(row.images[0], `${split}.tsv:${row.line}`));
      if (img.width !== size || img.height !== size) img = resizeImage(img, size, size);
      hex.push(m.emoji);
      subgroup.push(m.subgroup ?? '');
      pictures.push(img.data);
    }
  }
  const dim = (size >> 1) ** 2 * 3;
  const features = new Float32Array(hex.length * dim);
  pictures.forEach((p, i) => {
    boxFeatures(p, size, features, i * dim);
  });
  const g = { hex, subgroup, features, dim };
  galleries.set(key, { stamp, gallery: g });
  return g;
}

function summarise(rows: Array<{ rank: number; sub: boolean }>, gallery: number): EmojiHitSummary {
  const n = rows.length;
  const frac = (f: (r: { rank: number; sub: boolean }) => boolean) =>
    n === 0 ? 0 : rows.filter(f).length / n;
  const top = Math.max(1, Math.ceil(gallery / 100));
  const others = Math.max(1, gallery - 1);
  return {
    images: n,
    hit1: frac((r) => r.rank === 0),
    hit5: frac((r) => r.rank < 5),
    hitTop1Percent: frac((r) => r.rank < top),
    rankPercentile: n === 0 ? 0 : rows.reduce((a, r) => a + (1 - r.rank / others), 0) / n,
    subgroupHit1: frac((r) => r.sub),
    gallery,
    chance: {
      hit1: 1 / gallery,
      hit5: Math.min(1, 5 / gallery),
      hitTop1Percent: top / gallery,
      rankPercentile: 0.5,
    },
  };
}

/**
 * Scores `count` RGB images ([count, size, size, 3] uint8) of a split's captions: image i shows
 * caption `captions.idx[textOf?.[i] ?? i]`, whose emoji and group come from the split's meta file.
 */
export function scoreEmojiZhImages(
  dataDir: string,
  captions: { idx: readonly string[] },
  pixels: Uint8Array,
  count: number,
  size: number,
  textOf?: readonly number[],
  split: SplitName = 'test',
): EmojiHitScore {
  if (size % 2 !== 0) throw new Error(`emoji-zh scorer: image size must be even, got ${size}`);
  const g = loadGallery(dataDir, size);
  const meta = readMeta(dataDir, split);
  const index = new Map(g.hex.map((h, i) => [h, i]));
  const feat = new Float32Array(g.dim);
  const rows: Array<{ rank: number; sub: boolean; group: string }> = [];
  for (let i = 0; i < count; i++) {
    const m = meta.get(captions.idx[textOf?.[i] ?? i]!);
    const target = m ? index.get(m.emoji) : undefined;
    if (target === undefined) {
      throw new Error(
        `emoji-zh scorer: ${split} caption idx ${captions.idx[textOf?.[i] ?? i]} has no emoji in ${split}.meta.tsv`,
      );
    }
    boxFeatures(pixels.subarray(i * size * size * 3, (i + 1) * size * size * 3), size, feat, 0);
    const dist = new Float64Array(g.hex.length);
    for (let j = 0; j < g.hex.length; j++) {
      let s = 0;
      const o = j * g.dim;
      for (let k = 0; k < g.dim; k++) {
        const d = feat[k] - g.features[o + k];
        s += d * d;
      }
      dist[j] = s;
    }
    let rank = 0; // pictures strictly nearer than the target (ties count for the image)
    let nearest = 0;
    for (let j = 0; j < dist.length; j++) {
      if (dist[j] < dist[target]) rank++;
      if (dist[j] < dist[nearest]) nearest = j;
    }
    rows.push({ rank, sub: g.subgroup[nearest] === g.subgroup[target], group: m!.group ?? '' });
  }
  const byGroup: Record<string, EmojiHitSummary> = {};
  for (const name of [...new Set(rows.map((r) => r.group))].sort()) {
    byGroup[name] = summarise(
      rows.filter((r) => r.group === name),
      g.hex.length,
    );
  }
  return { overall: summarise(rows, g.hex.length), byGroup };
}
