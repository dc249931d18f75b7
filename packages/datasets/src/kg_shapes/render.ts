/**
 * Pure-JS rasteriser for kg-shapes-zh scenes. Geometry is defined in unit coordinates and sampled
 * at pixel centres with hard edges, so every size renders exactly the palette colours.
 *
 * Layouts (all keep the top-left 1/8 x 1/8 patch pure background: in EasyNLP's ARTIST the
 * knowledge fusion only changes the first image code, which covers that patch):
 * - `one`  (一只{a}):        one object centred, background = habitat of a;
 * - `two`  (两只{a}):        two copies side by side, background = habitat of a;
 * - `pair` ({a}在{b}的左边): a on the left half, b on the right half, each half in its own habitat.
 */
import type { RasterImage } from '../png';
import { COLOURS, HABITATS, type KgShapesWorld, SHAPES } from './world';

export type Template = 'one' | 'two' | 'pair';
export const TEMPLATES: readonly Template[] = ['one', 'two', 'pair'];

export interface Scene {
  template: Template;
  /** Creature indices: [a] for one/two, [a, b] for pair. */
  creatures: number[];
}

export interface Slot {
  cx: number;
  cy: number;
  r: number;
  /** The cell the object belongs to: [x0, x1) in unit coordinates (full height). */
  x0: number;
  x1: number;
}

export const SINGLE_SLOT: Slot = { cx: 0.5, cy: 0.5, r: 0.3, x0: 0, x1: 1 };
export const LEFT_SLOT: Slot = { cx: 0.27, cy: 0.5, r: 0.19, x0: 0, x1: 0.5 };
export const RIGHT_SLOT: Slot = { cx: 0.73, cy: 0.5, r: 0.19, x0: 0.5, x1: 1 };

export function slotsOf(template: Template): Slot[] {
  return template === 'one' ? [SINGLE_SLOT] : [LEFT_SLOT, RIGHT_SLOT];
}

/** Creature drawn in each slot. */
export function slotCreatures(scene: Scene): number[] {
  if (scene.template === 'one') return [scene.creatures[0]];
  if (scene.template === 'two') return [scene.creatures[0], scene.creatures[0]];
  return [scene.creatures[0], scene.creatures[1]];
}

export function captionOf(world: KgShapesWorld, scene: Scene): string {
  const [a, b] = scene.creatures.map((i) => world.creatures[i].name);
  if (scene.template === 'one') return `一只${a}`;
  if (scene.template === 'two') return `两只${a}`;
  return `${a}在${b}的左边`;
}

/** True if unit-offset (u, v) (relative to the centre, in radii) is inside `shape`. */
export function insideShape(shape: number, u: number, v: number): boolean {
  const au = Math.abs(u);
  const av = Math.abs(v);
  switch (shape) {
    case 0: // 圆形 circle
      return u * u + v * v <= 1;
    case 1: // 方形 square
      return au <= 0.82 && av <= 0.82;
    case 2: // 三角形 triangle, apex up
      return v >= -1 && v <= 0.8 && au <= (v + 1) / 1.8;
    case 3: // 菱形 diamond
      return au + av <= 1;
    case 4: // 十字形 cross
      return (au <= 0.3 && av <= 1) || (av <= 0.3 && au <= 1);
    case 5: {
      // 圆环 ring
      const d = u * u + v * v;
      return d <= 1 && d >= 0.55 * 0.55;
    }
    case 6: // 横条 horizontal bar
      return au <= 1 && av <= 0.35;
    case 7: // 竖条 vertical bar
      return av <= 1 && au <= 0.35;
    default:
      throw new RangeError(`unknown shape index ${shape} (0..${SHAPES.length - 1})`);
  }
}

/** The mask of `shape` drawn in `slot` on a size x size grid (1 = inside). */
export function shapeMask(shape: number, slot: Slot, size: number): Uint8Array {
  const mask = new Uint8Array(size * size);
  const rpx = slot.r;
  for (let y = 0; y < size; y++) {
    const v = ((y + 0.5) / size - slot.cy) / rpx;
    if (v < -1.01 || v > 1.01) continue;
    for (let x = 0; x < size; x++) {
      const u = ((x + 0.5) / size - slot.cx) / rpx;
      if (insideShape(shape, u, v)) mask[y * size + x] = 1;
    }
  }
  return mask;
}

/** Renders a scene as an RGB raster of size x size. */
export function renderScene(world: KgShapesWorld, scene: Scene, size: number): RasterImage {
  if (!Number.isInteger(size) || size < 8)
    throw new RangeError(`renderScene: size must be an integer >= 8, got ${size}`);
  const data = new Uint8Array(size * size * 3);
  const cs = scene.creatures.map((i) => {
    const c = world.creatures[i];
    if (!c) throw new RangeError(`renderScene: creature index ${i} out of range`);
    return c;
  });
  const leftBg = HABITATS[cs[0].habitat].rgb;
  const rightBg = scene.template === 'pair' ? HABITATS[cs[1].habitat].rgb : leftBg;
  const half = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const bg = x + 0.5 < half ? leftBg : rightBg;
      const o = (y * size + x) * 3;
      data[o] = bg[0];
      data[o + 1] = bg[1];
      data[o + 2] = bg[2];
    }
  }
  const slots = slotsOf(scene.template);
  const who = slotCreatures(scene);
  slots.forEach((slot, k) => {
    const c = world.creatures[who[k]];
    const mask = shapeMask(c.shape, slot, size);
    const rgb = COLOURS[c.colour].rgb;
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) continue;
      data[i * 3] = rgb[0];
      data[i * 3 + 1] = rgb[1];
      data[i * 3 + 2] = rgb[2];
    }
  });
  return { width: size, height: size, channels: 3, data };
}
