/**
 * The kg-shapes-zh world: 64 creatures with opaque two-character names, one per (colour, shape)
 * pair, each living in one of 4 habitats. What a creature looks like is stated only in the KG
 * (颜色是, 形状是, 生活在); captions carry nothing but its name. 16 "unseen" creatures (2 per
 * colour and 2 per shape) never appear in training images.
 */
import { Rng } from '@artist-ts/core/rng';

export type Rgb = readonly [number, number, number];

export const COLOURS: ReadonlyArray<{ name: string; rgb: Rgb }> = [
  { name: '红色', rgb: [220, 30, 30] },
  { name: '橙色', rgb: [245, 140, 20] },
  { name: '黄色', rgb: [235, 215, 20] },
  { name: '绿色', rgb: [30, 150, 50] },
  { name: '青色', rgb: [0, 190, 190] },
  { name: '蓝色', rgb: [30, 60, 220] },
  { name: '紫色', rgb: [140, 40, 180] },
  { name: '黑色', rgb: [25, 25, 25] },
];

export const SHAPES: readonly string[] = [
  '圆形',
  '方形',
  '三角形',
  '菱形',
  '十字形',
  '圆环',
  '横条',
  '竖条',
];

export const HABITATS: ReadonlyArray<{ name: string; rgb: Rgb }> = [
  { name: '海洋', rgb: [165, 205, 245] }, // light blue
  { name: '森林', rgb: [170, 225, 155] }, // light green
  { name: '沙漠', rgb: [235, 205, 150] }, // sand
  { name: '雪原', rgb: [250, 250, 250] }, // white
];

/** Characters of the opaque transliteration names (none of them appears in the caption templates). */
export const NAME_CHARS = '阿贝科达尔弗格赫伊吉卡拉玛纳欧帕奇瑞萨塔乌维西亚泽博摩洛';

export const RELATIONS = {
  colour: '颜色是',
  shape: '形状是',
  habitat: '生活在',
  enemy: '天敌是',
  clan: '属于',
} as const;

export interface Creature {
  id: number; // colour * 8 + shape
  name: string;
  colour: number;
  shape: number;
  habitat: number;
  seen: boolean;
  /** Distractor fact: another creature's index. */
  enemy: number;
}

export interface KgShapesWorld {
  seed: number | string;
  creatures: Creature[];
}

/** Creates the world deterministically from `seed`. */
export function createWorld(seed: number | string): KgShapesWorld {
  const rng = new Rng(seed).fork('kg-shapes-zh/world');
  // Names: distinct two-character strings, first come first served in a seeded order.
  const chars = [...NAME_CHARS];
  const names: string[] = [];
  for (const a of chars) for (const b of chars) if (a !== b) names.push(a + b);
  rng.shuffle(names);
  // Unseen: a seeded permutation p of shapes; colour c hides shapes p[c] and p[c+1], so every
  // colour and every shape has exactly 2 unseen creatures.
  const perm = Array.from(rng.permutation(SHAPES.length));
  const unseen = new Set<number>();
  for (let c = 0; c < COLOURS.length; c++) {
    unseen.add(c * 8 + perm[c]);
    unseen.add(c * 8 + perm[(c + 1) % SHAPES.length]);
  }
  // Habitats balanced within the seen (12 each) and unseen (4 each) creatures.
  const balanced = (n: number) =>
    rng.shuffle(Array.from({ length: n }, (_, i) => i % HABITATS.length));
  const seenHabitats = balanced(64 - unseen.size);
  const unseenHabitats = balanced(unseen.size);
  const creatures: Creature[] = [];
  for (let c = 0; c < COLOURS.length; c++) {
    for (let s = 0; s < SHAPES.length; s++) {
      const id = c * 8 + s;
      const isSeen = !unseen.has(id);
      creatures.push({
        id,
        name: names[id],
        colour: c,
        shape: s,
        habitat: isSeen ? seenHabitats.pop()! : unseenHabitats.pop()!,
        seen: isSeen,
        enemy: -1,
      });
    }
  }
  for (const cr of creatures) {
    let e = rng.int(creatures.length - 1);
    if (e >= cr.id) e++;
    cr.enemy = e;
  }
  return { seed, creatures };
}

/** Serialisable form written to `world.json` (names, attributes by their Chinese names). */
export interface WorldJson {
  format: 'kg-shapes-zh-world';
  seed: number | string;
  colours: Array<{ name: string; rgb: Rgb }>;
  shapes: string[];
  habitats: Array<{ name: string; rgb: Rgb }>;
  creatures: Array<{
    name: string;
    colour: string;
    shape: string;
    habitat: string;
    seen: boolean;
    enemy: string;
  }>;
}

export function worldToJson(world: KgShapesWorld): WorldJson {
  return {
    format: 'kg-shapes-zh-world',
    seed: world.seed,
    colours: COLOURS.map((c) => ({ name: c.name, rgb: c.rgb })),
    shapes: [...SHAPES],
    habitats: HABITATS.map((h) => ({ name: h.name, rgb: h.rgb })),
    creatures: world.creatures.map((c) => ({
      name: c.name,
      colour: COLOURS[c.colour].name,
      shape: SHAPES[c.shape],
      habitat: HABITATS[c.habitat].name,
      seen: c.seen,
      enemy: world.creatures[c.enemy].name,
    })),
  };
}

export function worldFromJson(json: WorldJson, source = 'world.json'): KgShapesWorld {
  if (json?.format !== 'kg-shapes-zh-world')
    throw new Error(`${source}: field "format" is not "kg-shapes-zh-world"`);
  const index = (list: readonly string[], value: string, field: string, i: number) => {
    const k = list.indexOf(value);
    if (k < 0)
      throw new Error(
        `${source}: creatures[${i}].${field} "${value}" is not one of ${list.join(', ')}`,
      );
    return k;
  };
  const names = json.creatures.map((c) => c.name);
  const creatures = json.creatures.map((c, i) => ({
    id: i,
    name: c.name,
    colour: index(
      COLOURS.map((x) => x.name),
      c.colour,
      'colour',
      i,
    ),
    shape: index(SHAPES, c.shape, 'shape', i),
    habitat: index(
      HABITATS.map((x) => x.name),
      c.habitat,
      'habitat',
      i,
    ),
    seen: c.seen === true,
    enemy: index(names, c.enemy, 'enemy', i),
  }));
  return { seed: json.seed, creatures };
}
