/**
 * `kg-shapes-zh`: a seeded synthetic set where only the KG says what to draw (data-sources.md
 * §6a). Splits:
 * - train: `trainRows` captions over the 48 seen creatures (一只/两只/在…的左边, weighted by
 *   `templateWeights`), never using the held-out pairs;
 * - val: every seen creature alone ("seen-one") + half of the held-out seen pairs ("heldout-pair");
 * - test: every unseen creature alone and doubled ("unseen-one", "unseen-two"), each unseen
 *   creature left and right of a seen one ("unseen-pair"), and the other held-out seen pairs.
 */
import { Rng } from '@artist-ts/core/rng';
import { KnowledgeGraph } from '../kg';
import type { DatasetRow, SplitName } from '../output';
import { stableJson } from '../output';
import { encodePng } from '../png';
import type { BuiltDataset, DatasetBuilder, ResolvedBuildOptions } from '../types';
import { captionOf, renderScene, type Scene } from './render';
import {
  COLOURS,
  createWorld,
  HABITATS,
  type KgShapesWorld,
  RELATIONS,
  SHAPES,
  worldToJson,
} from './world';

export interface KgShapesZhConfig {
  /** Training rows (sampled with replacement over seen scenes). Default 8000. */
  trainRows: number;
  /** Relative frequency of the caption templates in train. Default one 0.3, two 0.2, pair 0.5. */
  templateWeights: { one: number; two: number; pair: number };
  /** Ordered seen pairs kept out of train, split evenly into val and test. Default 64. */
  heldOutPairs: number;
  /** Add the two-hop variant: (creature, 属于, clan) + (clan, 颜色是, colour) instead of the direct colour edge. Default false. */
  twoHopColour: boolean;
  /** zlib level of the PNGs (0-9). Default 6. */
  pngLevel: number;
}

export const DEFAULT_KG_SHAPES_ZH_CONFIG: Readonly<KgShapesZhConfig> = Object.freeze({
  trainRows: 8000,
  templateWeights: Object.freeze({ one: 0.3, two: 0.2, pair: 0.5 }),
  heldOutPairs: 64,
  twoHopColour: false,
  pngLevel: 6,
});

const KEYS = Object.keys(DEFAULT_KG_SHAPES_ZH_CONFIG) as Array<keyof KgShapesZhConfig>;
const SEEN_PAIRS = 48 * 47;

export function validateKgShapesZhConfig(
  config: Partial<KgShapesZhConfig> | undefined,
): KgShapesZhConfig {
  for (const key of Object.keys(config ?? {})) {
    if (!KEYS.includes(key as keyof KgShapesZhConfig)) {
      throw new Error(`kg-shapes-zh config: unknown field "${key}" (allowed: ${KEYS.join(', ')})`);
    }
  }
  const c: KgShapesZhConfig = {
    ...DEFAULT_KG_SHAPES_ZH_CONFIG,
    ...(config ?? {}),
    templateWeights: {
      ...DEFAULT_KG_SHAPES_ZH_CONFIG.templateWeights,
      ...(config?.templateWeights ?? {}),
    },
  };
  if (!Number.isInteger(c.trainRows) || c.trainRows < 1) {
    throw new Error(
      `kg-shapes-zh config: trainRows must be a positive integer, got ${c.trainRows}`,
    );
  }
  const w = c.templateWeights;
  for (const k of ['one', 'two', 'pair'] as const) {
    if (typeof w[k] !== 'number' || !(w[k] >= 0) || !Number.isFinite(w[k])) {
      throw new Error(
        `kg-shapes-zh config: templateWeights.${k} must be a finite number >= 0, got ${w[k]}`,
      );
    }
  }
  if (w.one + w.two + w.pair <= 0)
    throw new Error('kg-shapes-zh config: templateWeights must not all be 0');
  if (!Number.isInteger(c.heldOutPairs) || c.heldOutPairs < 0 || c.heldOutPairs > SEEN_PAIRS / 2) {
    throw new Error(
      `kg-shapes-zh config: heldOutPairs must be an integer in [0, ${SEEN_PAIRS / 2}], got ${c.heldOutPairs}`,
    );
  }
  if (typeof c.twoHopColour !== 'boolean') {
    throw new Error(
      `kg-shapes-zh config: twoHopColour must be true or false, got ${c.twoHopColour}`,
    );
  }
  if (!Number.isInteger(c.pngLevel) || c.pngLevel < 0 || c.pngLevel > 9) {
    throw new Error(`kg-shapes-zh config: pngLevel must be an integer 0..9, got ${c.pngLevel}`);
  }
  return c;
}

