/**
 * Deterministic scorer for kg-shapes-zh images (generated or real): no learned judge.
 *
 * For each caption the scene (which creatures, where) is known, so:
 * - habitat: the mean colour of the background probe patch (top-left 1/8 x 1/8 patch; for
 *   `{a}在{b}的左边` also the top-right patch for b) is matched to the nearest habitat colour;
 * - colour: every pixel in an object's cell is matched to the nearest of the 8 object + 4 habitat
 *   colours; the most frequent object colour is the prediction;
 * - shape: the object-coloured pixels of the cell form a mask; the prediction is the shape whose
 *   mask, rendered at the slot's known pose, has the highest IoU with it.
 * Ground-truth renders score 100 %; random images score at chance (habitat 1/4, colour and
 * shape 1/8 on balanced captions).
 */
import type { RasterImage } from '../png';
import { type Scene, type Slot, shapeMask, slotCreatures, slotsOf, type Template } from './render';
import { COLOURS, HABITATS, type KgShapesWorld, SHAPES } from './world';

export interface ImageScore {
  scene: Scene;
  /** One entry per habitat probe / per object slot. */
  habitat: boolean[];
  colour: boolean[];
  shape: boolean[];
  predicted: { habitats: string[]; colours: Array<string | null>; shapes: Array<string | null> };
}

export interface ScoreSummary {
  images: number;
  habitatAccuracy: number;
  colourAccuracy: number;
  shapeAccuracy: number;
  /** Fraction of images with every probe and slot right. */
  allCorrect: number;
  chance: { habitat: number; colour: number; shape: number };
}

/** Parses a caption of one of the three templates into a scene. Throws naming the caption. */
export function parseCaption(world: KgShapesWorld, text: string): Scene {
  const byName = new Map(world.creatures.map((c) => [c.name, c.id]));
  const get = (name: string): number => {
    const id = byName.get(name);
    if (id === undefined)
      throw new Error(`kg-shapes-zh: caption "${text}" names unknown creature "${name}"`);
    return id;
  };
  if (text.startsWith('一只')) return { template: 'one', creatures: [get(text.slice(2))] };
  if (text.startsWith('两只')) return { template: 'two', creatures: [get(text.slice(2))] };
  const m = /^(.+)在(.+)的左边$/.exec(text);
  if (m) return { template: 'pair', creatures: [get(m[1]), get(m[2])] };
  throw new Error(`kg-shapes-zh: caption "${text}" matches no template (一只X, 两只X, X在Y的左边)`);
}

