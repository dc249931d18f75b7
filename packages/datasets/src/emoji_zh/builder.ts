/**
 * `emoji-zh`: 3,786 real image-caption pairs (Noto Emoji on white; caption = the CLDR Chinese
 * name, keywords as extra captions) with a real Chinese knowledge graph, and splits built for the
 * knowledge ablation:
 *
 * - train: every non-held-out emoji under its name (skin-tone variants included), plus keyword
 *   captions that name exactly one emoji;
 * - val / test: (a) "unseen-keyword" rows: keywords that name exactly one emoji, contain no label
 *   and are contained in no label (e.g. 汪星人 -> 狗脸), never used as a caption in train, so the
 *   only link to the picture is the KG's 关键词 edge; (b) "unseen-emoji" rows: a held-out fraction
 *   of emoji (with their variants) whose pictures are never trained on, whose KG facts remain.
 */
import { Rng } from '@artist-ts/core/rng';
import { type DatasetRow, SPLITS, type SplitName } from '../output';
import type { BuiltDataset, DatasetBuilder, ResolvedBuildOptions } from '../types';
import { buildCatalog, type EmojiItem } from './catalog';
import { buildEmojiKg, EMOJI_RELATIONS } from './emoji_kg';
import { renderEmojiImages } from './render_pool';
import { licenseText, loadEmojiSources } from './sources';

export interface EmojiZhConfig {
  /** Add the 1,875 skin-tone variants as images (captions like "挥手:较深肤色"). Default true. */
  includeVariants: boolean;
  /** Add unambiguous keywords (naming exactly one emoji) as extra training captions. Default true. */
  keywordCaptions: boolean;
  /** Fraction of base emoji (with their variants) held out of train, split evenly into val/test. Default 0.05. */
  heldOutEmojiFraction: number;
  /** Fraction of the held-out-eligible keywords whose captions go to val only. Default 0.1. */
  valKeywordFraction: number;
  /** Fraction of the held-out-eligible keywords whose captions go to test only. Default 0.2. */
  testKeywordFraction: number;
  /** Add CLDR country facts for the flag emoji (位于, 成员, 使用货币, 官方语言). Default true. */
  countryFacts: boolean;
  /** zlib level of the PNGs (0-9). Default 6. */
  pngLevel: number;
}

export const DEFAULT_EMOJI_ZH_CONFIG: Readonly<EmojiZhConfig> = Object.freeze({
  includeVariants: true,
  keywordCaptions: true,
  heldOutEmojiFraction: 0.05,
  valKeywordFraction: 0.1,
  testKeywordFraction: 0.2,
  countryFacts: true,
  pngLevel: 6,
});

const EMOJI_ZH_KEYS = Object.keys(DEFAULT_EMOJI_ZH_CONFIG) as Array<keyof EmojiZhConfig>;

export function validateEmojiZhConfig(config: Partial<EmojiZhConfig> | undefined): EmojiZhConfig {
  const c: EmojiZhConfig = { ...DEFAULT_EMOJI_ZH_CONFIG, ...(config ?? {}) };
  for (const key of Object.keys(config ?? {})) {
    if (!EMOJI_ZH_KEYS.includes(key as keyof EmojiZhConfig)) {
      throw new Error(
        `emoji-zh config: unknown field "${key}" (allowed: ${EMOJI_ZH_KEYS.join(', ')})`,
      );
    }
  }
  for (const key of ['includeVariants', 'keywordCaptions', 'countryFacts'] as const) {
    if (typeof c[key] !== 'boolean')
      throw new Error(`emoji-zh config: ${key} must be true or false, got ${c[key]}`);
  }
  for (const key of [
    'heldOutEmojiFraction',
    'valKeywordFraction',
    'testKeywordFraction',
  ] as const) {
    const v = c[key];
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
      throw new Error(`emoji-zh config: ${key} must be a number in [0, 1), got ${v}`);
    }
  }
  if (c.valKeywordFraction + c.testKeywordFraction >= 1) {
    throw new Error(
      `emoji-zh config: valKeywordFraction + testKeywordFraction must be < 1, got ${c.valKeywordFraction + c.testKeywordFraction}`,
    );
  }
  if (!Number.isInteger(c.pngLevel) || c.pngLevel < 0 || c.pngLevel > 9) {
    throw new Error(`emoji-zh config: pngLevel must be an integer 0..9, got ${c.pngLevel}`);
  }
  return c;
}

export type EmojiRowKind = 'label' | 'keyword';
export type EmojiRowGroup = 'seen' | 'unseen-emoji' | 'unseen-keyword';

export interface PlannedEmojiRow {
  text: string;
  item: EmojiItem; // whose picture
  kind: EmojiRowKind;
  group: EmojiRowGroup;
  entity: string; // the emoji's label (its KG entity)
}

export interface KeywordAnalysis {
  /** keyword -> the single base emoji (hex) it names, for keywords that name exactly one emoji. */
  unique: Map<string, string>;
  /**
   * Subset of `unique` eligible for held-out captions: Chinese characters only (so EasyNLP's
   * lower-casing, per-character lexicon matcher can find them), no label inside, inside no label.
   */
  eligible: Set<string>;
}

