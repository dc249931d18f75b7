import fs from 'node:fs';
import path from 'node:path';
import { buildDataset, readDatasetManifest } from '../src/build';
import { analyseKeywords, planEmojiZh, validateEmojiZhConfig } from '../src/emoji_zh/builder';
import { buildCatalog } from '../src/emoji_zh/catalog';
import { buildEmojiKg } from '../src/emoji_zh/emoji_kg';
import { GROUP_NAMES_ZH, SUBGROUP_NAMES_ZH } from '../src/emoji_zh/names_zh';
import { loadEmojiSources } from '../src/emoji_zh/sources';
import { readOpenKe } from '../src/kg';
import { SPLITS, type SplitName } from '../src/output';
import { decodePngBase64 } from '../src/png';
import { readImageTsv, readMeta } from '../src/read';
import { expectSameTree, tempDir } from './helpers';

const sources = loadEmojiSources(true);
const catalog = buildCatalog(sources);

describe('emoji-zh sources', () => {
  it('joins all 3,786 images (1,911 base + 1,875 variants) with a unique zh label', () => {
    expect(catalog.unmatched).toEqual([]);
    expect(catalog.items).toHaveLength(3786);
    expect(catalog.items.filter((i) => !i.isVariant)).toHaveLength(1911);
    expect(new Set(catalog.items.map((i) => i.label)).size).toBe(3786);
    for (const i of catalog.items) expect(i.label).not.toMatch(/\t|\n|^\s|\s$/);
    const dog = catalog.items.find((i) => i.label === '狗脸')!;
    expect(dog.hex).toBe('1F436');
    expect(dog.tags).toContain('汪星人');
    expect(catalog.items.find((i) => i.rawLabel === '旗: 法国')!.label).toBe('旗:法国');
  });

  it('knows the keywords that name exactly one emoji', () => {
    const k = analyseKeywords(catalog.items);
    expect(k.unique.size).toBeGreaterThan(2500);
    expect(k.eligible.size).toBeGreaterThan(2000);
    const labels = catalog.items.map((i) => i.label);
    const bad = [...k.eligible].filter(
      (t) =>
        !/^[\u3400-\u9fff]{2,}$/.test(t) ||
        labels.some((l) => l.includes(t) || (l.length > 1 && t.includes(l))),
    );
    expect(bad).toEqual([]);
  });
});

describe('emoji-zh knowledge graph', () => {
  const kg = buildEmojiKg(sources, { countryFacts: true });

  it('holds the real facts of the recipe', () => {
    const facts: Array<[string, string, string]> = [
      ['狗脸', '关键词', '汪星人'],
      ['狗脸', '属于子类', '哺乳动物'],
      ['哺乳动物', '属于大类', '动物与自然'],
      ['女消防员', '包含', '女人'],
      ['女消防员', '包含', '消防车'],
      ['挥手:较深肤色', '变体于', '挥手'],
      ['挥手:较深肤色', '包含', '较深肤色'],
      ['旗:法国', '代表地区', '法国'],
      ['法国', '位于', '西欧'],
      ['西欧', '位于', '欧洲'],
      ['法国', '成员', '欧盟'],
      ['法国', '使用货币', '欧元'],
      ['法国', '官方语言', '法语'],
    ];
    for (const [h, r, t] of facts)
      expect(`${h} ${r} ${t}: ${kg.hasTriple(h, r, t)}`).toBe(`${h} ${r} ${t}: true`);
    expect(kg.numTriples).toBeGreaterThan(19000);
    expect(kg.relationCounts()['代表地区']).toBeGreaterThanOrEqual(257);
  });

  it('never merges a group or subgroup with an emoji of the same name', () => {
    const labels = new Set(catalog.items.map((i) => i.label));
    for (const name of [...Object.values(SUBGROUP_NAMES_ZH), ...Object.values(GROUP_NAMES_ZH)]) {
      expect(`${name}: ${labels.has(name)}`).toBe(`${name}: false`);
    }
    expect(new Set(Object.values(SUBGROUP_NAMES_ZH)).size).toBe(
      Object.keys(SUBGROUP_NAMES_ZH).length,
    );
    expect(Object.keys(SUBGROUP_NAMES_ZH).sort()).toEqual(
      Object.values(sources.groups.subgroups).sort(),
    );
  });
});

