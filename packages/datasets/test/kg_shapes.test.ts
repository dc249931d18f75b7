import { Rng } from '@artist-ts/core/rng';
import {
  COLOURS,
  captionOf,
  createWorld,
  HABITATS,
  LEFT_SLOT,
  NAME_CHARS,
  parseCaption,
  RIGHT_SLOT,
  renderScene,
  type Scene,
  SHAPES,
  SINGLE_SLOT,
  scoreBatch,
  scoreImage,
  shapeMask,
  summariseScores,
  worldFromJson,
  worldToJson,
} from '../src/kg_shapes';
import type { RasterImage } from '../src/png';

const world = createWorld(7);

function allScenes(): Scene[] {
  const scenes: Scene[] = [];
  for (const c of world.creatures) {
    scenes.push({ template: 'one', creatures: [c.id] });
    scenes.push({ template: 'two', creatures: [c.id] });
    scenes.push({ template: 'pair', creatures: [c.id, (c.id * 5 + 3) % 64] });
  }
  return scenes.filter((s) => s.creatures[0] !== s.creatures[1]);
}

describe('kg-shapes-zh world', () => {
  it('has 64 creatures, one per (colour, shape), with distinct opaque names', () => {
    expect(world.creatures).toHaveLength(64);
    const names = new Set(world.creatures.map((c) => c.name));
    expect(names.size).toBe(64);
    for (const c of world.creatures) {
      expect(c.name).toHaveLength(2);
      expect([...c.name].every((ch) => NAME_CHARS.includes(ch))).toBe(true);
      expect(c.id).toBe(c.colour * 8 + c.shape);
      expect(c.enemy).not.toBe(c.id);
    }
  });

  it('hides 2 creatures per colour and per shape, with habitats balanced', () => {
    const unseen = world.creatures.filter((c) => !c.seen);
    expect(unseen).toHaveLength(16);
    for (let k = 0; k < 8; k++) {
      expect(unseen.filter((c) => c.colour === k)).toHaveLength(2);
      expect(unseen.filter((c) => c.shape === k)).toHaveLength(2);
    }
    for (let h = 0; h < 4; h++) {
      expect(unseen.filter((c) => c.habitat === h)).toHaveLength(4);
      expect(world.creatures.filter((c) => c.seen && c.habitat === h)).toHaveLength(12);
    }
  });

  it('is a pure function of the seed and survives world.json', () => {
    expect(createWorld(7)).toEqual(world);
    expect(createWorld(8).creatures.map((c) => c.name)).not.toEqual(
      world.creatures.map((c) => c.name),
    );
    expect(worldFromJson(JSON.parse(JSON.stringify(worldToJson(world))))).toEqual(world);
  });

  it('rejects a world.json with an unknown attribute, naming the field', () => {
    const json = worldToJson(world);
    json.creatures[3].colour = '粉色';
    expect(() => worldFromJson(json, 'w.json')).toThrow(/w\.json: creatures\[3\]\.colour "粉色"/);
  });
});

describe('kg-shapes-zh rendering', () => {
  it.each([16, 32, 64])('draws 8 distinct shape masks in every slot at %i px', (size) => {
    for (const slot of [SINGLE_SLOT, LEFT_SLOT, RIGHT_SLOT]) {
      const masks = SHAPES.map((_, s) => shapeMask(s, slot, size));
      for (let a = 0; a < 8; a++) {
        expect(masks[a].reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
        for (let b = a + 1; b < 8; b++) expect(Buffer.compare(masks[a], masks[b])).not.toBe(0);
      }
    }
  });

  it('keeps the top-left patch pure habitat colour and uses only palette colours', () => {
    const palette = new Set([...COLOURS, ...HABITATS].map((c) => c.rgb.join(',')));
    const pixel = (img: RasterImage, i: number) =>
      Array.from(img.data.subarray(i * 3, i * 3 + 3)).join(',');
    let badPatch = 0;
    let offPalette = 0;
    for (const scene of allScenes().slice(0, 40)) {
      const img = renderScene(world, scene, 32);
      const bg = HABITATS[world.creatures[scene.creatures[0]].habitat].rgb.join(',');
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 4; x++) if (pixel(img, y * 32 + x) !== bg) badPatch++;
      for (let i = 0; i < 32 * 32; i++) if (!palette.has(pixel(img, i))) offPalette++;
    }
    expect(badPatch).toBe(0);
    expect(offPalette).toBe(0);
  });

  it('writes captions that parse back to the same scene', () => {
    for (const scene of allScenes())
      expect(parseCaption(world, captionOf(world, scene))).toEqual(scene);
    expect(() => parseCaption(world, '三只阿贝')).toThrow(/matches no template/);
    expect(() => parseCaption(world, '一只小猫')).toThrow(/unknown creature "小猫"/);
  });
});