const HAN_ONLY = /^[\u3400-\u4dbf\u4e00-\u9fff]+$/;

/** Which keywords are unambiguous, and which can be held out without leaking a label. */
export function analyseKeywords(items: readonly EmojiItem[]): KeywordAnalysis {
  const labels = new Set(items.map((i) => i.label));
  const labelSubstrings = new Set<string>();
  for (const l of labels) {
    for (let a = 0; a < l.length; a++)
      for (let b = a + 1; b <= l.length; b++) labelSubstrings.add(l.slice(a, b));
  }
  const owners = new Map<string, Set<string>>();
  for (const item of items) {
    if (item.isVariant) continue;
    for (const t of item.tags) {
      const set = owners.get(t) ?? new Set<string>();
      set.add(item.hex);
      owners.set(t, set);
    }
  }
  const unique = new Map<string, string>();
  const eligible = new Set<string>();
  for (const [tag, set] of owners) {
    if (set.size !== 1 || tag.length < 2 || labels.has(tag)) continue;
    unique.set(tag, [...set][0]);
    if (labelSubstrings.has(tag) || !HAN_ONLY.test(tag)) continue;
    let containsLabel = false;
    for (let a = 0; a < tag.length && !containsLabel; a++) {
      for (let b = a + 2; b <= tag.length; b++) {
        if (labels.has(tag.slice(a, b))) {
          containsLabel = true;
          break;
        }
      }
    }
    if (!containsLabel) eligible.add(tag);
  }
  return { unique, eligible };
}

export interface EmojiZhPlan {
  splits: Record<SplitName, PlannedEmojiRow[]>;
  images: number;
  baseEmoji: number;
  heldOutEmoji: number;
  keywords: KeywordAnalysis;
}

/**
 * Decides every row of every split (captions, which picture, groups) without touching an image.
 * `buildDataset('emoji-zh')` writes exactly these rows, in this order.
 */
export function planEmojiZh(
  catalogItems: readonly EmojiItem[],
  config: EmojiZhConfig,
  seed: number | string,
  limit: number | null = null,
): EmojiZhPlan {
  const rng = new Rng(seed);
  const items = catalogItems.filter((i) => config.includeVariants || !i.isVariant);
  const bases = items.filter((i) => !i.isVariant);
  const byHex = new Map(items.map((i) => [i.hex, i]));

  // Held-out emoji: a seeded subset of base emoji, alternately to val and test.
  const holdRng = rng.fork('held-out-emoji');
  const order = holdRng.permutation(bases.length);
  const nHeld = Math.round(bases.length * config.heldOutEmojiFraction);
  const heldSplit = new Map<string, SplitName>();
  for (let k = 0; k < nHeld; k++) heldSplit.set(bases[order[k]].hex, k % 2 === 0 ? 'val' : 'test');
  const splitOf = (item: EmojiItem): SplitName => heldSplit.get(item.baseHex) ?? 'train';

  // Keywords: unambiguous ones are captions; eligible ones of train emoji may be held out.
  const keywords = analyseKeywords(items);
  const eligibleTrainTags = [...keywords.eligible].filter(
    (t) => !heldSplit.has(keywords.unique.get(t)!),
  );
  const kwRng = rng.fork('held-out-keywords');
  kwRng.shuffle(eligibleTrainTags);
  const nVal = Math.round(eligibleTrainTags.length * config.valKeywordFraction);
  const nTest = Math.round(eligibleTrainTags.length * config.testKeywordFraction);
  const keywordSplit = new Map<string, SplitName>();
  for (const t of eligibleTrainTags.slice(0, nVal)) keywordSplit.set(t, 'val');
  for (const t of eligibleTrainTags.slice(nVal, nVal + nTest)) keywordSplit.set(t, 'test');

  const planned: Record<SplitName, PlannedEmojiRow[]> = { train: [], val: [], test: [] };
  for (const item of items) {
    const split = splitOf(item);
    planned[split].push({
      text: item.label,
      item,
      kind: 'label',
      group: split === 'train' ? 'seen' : 'unseen-emoji',
      entity: item.label,
    });
  }
  for (const [tag, hex] of keywords.unique) {
    const item = byHex.get(hex);
    if (!item || heldSplit.has(hex)) continue;
    const split = keywordSplit.get(tag) ?? 'train';
    if (split === 'train' && !config.keywordCaptions) continue;
    planned[split].push({
      text: tag,
      item,
      kind: 'keyword',
      group: split === 'train' ? 'seen' : 'unseen-keyword',
      entity: item.label,
    });
  }
  for (const split of ['train', 'val', 'test'] as const) {
    const list = planned[split];
    rng.fork(`order/${split}`).shuffle(list);
    if (limit !== null && list.length > limit) list.length = limit;
  }

  return {
    splits: planned,
    images: items.length,
    baseEmoji: bases.length,
    heldOutEmoji: nHeld,
    keywords,
  };
}