/** Clan names of the two-hop variant (one per colour; 3 characters, so never a creature name). */
export const CLAN_NAMES: readonly string[] = [
  '赤焰族',
  '橘光族',
  '金沙族',
  '翠叶族',
  '碧波族',
  '苍穹族',
  '紫霞族',
  '墨影族',
];

/** The KG of a world: 4 facts per creature (colour, shape, habitat, distractor enemy). */
export function buildKgShapesKg(world: KgShapesWorld, twoHopColour = false): KnowledgeGraph {
  const kg = new KnowledgeGraph();
  for (const c of world.creatures) kg.entity(c.name, 'creature');
  for (const col of COLOURS) kg.entity(col.name, 'colour');
  for (const s of SHAPES) kg.entity(s, 'shape');
  for (const h of HABITATS) kg.entity(h.name, 'habitat');
  if (twoHopColour) for (const n of CLAN_NAMES) kg.entity(n, 'clan');
  for (const c of world.creatures) {
    if (twoHopColour) kg.add(c.name, RELATIONS.clan, CLAN_NAMES[c.colour]);
    else kg.add(c.name, RELATIONS.colour, COLOURS[c.colour].name);
    kg.add(c.name, RELATIONS.shape, SHAPES[c.shape]);
    kg.add(c.name, RELATIONS.habitat, HABITATS[c.habitat].name);
    kg.add(c.name, RELATIONS.enemy, world.creatures[c.enemy].name);
  }
  if (twoHopColour) {
    for (let i = 0; i < CLAN_NAMES.length; i++)
      kg.add(CLAN_NAMES[i], RELATIONS.colour, COLOURS[i].name);
  }
  return kg;
}

interface PlannedScene {
  scene: Scene;
  group: string;
}

export function planKgShapesSplits(
  world: KgShapesWorld,
  config: KgShapesZhConfig,
  seed: number | string,
): Record<SplitName, PlannedScene[]> {
  const rng = new Rng(seed).fork('kg-shapes-zh/splits');
  const seen = world.creatures.filter((c) => c.seen).map((c) => c.id);
  const unseen = world.creatures.filter((c) => !c.seen).map((c) => c.id);
  const pairs: Array<[number, number]> = [];
  for (const a of seen) for (const b of seen) if (a !== b) pairs.push([a, b]);
  rng.shuffle(pairs);
  const held = pairs.slice(0, config.heldOutPairs);
  const trainPairs = pairs.slice(config.heldOutPairs);
  const half = Math.ceil(held.length / 2);

  const val: PlannedScene[] = [
    ...seen.map((id) => ({
      scene: { template: 'one' as const, creatures: [id] },
      group: 'seen-one',
    })),
    ...held
      .slice(0, half)
      .map((p) => ({ scene: { template: 'pair' as const, creatures: p }, group: 'heldout-pair' })),
  ];
  const test: PlannedScene[] = [
    ...unseen.map((id) => ({
      scene: { template: 'one' as const, creatures: [id] },
      group: 'unseen-one',
    })),
    ...unseen.map((id) => ({
      scene: { template: 'two' as const, creatures: [id] },
      group: 'unseen-two',
    })),
  ];
  for (const u of unseen) {
    const s1 = seen[rng.int(seen.length)];
    const s2 = seen[rng.int(seen.length)];
    test.push({ scene: { template: 'pair', creatures: [u, s1] }, group: 'unseen-pair' });
    test.push({ scene: { template: 'pair', creatures: [s2, u] }, group: 'unseen-pair' });
  }
  test.push(
    ...held
      .slice(half)
      .map((p) => ({ scene: { template: 'pair' as const, creatures: p }, group: 'heldout-pair' })),
  );

  const w = config.templateWeights;
  const weights = [w.one, w.two, w.pair];
  const train: PlannedScene[] = [];
  for (let i = 0; i < config.trainRows; i++) {
    const t = rng.categorical(weights);
    if (t === 2 && trainPairs.length > 0) {
      train.push({
        scene: { template: 'pair', creatures: [...trainPairs[rng.int(trainPairs.length)]] },
        group: 'seen-pair',
      });
    } else {
      const id = seen[rng.int(seen.length)];
      const template = t === 1 ? 'two' : 'one';
      train.push({ scene: { template, creatures: [id] }, group: `seen-${template}` });
    }
  }
  rng.fork('order/val').shuffle(val);
  rng.fork('order/test').shuffle(test);
  return { train, val, test };
}

