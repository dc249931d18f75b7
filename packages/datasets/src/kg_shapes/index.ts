import fs from 'node:fs';
import path from 'node:path';
import type { SplitName } from '../output';
import { decodePngBase64 } from '../png';
import { readImageTsv, readMeta } from '../read';
import {
  type ImageScore,
  type ScoreSummary,
  scoreBatch,
  scoreImage,
  summariseScores,
} from './scorer';
import { type KgShapesWorld, type WorldJson, worldFromJson } from './world';

export * from './builder';
export * from './render';
export * from './scorer';
export * from './world';

/** Loads `world.json` from a built kg-shapes-zh folder. */
export function loadKgShapesWorld(dataDir: string): KgShapesWorld {
  const file = path.join(dataDir, 'world.json');
  let json: WorldJson;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as WorldJson;
  } catch (err) {
    throw new Error(`${file}: cannot read the kg-shapes-zh world (${(err as Error).message})`);
  }
  return worldFromJson(json, file);
}

export interface FileScore {
  overall: ScoreSummary;
  byGroup: Record<string, ScoreSummary>;
  scores: ImageScore[];
}

/**
 * Scores every image of a TSV (a data split, or generated images as `idx\ttext\tgen_imgbase64`,
 * one image or a list per row) against the world of `dataDir`. Groups come from the split's
 * meta file when `split` is given and the idx values match.
 */
export function scoreKgShapesTsv(dataDir: string, tsvFile: string, split?: SplitName): FileScore {
  const world = loadKgShapesWorld(dataDir);
  const meta = split ? readMeta(dataDir, split) : undefined;
  const scores: ImageScore[] = [];
  const groups = new Map<string, ImageScore[]>();
  for (const row of readImageTsv(tsvFile)) {
    row.images.forEach((b64, k) => {
      const image = decodePngBase64(b64, `${tsvFile}:${row.line} image ${k}`);
      const s = scoreImage(world, row.text, image);
      scores.push(s);
      const g = meta?.get(row.idx)?.group;
      if (g !== undefined) {
        const list = groups.get(g) ?? [];
        list.push(s);
        groups.set(g, list);
      }
    });
  }
  const byGroup: Record<string, ScoreSummary> = {};
  for (const [g, list] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
    byGroup[g] = summariseScores(list);
  return { overall: summariseScores(scores), byGroup, scores };
}

/**
 * Scores `count` RGB images ([count, size, size, 3] uint8 in `pixels`) of a split's captions:
 * image i shows caption `captions.texts[textOf?.[i] ?? i]`, grouped by the split's meta file
 * through `captions.idx`. For images that never were files (reconstructions, a guidance sweep).
 */
export function scoreKgShapesImages(
  dataDir: string,
  captions: { idx: readonly string[]; texts: readonly string[] },
  pixels: Uint8Array,
  count: number,
  size: number,
  textOf?: readonly number[],
  split: SplitName = 'test',
): FileScore {
  const world = loadKgShapesWorld(dataDir);
  const meta = readMeta(dataDir, split);
  const per = size * size * 3;
  const items = [];
  for (let i = 0; i < count; i++) {
    const t = textOf?.[i] ?? i;
    items.push({
      caption: captions.texts[t]!,
      image: {
        width: size,
        height: size,
        channels: 3 as const,
        data: pixels.subarray(i * per, (i + 1) * per),
      },
      group: meta?.get(captions.idx[t]!)?.group,
    });
  }
  return scoreBatch(world, items);
}
