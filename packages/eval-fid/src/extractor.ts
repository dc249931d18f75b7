/**
 * The feature-extractor interface and the shared input pipeline (uint8 or [0, 1] float NHWC ->
 * bilinear resize to the network size), plus the weights hash that goes into the fingerprint.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import type { FeatureProtocol } from './protocol';

/** Resize filter of every built-in extractor: torch `F.interpolate(bilinear, align_corners=False)`. */
export const BILINEAR_HALF_PIXEL = 'bilinear(half-pixel,no-antialias)';

/** A network that maps images to feature vectors. */
export interface FeatureExtractor {
  /** How its features are made (extractor id, weights hash, size, resize, dim). */
  readonly protocol: FeatureProtocol;
  /**
   * Features of a batch: `images` is [b, h, w, 3] float32 in [0, 1] at any h, w (the extractor
   * resizes) -> [b, dim] float32. The caller owns the result.
   */
  features(images: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}

/**
 * [b, h, w, 3] in [0, 1] -> [b, size, size, 3] by bilinear interpolation with half-pixel centres
 * and no antialiasing (torch `align_corners=False`, what pytorch-fid does); identity when the size
 * already matches.
 */
export function resizeBilinear(images: tf.Tensor4D, size: number): tf.Tensor4D {
  const [, h, w] = images.shape;
  if (h === size && w === size) return images.clone();
  return tf.image.resizeBilinear(images, [size, size], false, true); // [b, size, size, 3]
}

/** uint8 [b, h, w, 3] pixels -> float32 in [0, 1] (PIL -> ToTensor). */
export function uint8ToUnit(
  pixels: Uint8Array | Uint8ClampedArray,
  b: number,
  h: number,
  w: number,
): tf.Tensor4D {
  if (pixels.length !== b * h * w * 3) {
    throw new RangeError(
      `images: expected ${b}x${h}x${w}x3 = ${b * h * w * 3} bytes, got ${pixels.length}`,
    );
  }
  // float64 v / 255 rounded to float32 equals float32 division (double rounding is innocuous for
  // division when 53 >= 2 * 24 + 2), so this matches torch's `x.float().div(255)` bit for bit.
  const unit = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) unit[i] = pixels[i]! / 255;
  return tf.tensor4d(unit, [b, h, w, 3]);
}

/**
 * `sha256:<hex>` over the tensors' names, shapes, dtypes and float32 bytes, in name order, so the
 * hash does not depend on insertion order or on the file layout the weights came from.
 */
export function hashNamedTensors(tensors: Record<string, tf.Tensor>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]!;
    h.update(`${name}|${t.shape.join('x')}|${t.dtype}\n`);
    const data = t.dataSync();
    h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return `sha256:${h.digest('hex')}`;
}

/** `sha256:<hex>` of raw bytes. */
export function hashBytes(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return `sha256:${h.digest('hex')}`;
}
