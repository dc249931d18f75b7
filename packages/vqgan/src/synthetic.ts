/**
 * Generated images for tests, demos and the benchmark when no dataset is at hand: flat or
 * two-tone backgrounds with 1-3 coloured discs, squares and triangles, antialiased by 2x2
 * supersampling. Fully determined by the seed.
 */
import { Rng } from '@artist-ts/core/rng';
import { InMemoryImageDataset } from './dataset';

function colour(rng: Rng): [number, number, number] {
  return [rng.int(256), rng.int(256), rng.int(256)];
}

/** `count` RGB images of `size` x `size` as one uint8 NHWC array. */
export function generateShapeImages(
  count: number,
  size: number,
  seed: number | string = 'shapes',
): Uint8Array {
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`generateShapeImages: count must be >= 1, got ${count}`);
  if (!Number.isInteger(size) || size < 4)
    throw new Error(`generateShapeImages: size must be >= 4, got ${size}`);
  const rng = new Rng(seed);
  const out = new Uint8Array(count * size * size * 3);
  const px = new Float64Array(3);
  for (let n = 0; n < count; n++) {
    const bgA = colour(rng);
    const bgB = rng.uniform() < 0.5 ? bgA : colour(rng);
    const split = rng.uniform();
    const shapes = Array.from({ length: 1 + rng.int(3) }, () => ({
      kind: rng.int(3),
      cx: rng.uniform() * size,
      cy: rng.uniform() * size,
      r: size * (0.12 + 0.25 * rng.uniform()),
      c: colour(rng),
    }));
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        px.fill(0);
        for (let sy = 0; sy < 2; sy++) {
          for (let sx = 0; sx < 2; sx++) {
            const fx = x + 0.25 + 0.5 * sx;
            const fy = y + 0.25 + 0.5 * sy;
            let c = fy / size < split ? bgA : bgB;
            for (const s of shapes) {
              const dx = fx - s.cx;
              const dy = fy - s.cy;
              const inside =
                s.kind === 0
                  ? dx * dx + dy * dy <= s.r * s.r
                  : s.kind === 1
                    ? Math.abs(dx) <= s.r * 0.8 && Math.abs(dy) <= s.r * 0.8
                    : dy <= s.r * 0.7 && dy >= -s.r * 0.7 && Math.abs(dx) <= (s.r * 0.7 - dy) * 0.6;
              if (inside) c = s.c;
            }
            px[0] += c[0];
            px[1] += c[1];
            px[2] += c[2];
          }
        }
        const o = ((n * size + y) * size + x) * 3;
        out[o] = Math.round(px[0] / 4);
        out[o + 1] = Math.round(px[1] / 4);
        out[o + 2] = Math.round(px[2] / 4);
      }
    }
  }
  return out;
}

/** A dataset of generated shape images. */
export function syntheticShapesDataset(
  count: number,
  size: number,
  seed: number | string = 'shapes',
): InMemoryImageDataset {
  return new InMemoryImageDataset(generateShapeImages(count, size, seed), size, size, 3);
}