const NOTICE_HEADER = `emoji-zh dataset, built by @artist-ts/datasets from these npm packages (nothing downloaded):

- Images: Noto Emoji by Google, distributed in emoji-datasource-google (iamcal/emoji-data).
  The images are licensed under the Apache License, Version 2.0
  (https://www.apache.org/licenses/LICENSE-2.0; https://github.com/googlefonts/noto-emoji).
  The emoji-datasource-google package itself is MIT licensed (text below).
- Captions and keywords: Unicode CLDR Chinese emoji annotations as packaged by emojibase-data
  (MIT, text below), data derived from CLDR under the Unicode License v3.
- Country facts: Unicode CLDR JSON (cldr-core, cldr-localenames-full, cldr-numbers-full),
  Unicode License v3 (text below).

Images were alpha-composited onto white and resampled (area when shrinking, bicubic when
enlarging); emoji names had their whitespace removed. Group and subgroup names were translated by
the artist-ts authors.
`;

export const emojiZhBuilder: DatasetBuilder<EmojiZhConfig> = {
  name: 'emoji-zh',
  description:
    'Real Chinese text-image pairs: Noto Emoji images with CLDR Chinese names and keywords, and a CLDR knowledge graph (keywords, categories, components, variants, country facts)',
  defaultSize: 64,
  minSize: 8,
  maxSize: 512,
  license: 'Apache-2.0 (images) AND MIT AND Unicode-3.0',
  defaultConfig: DEFAULT_EMOJI_ZH_CONFIG,
  validateConfig: validateEmojiZhConfig,

  async build(opts: ResolvedBuildOptions<EmojiZhConfig>): Promise<BuiltDataset> {
    const { config, size, seed, limit } = opts;
    opts.progress({ stage: 'load', done: 0, total: 1 });
    const sources = loadEmojiSources(config.countryFacts);
    const catalog = buildCatalog(sources);
    opts.progress({ stage: 'load', done: 1, total: 1 });

    opts.progress({ stage: 'kg', done: 0, total: 1 });
    const kg = buildEmojiKg(sources, { countryFacts: config.countryFacts });
    opts.progress({ stage: 'kg', done: 1, total: 1 });

    const plan = planEmojiZh(catalog.items, config, seed, limit);
    const planned = plan.splits;
    // Render each picture once (keyword rows reuse their emoji's picture), in parallel when possible.
    const unique = new Map<string, EmojiItem>();
    for (const split of SPLITS) for (const p of planned[split]) unique.set(p.item.hex, p.item);
    const pictures = [...unique.values()];
    const pngs = await renderEmojiImages(
      pictures.map((i) => i.imageFile),
      {
        size,
        level: config.pngLevel,
        threads: opts.threads,
        onProgress: (done, n) => opts.progress({ stage: 'images', done, total: n }),
      },
    );
    const pngOf = new Map(pictures.map((item, k) => [item.hex, pngs[k]]));
    const rowsOf = (split: SplitName) =>
      function* (): Generator<DatasetRow> {
        for (const p of planned[split]) {
          const png = pngOf.get(p.item.hex)!;
          yield {
            text: p.text,
            png,
            meta: {
              kind: p.kind,
              group: p.group,
              emoji: p.item.hex,
              entity: p.entity,
              relation: p.kind === 'keyword' ? EMOJI_RELATIONS.keyword : '',
              subgroup: p.item.subgroup,
            },
          };
        }
      };

    const notice = [
      NOTICE_HEADER,
      ...sources.packages.map(
        (p) =>
          `\n==== ${p.name}@${p.version} (${p.license}) ====\n\n${licenseText(p) || '(no license file shipped)'}\n`,
      ),
    ].join('');

    const countGroups = (split: SplitName) => {
      const counts: Record<string, number> = {};
      for (const p of planned[split])
        counts[`${p.group}/${p.kind}`] = (counts[`${p.group}/${p.kind}`] ?? 0) + 1;
      return counts;
    };

    return {
      config: { ...config },
      metaColumns: ['kind', 'group', 'emoji', 'entity', 'relation', 'subgroup'],
      splits: {
        train: { count: planned.train.length, rows: rowsOf('train') },
        val: { count: planned.val.length, rows: rowsOf('val') },
        test: { count: planned.test.length, rows: rowsOf('test') },
      },
      kg,
      notice,
      sources: sources.packages.map((p) => ({
        name: p.name,
        version: p.version,
        license: p.license,
        role: p.role,
      })),
      stats: {
        images: plan.images,
        baseEmoji: plan.baseEmoji,
        unmatchedImages: catalog.unmatched.length,
        heldOutEmoji: plan.heldOutEmoji,
        uniqueKeywords: plan.keywords.unique.size,
        heldOutEligibleKeywords: plan.keywords.eligible.size,
        rowGroups: {
          train: countGroups('train'),
          val: countGroups('val'),
          test: countGroups('test'),
        },
      },
    };
  },
};