function nearest(
  palette: ReadonlyArray<readonly [number, number, number]>,
  r: number,
  g: number,
  b: number,
): number {
  let best = 0;
  let bestD = Number.POSITIVE_INFINITY;
  for (let k = 0; k < palette.length; k++) {
    const p = palette[k];
    const d = (r - p[0]) ** 2 + (g - p[1]) ** 2 + (b - p[2]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

const ALL_COLOURS = [...COLOURS.map((c) => c.rgb), ...HABITATS.map((h) => h.rgb)];
const HABITAT_RGB = HABITATS.map((h) => h.rgb);

const maskCache = new Map<string, Uint8Array[]>();
function templateMasks(slot: Slot, size: number): Uint8Array[] {
  const key = `${slot.cx},${slot.cy},${slot.r},${size}`;
  let masks = maskCache.get(key);
  if (!masks) {
    masks = SHAPES.map((_, s) => shapeMask(s, slot, size));
    maskCache.set(key, masks);
  }
  return masks;
}

function probeHabitat(image: RasterImage, x0: number, size: number): number {
  const p = Math.max(1, Math.round(size / 8));
  const ch = image.channels;
  const sum = [0, 0, 0];
  for (let y = 0; y < p; y++) {
    for (let x = x0; x < x0 + p; x++) {
      const o = (y * size + x) * ch;
      for (let c = 0; c < 3; c++) sum[c] += image.data[o + c];
    }
  }
  const n = p * p;
  return nearest(HABITAT_RGB, sum[0] / n, sum[1] / n, sum[2] / n);
}

/** Scores one image (RGB or RGBA, square, any size >= 8) against its scene. */
export function scoreImage(
  world: KgShapesWorld,
  scene: Scene | string,
  image: RasterImage,
): ImageScore {
  const sc = typeof scene === 'string' ? parseCaption(world, scene) : scene;
  const size = image.width;
  if (image.height !== size || size < 8) {
    throw new Error(
      `kg-shapes-zh scorer: image must be square and at least 8 px, got ${image.width}x${image.height}`,
    );
  }
  const cs = sc.creatures.map((i) => world.creatures[i]);
  const p = Math.max(1, Math.round(size / 8));
  const probes: Array<{ x0: number; truth: number }> = [{ x0: 0, truth: cs[0].habitat }];
  if (sc.template === 'pair') probes.push({ x0: size - p, truth: cs[1].habitat });
  const habitatPred = probes.map((pr) => probeHabitat(image, pr.x0, size));

  const slots = slotsOf(sc.template as Template);
  const who = slotCreatures(sc);
  const colourOk: boolean[] = [];
  const shapeOk: boolean[] = [];
  const colours: Array<string | null> = [];
  const shapes: Array<string | null> = [];
  const ch = image.channels;
  slots.forEach((slot, k) => {
    const truth = world.creatures[who[k]];
    const xa = Math.round(slot.x0 * size);
    const xb = Math.round(slot.x1 * size);
    const counts = new Array<number>(COLOURS.length).fill(0);
    const mask = new Uint8Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = xa; x < xb; x++) {
        const o = (y * size + x) * ch;
        const cls = nearest(ALL_COLOURS, image.data[o], image.data[o + 1], image.data[o + 2]);
        if (cls < COLOURS.length) {
          counts[cls]++;
          mask[y * size + x] = 1;
        }
      }
    }
    let colour = -1;
    let best = 0;
    counts.forEach((n, c) => {
      if (n > best) {
        best = n;
        colour = c;
      }
    });
    let shape = -1;
    if (colour >= 0) {
      let bestIou = -1;
      templateMasks(slot, size).forEach((m, s) => {
        let inter = 0;
        let union = 0;
        for (let y = 0; y < size; y++) {
          for (let x = xa; x < xb; x++) {
            const i = y * size + x;
            inter += m[i] & mask[i];
            union += m[i] | mask[i];
          }
        }
        const iou = union === 0 ? 0 : inter / union;
        if (iou > bestIou) {
          bestIou = iou;
          shape = s;
        }
      });
    }
    colourOk.push(colour === truth.colour);
    shapeOk.push(shape === truth.shape);
    colours.push(colour >= 0 ? COLOURS[colour].name : null);
    shapes.push(shape >= 0 ? SHAPES[shape] : null);
  });
  return {
    scene: sc,
    habitat: habitatPred.map((h, i) => h === probes[i].truth),
    colour: colourOk,
    shape: shapeOk,
    predicted: { habitats: habitatPred.map((h) => HABITATS[h].name), colours, shapes },
  };
}

/** Aggregates image scores (accuracies over probes/slots, micro-averaged). */
export function summariseScores(scores: readonly ImageScore[]): ScoreSummary {
  const frac = (pick: (s: ImageScore) => boolean[]) => {
    let ok = 0;
    let n = 0;
    for (const s of scores) {
      for (const v of pick(s)) {
        n++;
        if (v) ok++;
      }
    }
    return n === 0 ? 0 : ok / n;
  };
  const all = scores.filter((s) => [...s.habitat, ...s.colour, ...s.shape].every(Boolean)).length;
  return {
    images: scores.length,
    habitatAccuracy: frac((s) => s.habitat),
    colourAccuracy: frac((s) => s.colour),
    shapeAccuracy: frac((s) => s.shape),
    allCorrect: scores.length === 0 ? 0 : all / scores.length,
    chance: { habitat: 1 / HABITATS.length, colour: 1 / COLOURS.length, shape: 1 / SHAPES.length },
  };
}

/** Scores many (caption, image) pairs; with `groups`, also per group (e.g. the meta "group" column). */
export function scoreBatch(
  world: KgShapesWorld,
  items: ReadonlyArray<{ caption: string; image: RasterImage; group?: string }>,
): { overall: ScoreSummary; byGroup: Record<string, ScoreSummary>; scores: ImageScore[] } {
  const scores = items.map((it) => scoreImage(world, it.caption, it.image));
  const groups = new Map<string, ImageScore[]>();
  items.forEach((it, i) => {
    if (it.group === undefined) return;
    const list = groups.get(it.group) ?? [];
    list.push(scores[i]);
    groups.set(it.group, list);
  });
  const byGroup: Record<string, ScoreSummary> = {};
  for (const [g, list] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
    byGroup[g] = summariseScores(list);
  return { overall: summariseScores(scores), byGroup, scores };
}