describe('kg-shapes-zh scorer', () => {
  it.each([16, 32, 64])('gives 100 %% on ground-truth renders at %i px', (size) => {
    const scenes = allScenes();
    const { overall } = scoreBatch(
      world,
      scenes.map((s) => ({ caption: captionOf(world, s), image: renderScene(world, s, size) })),
    );
    expect(overall).toMatchObject({
      images: scenes.length,
      habitatAccuracy: 1,
      colourAccuracy: 1,
      shapeAccuracy: 1,
      allCorrect: 1,
    });
  });

  it('scores RGBA images and reports what it saw', () => {
    const scene: Scene = { template: 'pair', creatures: [0, 9] };
    const rgb = renderScene(world, scene, 32);
    const rgba: RasterImage = {
      width: 32,
      height: 32,
      channels: 4,
      data: new Uint8Array(32 * 32 * 4).fill(255),
    };
    for (let i = 0; i < 32 * 32; i++) rgba.data.set(rgb.data.subarray(i * 3, i * 3 + 3), i * 4);
    const s = scoreImage(world, scene, rgba);
    expect(s.predicted.colours).toEqual([COLOURS[0].name, COLOURS[1].name]);
    expect(s.predicted.shapes).toEqual([SHAPES[0], SHAPES[1]]);
    expect(s.habitat).toEqual([true, true]);
  });

  it('is at chance on renders of random other creatures', () => {
    const rng = new Rng('chance');
    const items = [];
    for (let i = 0; i < 1500; i++) {
      const truth = rng.int(64);
      const drawn = rng.int(64);
      items.push({
        caption: captionOf(world, { template: 'one', creatures: [truth] }),
        image: renderScene(world, { template: 'one', creatures: [drawn] }, 32),
      });
    }
    const { overall } = scoreBatch(world, items);
    // Standard errors: habitat 0.011, colour/shape 0.0085; allow about 4 of them.
    expect(Math.abs(overall.habitatAccuracy - 0.25)).toBeLessThan(0.045);
    expect(Math.abs(overall.colourAccuracy - 0.125)).toBeLessThan(0.035);
    expect(Math.abs(overall.shapeAccuracy - 0.125)).toBeLessThan(0.035);
  });

  it('is at chance on uniform noise images over balanced captions', () => {
    const rng = new Rng('noise');
    const scores = world.creatures.map((c) => {
      const data = new Uint8Array(32 * 32 * 3);
      for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
      return scoreImage(
        world,
        { template: 'one', creatures: [c.id] },
        { width: 32, height: 32, channels: 3, data },
      );
    });
    const sum = summariseScores(scores);
    expect(sum.habitatAccuracy).toBeLessThanOrEqual(0.25 + 0.1);
    expect(sum.colourAccuracy).toBeLessThanOrEqual(0.125 + 0.1);
    expect(sum.shapeAccuracy).toBeLessThanOrEqual(0.125 + 0.1);
    expect(sum.allCorrect).toBeLessThan(0.05);
    expect(sum.chance).toEqual({ habitat: 0.25, colour: 0.125, shape: 0.125 });
  });

  it('rejects non-square images', () => {
    const img: RasterImage = {
      width: 32,
      height: 16,
      channels: 3,
      data: new Uint8Array(32 * 16 * 3),
    };
    expect(() => scoreImage(world, '一只' + world.creatures[0].name, img)).toThrow(/square/);
  });
});