describe('emoji-zh splits (planned for the full dataset)', () => {
  const kg = buildEmojiKg(sources, { countryFacts: true });
  const config = validateEmojiZhConfig({});
  const plan = planEmojiZh(catalog.items, config, 3);

  it('uses every image once under its name, and each caption names a KG entity', () => {
    const labelRows = new Map<string, SplitName>();
    const problems: string[] = [];
    for (const split of SPLITS) {
      for (const row of plan.splits[split]) {
        if (!kg.has(row.text) || !kg.has(row.entity))
          problems.push(`${split}: ${row.text} not in KG`);
        if (row.kind === 'label') {
          if (row.text !== row.entity)
            problems.push(`${split}: label ${row.text} != ${row.entity}`);
          if (labelRows.has(row.item.hex)) problems.push(`${split}: ${row.item.hex} twice`);
          labelRows.set(row.item.hex, split);
        } else if (!kg.hasTriple(row.entity, '关键词', row.text)) {
          problems.push(`${split}: no (${row.entity}, 关键词, ${row.text})`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(labelRows.size).toBe(3786);
    const total = SPLITS.reduce((n, s) => n + plan.splits[s].length, 0);
    expect(total).toBeGreaterThan(3786 + 2000);
    expect(plan.heldOutEmoji).toBe(Math.round(1911 * 0.05));
  });

  it('keeps held-out keywords and emoji out of train', () => {
    const trainText = new Set(plan.splits.train.map((r) => r.text));
    const trainPictures = new Set(plan.splits.train.map((r) => r.item.hex));
    const problems: string[] = [];
    for (const split of ['val', 'test'] as const) {
      const groups = new Set<string>();
      for (const row of plan.splits[split]) {
        groups.add(row.group);
        if (trainText.has(row.text)) problems.push(`${split}: caption ${row.text} also in train`);
        // Unseen emoji are never pictured in train; unseen keywords point at trained pictures.
        if (trainPictures.has(row.item.hex) !== (row.group === 'unseen-keyword')) {
          problems.push(
            `${split}: ${row.text} (${row.group}) picture in train: ${trainPictures.has(row.item.hex)}`,
          );
        }
      }
      expect([...groups].sort()).toEqual(['unseen-emoji', 'unseen-keyword']);
    }
    expect(problems).toEqual([]);
    const testKeywords = plan.splits.test.filter((r) => r.group === 'unseen-keyword').length;
    expect(testKeywords).toBeGreaterThan(300);
  });

  it('follows the config', () => {
    const noVariants = planEmojiZh(
      catalog.items,
      validateEmojiZhConfig({ includeVariants: false, keywordCaptions: false }),
      3,
    );
    expect(noVariants.images).toBe(1911);
    expect(noVariants.splits.train.every((r) => r.kind === 'label' && !r.item.isVariant)).toBe(
      true,
    );
    expect(planEmojiZh(catalog.items, config, 4).splits.test.map((r) => r.text)).not.toEqual(
      plan.splits.test.map((r) => r.text),
    );
  });
});

describe('buildDataset("emoji-zh")', () => {
  const root = tempDir('emoji');
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it.each([32, 64])(
    'writes the planned rows as images that decode at %i px, deterministically',
    async (size) => {
      const a = path.join(root, `a${size}`);
      const b = path.join(root, `b${size}`);
      await buildDataset('emoji-zh', { out: a, size, seed: 3, limit: 12 });
      await buildDataset('emoji-zh', { out: b, size, seed: 3, limit: 12 });
      expectSameTree(a, b);
      const m = readDatasetManifest(a);
      expect(m.counts).toEqual({ train: 12, val: 12, test: 12 });
      expect(m.sources.map((s) => `${s.name}@${s.version}`)).toEqual([
        'emoji-datasource-google@16.0.0',
        'emojibase-data@17.0.0',
        'cldr-core@48.2.0',
        'cldr-localenames-full@48.2.0',
        'cldr-numbers-full@48.2.0',
      ]);
      const plan = planEmojiZh(catalog.items, validateEmojiZhConfig({}), 3, 12);
      for (const split of SPLITS) {
        const rows = readImageTsv(path.join(a, `${split}.tsv`));
        const meta = readMeta(a, split);
        expect(rows.map((r) => r.text)).toEqual(plan.splits[split].map((r) => r.text));
        for (const row of rows) {
          expect(meta.get(row.idx)!.emoji).toBe(plan.splits[split][Number(row.idx)].item.hex);
          const img = decodePngBase64(row.images[0]);
          expect([img.width, img.height]).toEqual([size, size]);
          // The corner of every emoji is white background, fully opaque.
          expect(Array.from(img.data.subarray(0, 4))).toEqual([255, 255, 255, 255]);
        }
      }
      const { triples } = readOpenKe(path.join(a, 'kg'));
      expect(triples.length).toBe(m.kg.triples);
    },
  );

  it('writes a NOTICE with every source license', async () => {
    const dir = path.join(root, 'notice');
    await buildDataset('emoji-zh', { out: dir, size: 8, seed: 1, limit: 1 });
    const notice = fs.readFileSync(path.join(dir, 'NOTICE'), 'utf8');
    expect(notice).toMatch(/Apache License, Version 2\.0/);
    expect(notice).toMatch(/emoji-datasource-google@16\.0\.0 \(MIT\)/);
    expect(notice).toMatch(/emojibase-data@17\.0\.0 \(MIT\)/);
    expect(notice).toMatch(/cldr-core@48\.2\.0 \(Unicode-3\.0\)/);
    expect(notice).toMatch(/UNICODE LICENSE V3/);
  });

  it('names bad config fields', async () => {
    await expect(
      buildDataset('emoji-zh', {
        out: path.join(root, 'bad'),
        config: { heldOutEmojiFraction: 2 },
      }),
    ).rejects.toThrow(/heldOutEmojiFraction/);
    await expect(
      buildDataset('emoji-zh', {
        out: path.join(root, 'bad'),
        config: { valKeywordFraction: 0.6, testKeywordFraction: 0.5 },
      }),
    ).rejects.toThrow(/valKeywordFraction \+ testKeywordFraction/);
    await expect(
      buildDataset('emoji-zh', { out: path.join(root, 'bad'), size: 1024 }),
    ).rejects.toThrow(/\[8, 512\]/);
  });
});