const NOTICE = `kg-shapes-zh dataset, generated by @artist-ts/datasets from a seed.

Every image, caption and triple is produced by the package's own code (no third-party data), and
is dedicated to the public domain (CC0-1.0) by the artist-ts authors.
`;

export const kgShapesZhBuilder: DatasetBuilder<KgShapesZhConfig> = {
  name: 'kg-shapes-zh',
  description:
    'Synthetic knowledge-ablation set: creatures with opaque Chinese names whose colour, shape and habitat are stated only in the KG; 16 creatures never appear in training images',
  defaultSize: 32,
  minSize: 16,
  maxSize: 1024,
  license: 'CC0-1.0',
  defaultConfig: DEFAULT_KG_SHAPES_ZH_CONFIG,
  validateConfig: validateKgShapesZhConfig,

  async build(opts: ResolvedBuildOptions<KgShapesZhConfig>): Promise<BuiltDataset> {
    const { config, size, seed, limit } = opts;
    opts.progress({ stage: 'kg', done: 0, total: 1 });
    const world = createWorld(seed);
    const kg = buildKgShapesKg(world, config.twoHopColour);
    opts.progress({ stage: 'kg', done: 1, total: 1 });
    const planned = planKgShapesSplits(world, config, seed);
    for (const split of ['train', 'val', 'test'] as const) {
      if (limit !== null && planned[split].length > limit) planned[split].length = limit;
    }
    const total = planned.train.length + planned.val.length + planned.test.length;
    const cache = new Map<string, Uint8Array>();
    let done = 0;
    const rowsOf = (split: SplitName) =>
      function* (): Generator<DatasetRow> {
        for (const p of planned[split]) {
          const caption = captionOf(world, p.scene);
          let png = cache.get(caption);
          if (!png) {
            png = encodePng(renderScene(world, p.scene, size), { level: config.pngLevel });
            cache.set(caption, png);
          }
          done++;
          if (done % 1000 === 0 || done === total)
            opts.progress({ stage: 'images', done, total, split });
          const cs = p.scene.creatures.map((i) => world.creatures[i]);
          yield {
            text: caption,
            png,
            meta: {
              template: p.scene.template,
              group: p.group,
              entities: cs.map((c) => c.name).join(','),
              colours: cs.map((c) => COLOURS[c.colour].name).join(','),
              shapes: cs.map((c) => SHAPES[c.shape]).join(','),
              habitats: cs.map((c) => HABITATS[c.habitat].name).join(','),
            },
          };
        }
      };
    const groups = (split: SplitName) => {
      const counts: Record<string, number> = {};
      for (const p of planned[split]) counts[p.group] = (counts[p.group] ?? 0) + 1;
      return counts;
    };
    return {
      config: { ...config, templateWeights: { ...config.templateWeights } },
      metaColumns: ['template', 'group', 'entities', 'colours', 'shapes', 'habitats'],
      splits: {
        train: { count: planned.train.length, rows: rowsOf('train') },
        val: { count: planned.val.length, rows: rowsOf('val') },
        test: { count: planned.test.length, rows: rowsOf('test') },
      },
      kg,
      notice: NOTICE,
      sources: [],
      extraFiles: { 'world.json': stableJson(worldToJson(world)) },
      stats: {
        creatures: world.creatures.length,
        seen: world.creatures.filter((c) => c.seen).length,
        unseen: world.creatures.filter((c) => !c.seen).length,
        rowGroups: { train: groups('train'), val: groups('val'), test: groups('test') },
      },
    };
  },
};
