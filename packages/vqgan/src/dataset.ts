/**
 * Image sources for training: anything that can return a batch of same-sized images by index.
 */
import type { ImageBatch } from './images';

export interface ImageDataset {
  /** Number of images. */
  readonly size: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Images at `indices` as one NHWC batch (uint8 [0, 255] or float [-1, 1]). */
  batch(indices: readonly number[]): ImageBatch;
}

/** Images held in memory as one uint8 NHWC array. */
export class InMemoryImageDataset implements ImageDataset {
  readonly size: number;

  constructor(
    readonly pixels: Uint8Array,
    readonly height: number,
    readonly width: number,
    readonly channels = 3,
  ) {
    const per = height * width * channels;
    if (!(per > 0) || pixels.length % per !== 0) {
      throw new Error(
        `InMemoryImageDataset: pixels length ${pixels.length} is not a multiple of ${height}x${width}x${channels}`,
      );
    }
    this.size = pixels.length / per;
  }

  batch(indices: readonly number[]): ImageBatch {
    const per = this.height * this.width * this.channels;
    const out = new Uint8Array(indices.length * per);
    indices.forEach((idx, i) => {
      if (!Number.isInteger(idx) || idx < 0 || idx >= this.size) {
        throw new Error(`InMemoryImageDataset.batch: index ${idx} out of range [0, ${this.size})`);
      }
      out.set(this.pixels.subarray(idx * per, (idx + 1) * per), i * per);
    });
    return { data: out, shape: [indices.length, this.height, this.width, this.channels] };
  }
}
